package engine

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Options are the engine settings a backend is opened with. Settings that do
// not apply to a backend are ignored by it (a GPU backend has no BLAS
// choice). The zero value of each field is its default; for the CPU
// engine's per-process settings (BLAS, BLASThreads, NoSIMD) it means "leave
// the process as it is", so opening a default backend undoes no choice.
type Options struct {
	// Workers is the number of goroutines a model splits its work over
	// (0: all CPUs). Results depend on it through the order of partial
	// sums, so a seed reproduces a run only with the same count.
	Workers int
	// NoFusion runs layers the backend would fuse (BN followed by ReLU) one
	// by one, for comparing both paths.
	NoFusion bool
	// NoWinograd runs 3x3 convolutions the direct way (im2col) even where
	// the backend would use Winograd's fewer multiplies, for comparing both.
	NoWinograd bool
	// NoSIMD forces portable kernels instead of the CPU's vector
	// instructions.
	NoSIMD bool
	// BLAS chooses the matrix-multiply library: "auto" (or ""), "openblas"
	// (an error when it cannot be loaded) or "gonum" (pure Go).
	BLAS string
	// BLASThreads is the BLAS library's own thread count (0: the backend's
	// default, 1 for the CPU engine, which parallelises over images itself).
	BLASThreads int
}

// Optimizer is SGD with momentum (optionally Nesterov) and L2 weight decay
// on weights (RoleWeight parameters only): g' = g + wd*w; v = mu*v + g';
// w -= lr * (nesterov ? g' + mu*v : v).
type Optimizer struct {
	Momentum    float32
	Nesterov    bool
	WeightDecay float32
}

// ModelConfig says how to build a Model.
type ModelConfig struct {
	// MaxBatch is the largest batch Forward accepts (at least 1).
	MaxBatch int
	// Seed drives dropout masks. Two models built from the same graph,
	// parameters, config and Options and fed the same batches must produce
	// bit-identical results.
	Seed int64
	// Optimizer is what Step applies.
	Optimizer Optimizer
}

// Backend builds models. Implementations must be safe for concurrent Build
// calls; the models they return are used by one goroutine at a time.
type Backend interface {
	// Name is the registry name ("cpu").
	Name() string
	// Describe is one line for logs: libraries, kernels, workers.
	Describe() string
	// Build prepares graph g with initial parameters params, which must hold
	// every parameter of g.Params() with its shape; the error names the
	// first missing or misshaped one. A backend may use the tensors of
	// params in place (the CPU engine does) or copy them: callers read the
	// current values with Model.ReadParams.
	Build(g *ir.Graph, params tensor.Map, c ModelConfig) (Model, error)
}

// Model is one network on a backend: forward, loss, backward, optimiser step,
// and reading the state back.
type Model interface {
	// MaxBatch is the largest batch Forward accepts.
	MaxBatch() int
	// Forward runs the network on x ([B,C,H,W], 1 <= B <= MaxBatch) and
	// returns the logits [B, classes], valid until the next call. In training
	// mode BN uses batch statistics (biased variance) and updates its running
	// statistics (momentum 0.1, unbiased variance), and dropout is active; in
	// evaluation mode BN uses the running statistics and dropout is the
	// identity.
	Forward(x *tensor.Tensor, train bool) *tensor.Tensor
	// Loss is the mean softmax cross-entropy of the last Forward against
	// labels and the number of correct predictions; it seeds Backward.
	Loss(labels []int32) (loss float64, correct int)
	// Backward computes the gradients of the last Loss.
	Backward()
	// Step applies the optimiser with learning rate lr to the gradients of
	// the last Backward.
	Step(lr float32)
	// Grads returns the gradients of the last Backward by trainable
	// parameter name (host memory; valid until the next Backward).
	Grads() map[string][]float32
	// Output returns node id's activations for the last Forward ([B, size]
	// in host memory), or nil when the backend does not keep them (a BN
	// fused with its ReLU).
	Output(id int) []float32
	// ReadParams copies the current value of every parameter, BN running
	// statistics included, into dst, adding missing entries. Tensors of dst
	// that a backend trains in place are left as they are.
	ReadParams(dst tensor.Map) error
	// OptState returns the optimiser state (momentum buffers keyed
	// "momentum.<param>") for checkpoints; SetOptState restores it (missing
	// or misshaped entries stay zero).
	OptState() tensor.Map
	SetOptState(tensor.Map)
	// Close releases what the model holds (device memory); the model is not
	// used afterwards.
	Close()
}

// Default is the name of the backend used when none is chosen.
const Default = "cpu"

// Factory opens a backend with options.
type Factory func(Options) (Backend, error)

var (
	regMu    sync.Mutex
	registry = map[string]Factory{}
)

// Register makes a backend available by name; backends call it from init.
// Registering a name twice is a programmer error and panics.
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("engine: backend " + name + " registered twice")
	}
	registry[name] = f
}

// Open returns the backend registered as name ("" means Default) configured
// with o. An unknown name is an error listing the registered ones.
func Open(name string, o Options) (Backend, error) {
	if name == "" {
		name = Default
	}
	regMu.Lock()
	f, ok := registry[name]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("engine: unknown backend %q (registered: %v)", name, Names())
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return f(o)
}

// Validate reports the first setting out of range.
func (o Options) Validate() error {
	if o.Workers < 0 {
		return fmt.Errorf("engine: worker count must not be negative, got %d", o.Workers)
	}
	if o.BLASThreads < 0 {
		return fmt.Errorf("engine: BLAS thread count must not be negative, got %d", o.BLASThreads)
	}
	if !slices.Contains([]string{"", "auto", "openblas", "gonum"}, o.BLAS) {
		return fmt.Errorf("engine: unknown BLAS %q (want auto, openblas or gonum)", o.BLAS)
	}
	return nil
}

// Names lists the registered backends, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
