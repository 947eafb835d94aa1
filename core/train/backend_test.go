package train

import (
	"context"
	"errors"
	"math"
	"strings"
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
	// failAt makes the failAt'th Step fail as a device would.
	failAt     int
	accumulate bool
	acc        []*accModel
}

func (b *copyingBackend) Name() string     { return "copying" }
func (b *copyingBackend) Describe() string { return "copies parameters" }
func (b *copyingBackend) Memory(g *ir.Graph, batch int) engine.Memory {
	return b.cpu.Memory(g, batch)
}
func (b *copyingBackend) Build(g *ir.Graph, p tensor.Map, c engine.ModelConfig) (engine.Model, error) {
	b.builds++
	m, err := b.cpu.Build(g, p.Clone(), c)
	cm := &copyingModel{Model: m, b: b}
	if b.accumulate {
		am := &accModel{copyingModel: cm}
		b.acc = append(b.acc, am)
		return am, err
	}
	return cm, err
}

type copyingModel struct {
	engine.Model
	b *copyingBackend
}

func (m *copyingModel) Step(lr float32) error {
	m.b.steps++
	m.b.lrs = append(m.b.lrs, lr)
	if m.b.failAt > 0 && m.b.steps == m.b.failAt {
		return errors.New("CUDA error: out of memory (simulated)")
	}
	return m.Model.Step(lr)
}

// accModel keeps the loss "on the device": an engine.LossAccumulator.
type accModel struct {
	*copyingModel
	sum     float64
	correct int
	n       int
	takes   int
}

func (m *accModel) AddLoss(y []int32) error {
	l, c, err := m.Loss(y)
	m.sum += l * float64(len(y))
	m.correct += c
	m.n += len(y)
	return err
}

func (m *accModel) TakeLoss() (float64, int, int, error) {
	m.takes++
	s, c, n := m.sum, m.correct, m.n
	m.sum, m.correct, m.n = 0, 0, 0
	return s, c, n, nil
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

// TestTrainDeviceErrors: an engine error mid-training (a device out of
// memory) ends Train with that error, naming the epoch and step.
func TestTrainDeviceErrors(t *testing.T) {
	g := tinyNet(t)
	cpu, err := engine.Open("cpu", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := paper(2)
	cfg.Backend = &copyingBackend{cpu: cpu, failAt: 13}
	_, err = Train(context.Background(), g, nn.InitParams(g, 1), synthetic(160, 1), nil, cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "epoch 2, step 3: CUDA error: out of memory (simulated)") {
		t.Errorf("Train with a failing step: %v", err)
	}
}

// TestTrainLossAccumulator: a model whose loss stays on the device is read
// through TakeLoss, not per batch, and trains to the same result.
func TestTrainLossAccumulator(t *testing.T) {
	g := tinyNet(t)
	cpu, err := engine.Open("cpu", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Train(context.Background(), g, nn.InitParams(g, 1), synthetic(160, 1), synthetic(64, 2), paper(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paper(2)
	cb := &copyingBackend{cpu: cpu, accumulate: true}
	cfg.Backend = cb
	var ends int
	res, err := Train(context.Background(), g, nn.InitParams(g, 1), synthetic(160, 1), synthetic(64, 2), cfg, func(e Event) {
		if e.EndOfEpoch {
			ends++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cb.acc) != 1 || cb.acc[0].takes < 2 || ends != 2 {
		t.Fatalf("%d accumulating models, %d end events; want 1 model read at least once per epoch, 2 ends", len(cb.acc), ends)
	}
	if math.Abs(res.TrainLoss-ref.TrainLoss) > 1e-12 || res.TrainAcc != ref.TrainAcc || res.ValAcc != ref.ValAcc {
		t.Errorf("accumulated: loss %v acc %v val %v; per batch: %v %v %v", res.TrainLoss, res.TrainAcc, res.ValAcc, ref.TrainLoss, ref.TrainAcc, ref.ValAcc)
	}
}

// deviceBackend reports little free device memory.
type deviceBackend struct{ copyingBackend }

func (b *deviceBackend) Memory(g *ir.Graph, batch int) engine.Memory {
	m := b.cpu.Memory(g, batch)
	m.Free, m.Where = 1024, "cuda:0"
	return m
}

func TestFitsDeviceMemory(t *testing.T) {
	g := tinyNet(t)
	cpu, err := engine.Open("cpu", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = FitsMemory(&deviceBackend{copyingBackend{cpu: cpu}}, g, 16)
	if err == nil || !strings.Contains(err.Error(), "(free memory on cuda:0)") || strings.Contains(err.Error(), MemoryLimitEnv) {
		t.Errorf("device estimate: %v", err)
	}
}
