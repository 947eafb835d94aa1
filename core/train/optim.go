package train

import (
	"math"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
)

// SGD is the host-side optimiser of core/engine, kept here for callers that
// step parameters themselves (benchmarks).
type SGD = engine.SGD

// NewSGD prepares SGD for the trainable parameters of g with t's momentum,
// Nesterov flag and weight decay.
func NewSGD(g *ir.Graph, t experiment.Training) *SGD { return engine.NewSGD(g, Optimizer(t)) }

// Optimizer is the engine's optimiser setting for t.
func Optimizer(t experiment.Training) engine.Optimizer {
	return engine.Optimizer{Momentum: float32(t.Momentum), Nesterov: t.Nesterov, WeightDecay: float32(t.WeightDecay)}
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
