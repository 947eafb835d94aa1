package engine

import (
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// SGD applies Optimizer to parameters in host memory. Backends whose
// parameters live in host memory use it for Model.Step; it is also the
// definition device backends must match.
type SGD struct {
	Optimizer
	names    []string
	decay    map[string]bool
	velocity map[string][]float32
}

// NewSGD prepares the optimiser for the trainable parameters of g. Weight
// decay applies to RoleWeight parameters only, not to biases or BN scale and
// shift (decaying BN parameters fights the normalisation).
func NewSGD(g *ir.Graph, o Optimizer) *SGD {
	s := &SGD{Optimizer: o, decay: map[string]bool{}, velocity: map[string][]float32{}}
	for _, p := range g.Params() {
		if !p.Trainable() {
			continue
		}
		s.names = append(s.names, p.Name)
		s.decay[p.Name] = p.Role == ir.RoleWeight
		s.velocity[p.Name] = make([]float32, p.Size())
	}
	return s
}

// Step applies one update with learning rate lr:
// g' = g + wd*w; v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v).
func (o *SGD) Step(params tensor.Map, grads map[string][]float32, lr float32) {
	mu := o.Momentum
	for _, name := range o.names {
		w, g, v := params[name].Data, grads[name], o.velocity[name]
		wd := float32(0)
		if o.decay[name] {
			wd = o.WeightDecay
		}
		for i := range w {
			gi := g[i] + wd*w[i]
			v[i] = mu*v[i] + gi
			if o.Nesterov {
				w[i] -= lr * (gi + mu*v[i])
			} else {
				w[i] -= lr * v[i]
			}
		}
	}
}

// State returns copies of the momentum buffers, keyed "momentum.<param>".
func (o *SGD) State() tensor.Map {
	m := tensor.Map{}
	for name, v := range o.velocity {
		m["momentum."+name] = tensor.FromData(append([]float32(nil), v...), len(v))
	}
	return m
}

// SetState restores momentum buffers saved by State; missing or misshaped
// ones stay zero.
func (o *SGD) SetState(m tensor.Map) {
	for name, v := range o.velocity {
		clear(v)
		if t, ok := m["momentum."+name]; ok && len(t.Data) == len(v) {
			copy(v, t.Data)
		}
	}
}
