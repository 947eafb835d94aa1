package nn

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

func init() {
	engine.Register("cpu", func(o engine.Options) (engine.Backend, error) { return NewBackend(o) })
}

// Backend is the CPU engine behind the engine.Backend interface. Its models
// train the parameter tensors they are built with in place.
type Backend struct {
	opts Options
}

// Settings are the CPU engine's own settings (engine.Options.Settings).
// BLAS, BLASThreads and NoSIMD are settings of the process (the library is
// loaded once), so a backend opened with them applies them to every net in
// the process: open it before nets run. Their zero values leave the process
// as it is (by default: OpenBLAS when it loads, one BLAS thread, the
// AVX2+FMA kernels where the CPU has them), so opening a default backend
// never undoes an earlier choice.
type Settings struct {
	// BLAS chooses the matrix-multiply library: "auto" (or ""), "openblas"
	// (an error when it cannot be loaded) or "gonum" (pure Go).
	BLAS string
	// BLASThreads is the BLAS library's own thread count (0: leave it; the
	// engine sets 1, since it parallelises over images itself).
	BLASThreads int
	// NoSIMD forces the portable kernels instead of the CPU's vector
	// instructions.
	NoSIMD bool
	// NoWinograd runs 3x3 convolutions the direct way (im2col), for
	// comparing both paths.
	NoWinograd bool
}

// Validate reports the first setting out of range.
func (s Settings) Validate() error {
	if s.BLASThreads < 0 {
		return fmt.Errorf("nn: BLAS thread count must not be negative, got %d", s.BLASThreads)
	}
	if !slices.Contains([]string{"", "auto", "openblas", "gonum"}, s.BLAS) {
		return fmt.Errorf("nn: unknown BLAS %q (want auto, openblas or gonum)", s.BLAS)
	}
	return nil
}

// NewBackend opens the CPU engine with o, whose Settings, if set, are a
// Settings (or *Settings). Workers, NoFusion and NoWinograd are settings of
// each model; the others of the process (see Settings).
func NewBackend(o engine.Options) (*Backend, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Device != "" && o.Device != "cpu" {
		return nil, fmt.Errorf("nn: the CPU engine has no device %q (only cpu)", o.Device)
	}
	var s Settings
	switch v := o.Settings.(type) {
	case nil:
	case Settings:
		s = v
	case *Settings:
		s = *v
	default:
		return nil, fmt.Errorf("nn: the CPU engine's settings are an nn.Settings, got %T", o.Settings)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.BLAS != "" {
		if err := SetBLAS(s.BLAS); err != nil {
			return nil, err
		}
	}
	if s.BLASThreads > 0 {
		SetBLASThreads(s.BLASThreads)
	}
	if s.NoSIMD {
		SetSIMD(false)
	}
	return &Backend{opts: Options{Workers: o.Workers, NoFusion: o.NoFusion, NoWinograd: s.NoWinograd}}, nil
}

// Name is "cpu".
func (b *Backend) Name() string { return "cpu" }

// Workers is the goroutine count of each model.
func (b *Backend) Workers() int {
	if b.opts.Workers > 0 {
		return b.opts.Workers
	}
	return runtime.NumCPU()
}

// Describe says which BLAS, kernels, convolution algorithms and worker
// count models use.
func (b *Backend) Describe() string {
	blas := BLASName()
	if core := BLASCore(); core != "" {
		blas += ", core " + core
	}
	conv := "Winograd 3x3 convs"
	if b.opts.NoWinograd {
		conv = "no Winograd"
	}
	return fmt.Sprintf("%s, %s kernels, %s, %d workers", blas, KernelsName(), conv, b.Workers())
}

// Memory is g.Memory with one set of per-worker buffers per CPU, the
// engine's default (an upper bound for fewer workers), in host memory.
func (b *Backend) Memory(g *ir.Graph, batch int) engine.Memory {
	return engine.Memory{Memory: g.Memory(batch, runtime.NumCPU()), Where: "host"}
}

// Build makes a Net and an SGD for g.
func (b *Backend) Build(g *ir.Graph, params tensor.Map, c engine.ModelConfig) (engine.Model, error) {
	n, err := BuildWith(g, params, c.MaxBatch, b.opts)
	if err != nil {
		return nil, err
	}
	n.Seed = c.Seed
	return &model{Net: n, opt: engine.NewSGD(g, c.Optimizer)}, nil
}

// model adapts Net to engine.Model.
type model struct {
	*Net
	opt *engine.SGD
}

func (m *model) MaxBatch() int { return m.Net.MaxBatch }

// Forward checks x's size (Net.Forward panics on it) and runs the net.
func (m *model) Forward(x *tensor.Tensor, train bool) error {
	in := m.G.Input
	if b := len(x.Data) / in.Size(); b < 1 || b > m.Net.MaxBatch || b*in.Size() != len(x.Data) {
		return fmt.Errorf("nn: input of %d values is not 1..%d images of %v", len(x.Data), m.Net.MaxBatch, in)
	}
	m.Net.Forward(x, train)
	return nil
}

func (m *model) Logits() (*tensor.Tensor, error) { return &m.logits, nil }

// Loss checks the labels (Net.Loss panics on one out of range).
func (m *model) Loss(labels []int32) (float64, int, error) {
	if len(labels) < m.batch {
		return 0, 0, fmt.Errorf("nn: %d labels for a batch of %d", len(labels), m.batch)
	}
	for i, y := range labels[:m.batch] {
		if y < 0 || int(y) >= m.Classes {
			return 0, 0, fmt.Errorf("nn: label %d of example %d is outside [0, %d)", y, i, m.Classes)
		}
	}
	l, c := m.Net.Loss(labels)
	return l, c, nil
}

func (m *model) Backward() error { m.Net.Backward(); return nil }

func (m *model) Step(lr float32) error { m.opt.Step(m.params, m.grads, lr); return nil }

func (m *model) ReadParams(dst tensor.Map) error {
	for _, p := range m.G.Params() {
		src := m.params[p.Name]
		if d, ok := dst[p.Name]; ok && d == src {
			continue
		} else if ok && len(d.Data) == len(src.Data) {
			copy(d.Data, src.Data)
			continue
		}
		dst[p.Name] = src.Clone()
	}
	return nil
}

func (m *model) OptState() tensor.Map     { return m.opt.State() }
func (m *model) SetOptState(s tensor.Map) { m.opt.SetState(s) }
func (m *model) Close()                   {}
