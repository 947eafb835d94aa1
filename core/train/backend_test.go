package train

import (
	"context"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/tensor"
)

// copyingBackend behaves like a device backend: it trains its own copy of
// the parameters, so the caller sees the trained values only through
// ReadParams. It records the calls train makes.
type copyingBackend struct {
	cpu    engine.Backend
	builds int
	steps  int
	lrs    []float32
}

func (b *copyingBackend) Name() string     { return "copying" }
func (b *copyingBackend) Describe() string { return "copies parameters" }
func (b *copyingBackend) Build(g *ir.Graph, p tensor.Map, c engine.ModelConfig) (engine.Model, error) {
	b.builds++
	m, err := b.cpu.Build(g, p.Clone(), c)
	return &copyingModel{Model: m, b: b}, err
}

type copyingModel struct {
	engine.Model
	b *copyingBackend
}

func (m *copyingModel) Step(lr float32) {
	m.b.steps++
	m.b.lrs = append(m.b.lrs, lr)
	m.Model.Step(lr)
}

// TestTrainThroughBackend trains the same network on the default backend
// (in place) and on one that copies parameters: train must use the given
// backend for training and evaluation, step once per batch with the
// schedule's rate, and hand back bit-identical trained parameters, BN
// running statistics included.
func TestTrainThroughBackend(t *testing.T) {
	g := tinyNet(t)
	cpu, err := engine.Open("cpu", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := nn.InitParams(g, 1)
	resRef, err := Train(context.Background(), g, ref, synthetic(160, 1), synthetic(64, 2), paper(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	cb := &copyingBackend{cpu: cpu}
	p := nn.InitParams(g, 1)
	cfg := paper(2)
	cfg.Backend = cb
	res, err := Train(context.Background(), g, p, synthetic(160, 1), synthetic(64, 2), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cb.builds != 1 || cb.steps != 20 || cb.lrs[0] != float32(cfg.LR) || cb.lrs[19] >= cb.lrs[10] {
		t.Errorf("%d builds, %d steps, rates %v: want 1 build, 20 steps (160/16 x 2) on a decaying cosine from %g", cb.builds, cb.steps, cb.lrs, cfg.LR)
	}
	if res.ValAcc != resRef.ValAcc || res.TrainLoss != resRef.TrainLoss {
		t.Errorf("copying backend: val %v loss %v; in place: val %v loss %v", res.ValAcc, res.TrainLoss, resRef.ValAcc, resRef.TrainLoss)
	}
	for _, q := range g.Params() {
		a, b := ref[q.Name].Data, p[q.Name].Data
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: %v through the copying backend, %v in place", q.Name, i, b[i], a[i])
			}
		}
	}
	acc, _, err := Evaluate(context.Background(), g, p, synthetic(64, 2), 16, cb)
	if err != nil || acc != res.ValAcc || cb.builds != 2 {
		t.Errorf("Evaluate on the backend: acc %v (%v), %d builds; want %v and 2 builds", acc, err, cb.builds, res.ValAcc)
	}
}
