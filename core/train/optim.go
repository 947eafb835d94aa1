package train

import (
	"math"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// SGD is stochastic gradient descent with momentum (optionally Nesterov) and
// L2 weight decay on weights.
type SGD struct {
	Momentum    float32
	Nesterov    bool
	WeightDecay float32
	names       []string
	decay       map[string]bool
	velocity    map[string][]float32
}

// NewSGD prepares the optimiser for the trainable parameters of g.
func NewSGD(g *ir.Graph, t experiment.Training) *SGD {
	o := &SGD{Momentum: float32(t.Momentum), Nesterov: t.Nesterov, WeightDecay: float32(t.WeightDecay),
		decay: map[string]bool{}, velocity: map[string][]float32{}}
	for _, p := range g.Params() {
		if !p.Trainable() {
			continue
		}
		o.names = append(o.names, p.Name)
		o.decay[p.Name] = p.Role == ir.RoleWeight
		o.velocity[p.Name] = make([]float32, p.Size())
	}
	return o
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

// State returns the momentum buffers (for checkpoints), keyed "momentum.<param>".
func (o *SGD) State() tensor.Map {
	m := tensor.Map{}
	for name, v := range o.velocity {
		m["momentum."+name] = tensor.FromData(append([]float32(nil), v...), len(v))
	}
	return m
}

// SetState restores momentum buffers saved by State; missing ones stay zero.
func (o *SGD) SetState(m tensor.Map) {
	for name, v := range o.velocity {
		if t, ok := m["momentum."+name]; ok && len(t.Data) == len(v) {
			copy(v, t.Data)
		}
	}
}

// LR returns the learning rate at step (0-based) of total steps, for the
// schedule of t: "cosine" (0.5*lr*(1+cos(pi*step/total)), per step, as in the
// paper), "constant", or "step" (lr * gamma^floor(epoch/every)).
func LR(t experiment.Training, step, total, stepsPerEpoch int) float64 {
	switch t.Schedule {
	case "constant":
		return t.LR
	case "step":
		every := t.StepEvery
		if every <= 0 {
			every = 30
		}
		gamma := t.StepGamma
		if gamma <= 0 {
			gamma = 0.1
		}
		epoch := step / max(1, stepsPerEpoch)
		return t.LR * math.Pow(gamma, float64(epoch/every))
	default: // cosine
		if total <= 0 {
			return t.LR
		}
		return 0.5 * t.LR * (1 + math.Cos(math.Pi*float64(step)/float64(total)))
	}
}
