package engine

import (
	"fmt"
	"sort"
	"sync"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Options are the engine settings a backend is opened with. The zero value
// of each field is its default.
type Options struct {
	// Workers is the number of CPU threads a model splits its work over
	// (0: all CPUs). On the CPU engine results depend on it through the
	// order of partial sums, so a seed reproduces a run only with the same
	// count.
	Workers int
	// NoFusion runs layers the backend would fuse (BN followed by ReLU) one
	// by one, for comparing both paths.
	NoFusion bool
	// Device names where models live for backends that have a choice
	// ("cpu", "cuda", "cuda:1"); "" is the backend's default. A backend
	// without that device fails to open, naming it.
	Device string
	// Settings are the opened backend's own settings, of that backend's
	// type (the CPU engine's nn.Settings: BLAS, SIMD, Winograd), or nil
	// for its defaults. A backend rejects settings of another type.
	Settings any
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
	// Memory estimates what training g with batch examples takes on this
	// backend and how much of the memory it would train in is free.
	Memory(g *ir.Graph, batch int) Memory
	// Build prepares graph g with initial parameters params, which must hold
	// every parameter of g.Params() with its shape; the error names the
	// first missing or misshaped one. A backend may use the tensors of
	// params in place (the CPU engine does) or copy them: callers read the
	// current values with Model.ReadParams.
	Build(g *ir.Graph, params tensor.Map, c ModelConfig) (Model, error)
}

// Memory is a backend's estimate of training memory for one graph and
// batch.
type Memory struct {
	ir.Memory
	// Free is the free memory of the device the model would train on, in
	// bytes; 0 for host memory, where the host's limit applies instead.
	Free int64
	// Where names that memory for messages ("host", "cuda:0").
	Where string
}

// LossAccumulator is implemented by models for which reading a loss waits
// for a device. Trainers call AddLoss instead of Loss for every batch and
// TakeLoss once in a while (at the end of an epoch), so that batches are
// queued without a host synchronisation.
type LossAccumulator interface {
	// AddLoss computes the loss of the last Forward against labels, as Loss
	// does (it seeds Backward), and adds the batch's summed loss and
	// correct count to sums kept with the model.
	AddLoss(labels []int32) error
	// TakeLoss returns the sums since the last TakeLoss (summed loss,
	// correct predictions, examples) and resets them.
	TakeLoss() (lossSum float64, correct, n int, err error)
}

// Model is one network on a backend: forward, loss, backward, optimiser step,
// and reading the state back.
type Model interface {
	// MaxBatch is the largest batch Forward accepts.
	MaxBatch() int
	// Forward runs the network on x ([B,C,H,W], 1 <= B <= MaxBatch). In
	// training mode BN uses batch statistics (biased variance) and updates
	// its running statistics (momentum 0.1, unbiased variance), and dropout
	// is active; in evaluation mode BN uses the running statistics and
	// dropout is the identity. The error is the device's (out of memory, a
	// failed kernel launch) or a misshaped x; the model may not be used
	// after a device error but Close.
	Forward(x *tensor.Tensor, train bool) error
	// Logits returns the last Forward's logits [B, classes] in host memory,
	// valid until the next call (on a device this waits for the forward).
	Logits() (*tensor.Tensor, error)
	// Loss is the mean softmax cross-entropy of the last Forward against
	// labels and the number of correct predictions; it seeds Backward.
	Loss(labels []int32) (loss float64, correct int, err error)
	// Backward computes the gradients of the last Loss.
	Backward() error
	// Step applies the optimiser with learning rate lr to the gradients of
	// the last Backward.
	Step(lr float32) error
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
