package nn

import (
	"fmt"
	"runtime"

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

// NewBackend opens the CPU engine with o. Workers, NoFusion and NoWinograd are settings
// of each model; the BLAS library, its thread count and the vector kernels
// are settings of the process (the library is loaded once), so a backend
// opened with BLAS, BLASThreads or NoSIMD set applies them to every net in
// the process: open it before nets run. Their zero values leave the process
// settings as they are (by default: OpenBLAS when it loads, one BLAS
// thread, the AVX2+FMA kernels where the CPU has them), so opening a default
// backend never undoes an earlier choice.
func NewBackend(o engine.Options) (*Backend, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.BLAS != "" {
		if err := SetBLAS(o.BLAS); err != nil {
			return nil, err
		}
	}
	if o.BLASThreads > 0 {
		SetBLASThreads(o.BLASThreads)
	}
	if o.NoSIMD {
		SetSIMD(false)
	}
	return &Backend{opts: Options{Workers: o.Workers, NoFusion: o.NoFusion, NoWinograd: o.NoWinograd}}, nil
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

func (m *model) Forward(x *tensor.Tensor, train bool) *tensor.Tensor { return m.Net.Forward(x, train) }

func (m *model) Step(lr float32) { m.opt.Step(m.params, m.grads, lr) }

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
