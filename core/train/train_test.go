package train

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/tensor"
)

func TestSGDStep(t *testing.T) {
	g, _ := ir.Lower(ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 1}, {Kind: ir.Softmax, Units: 2}}}, ir.Shape{C: 1, H: 1, W: 1})
	for _, nesterov := range []bool{false, true} {
		p := nn.InitParams(g, 1)
		p["l1.fc.weight"].Data[0] = 2
		p["l1.bn.weight"].Data[0] = 3
		o := NewSGD(g, experiment.Training{Momentum: 0.9, Nesterov: nesterov, WeightDecay: 0.1})
		grads := map[string][]float32{}
		for _, q := range g.Params() {
			if q.Trainable() {
				grads[q.Name] = make([]float32, q.Size())
			}
		}
		grads["l1.fc.weight"][0] = 1
		grads["l1.bn.weight"][0] = 1
		o.Step(p, grads, 0.5)
		o.Step(p, grads, 0.5)
		// weight: g' = 1 + 0.1*w. Step 1: w=2, g'=1.2, v=1.2, w -= .5*(nest? 1.2+1.08 : 1.2)
		w, v := 2.0, 0.0
		bw, bv := 3.0, 0.0
		for i := 0; i < 2; i++ {
			gw := 1 + 0.1*w
			v = 0.9*v + gw
			bv = 0.9*bv + 1
			if nesterov {
				w -= 0.5 * (gw + 0.9*v)
				bw -= 0.5 * (1 + 0.9*bv)
			} else {
				w -= 0.5 * v
				bw -= 0.5 * bv
			}
		}
		if got := float64(p["l1.fc.weight"].Data[0]); math.Abs(got-w) > 1e-5 {
			t.Errorf("nesterov=%v: weight %g, want %g", nesterov, got, w)
		}
		if got := float64(p["l1.bn.weight"].Data[0]); math.Abs(got-bw) > 1e-5 {
			t.Errorf("nesterov=%v: BN gamma %g, want %g (BN is not decayed)", nesterov, got, bw)
		}
	}
}

func TestLR(t *testing.T) {
	c := experiment.Training{LR: 0.02, Schedule: "cosine"}
	for _, tc := range []struct {
		step int
		want float64
	}{{0, 0.02}, {50, 0.01}, {100, 0}} {
		if got := LR(c, tc.step, 100, 10); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("cosine step %d: %g, want %g", tc.step, got, tc.want)
		}
	}
	s := experiment.Training{LR: 0.1, Schedule: "step", StepEvery: 2, StepGamma: 0.5}
	if got := LR(s, 45, 100, 10); math.Abs(got-0.025) > 1e-12 { // epoch 4 -> two decays
		t.Errorf("step: %g", got)
	}
	if got := LR(experiment.Training{LR: 0.3, Schedule: "constant"}, 7, 10, 1); got != 0.3 {
		t.Errorf("constant: %g", got)
	}
}

// synthetic: 8x8 one-channel images; the class is the quadrant holding a bright blob.
func synthetic(n int, seed int64) *MemSource {
	r := rand.New(rand.NewSource(seed))
	m := &MemSource{C: 1, H: 8, W: 8, Batch: 16, Shuffle: true, Seed: seed}
	for i := 0; i < n; i++ {
		img := make([]float32, 64)
		for j := range img {
			img[j] = float32(r.NormFloat64() * 0.3)
		}
		c := r.Intn(4)
		y0, x0 := (c/2)*4+r.Intn(3), (c%2)*4+r.Intn(3)
		img[y0*8+x0] += 2
		img[(y0+1)*8+x0] += 2
		m.X = append(m.X, img...)
		m.Y = append(m.Y, int32(c))
	}
	return m
}

func tinyNet(t *testing.T) *ir.Graph {
	g, err := ir.Lower(ir.Arch{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 8, Kernel: 3, Stride: 1},
		{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, {Kind: ir.Conv, Filters: 8, Kernel: 3, Stride: 1},
		{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, {Kind: ir.FC, Units: 16}, {Kind: ir.Softmax, Units: 4}}}, ir.Shape{C: 1, H: 8, W: 8})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func paper(epochs int) Config {
	tr := experiment.PaperChild()
	tr.Epochs, tr.Batch, tr.LR, tr.Seed = epochs, 16, 0.05, 3
	return Config{Training: tr}
}

func TestTrainLearnsAndIsDeterministic(t *testing.T) {
	g := tinyNet(t)
	run := func() (*Result, tensor.Map) {
		p := nn.InitParams(g, 1)
		res, err := Train(context.Background(), g, p, synthetic(800, 1), synthetic(200, 2), paper(4), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res, p
	}
	r1, p1 := run()
	r2, p2 := run()
	if r1.ValAcc < 0.9 {
		t.Errorf("validation accuracy %.3f after 4 epochs, want >= 0.9", r1.ValAcc)
	}
	for k, v := range p1 {
		for i := range v.Data {
			if v.Data[i] != p2[k].Data[i] {
				t.Fatalf("two runs with the same seed differ at %s[%d]", k, i)
			}
		}
	}
	if r1.ValAcc != r2.ValAcc {
		t.Errorf("accuracies differ: %v %v", r1.ValAcc, r2.ValAcc)
	}
	acc, _, err := Evaluate(context.Background(), g, p1, synthetic(200, 2), 7, nil)
	if err != nil || acc != r1.ValAcc {
		t.Errorf("Evaluate = %v (%v), want %v", acc, err, r1.ValAcc)
	}
}

func TestDivergenceAndCancel(t *testing.T) {
	g := tinyNet(t)
	cfg := paper(2)
	cfg.LR = 1e30
	_, err := Train(context.Background(), g, nn.InitParams(g, 1), synthetic(200, 1), nil, cfg, nil)
	if !errors.Is(err, ErrDiverged) {
		t.Errorf("lr 1e30: %v, want ErrDiverged", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	_, err = Train(ctx, g, nn.InitParams(g, 1), synthetic(200, 1), nil, paper(5), func(e Event) {
		if steps++; steps == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || steps > 4 {
		t.Errorf("cancel: %v after %d steps", err, steps)
	}
}
