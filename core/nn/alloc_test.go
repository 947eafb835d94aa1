package nn

import (
	"math/rand"
	"runtime"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/internal/racemode"
)

// convAllocsAllowed is how many heap allocations one convolution layer may
// still make per pass (a forward or a backward): conv.go's range closures
// capture locals and escape through the worker pool, one allocation per
// parallelFor call. Every other layer makes none. Set it to 0 once conv.go
// builds its range functions once like the other layers, and
// TestTable1StepAllocs then holds the whole step to zero.
const convAllocsAllowed = 1

// stepAllocs returns the heap allocations of one training step (forward,
// loss, backward, optimiser step through the engine.Model interface) and of
// one evaluation (forward and loss), after warm-up.
func stepAllocs(t *testing.T, g *ir.Graph, o engine.Options, in ir.Shape, batch int) (train, eval float64) {
	t.Helper()
	if racemode.Enabled {
		t.Skip("the race detector allocates: counts are checked without it")
	}
	b, err := NewBackend(o)
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.Build(g, InitParams(g, 1), engine.ModelConfig{MaxBatch: batch, Seed: 5,
		Optimizer: engine.Optimizer{Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4}})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	x := tensor.New(batch, in.C, in.H, in.W)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	classes := g.Nodes[g.Output()].Out.C
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(r.Intn(classes))
	}
	step := func() {
		m.Forward(x, true)
		m.Loss(y)
		m.Backward()
		m.Step(0.01)
	}
	evaluate := func() {
		m.Forward(x, false)
		m.Loss(y)
	}
	// Warm up (worker pool, free lists, the runtime's own caches), and
	// collect now: a GC cycle running during the measurement would empty
	// runtime caches that are then refilled by allocating. AllocsPerRun
	// runs each function once more before counting.
	for range 3 {
		step()
		evaluate()
	}
	runtime.GC()
	train = testing.AllocsPerRun(10, step)
	eval = testing.AllocsPerRun(10, evaluate)
	return train, eval
}

// noConvGraph uses every layer but convolution: BN fused with its ReLU and
// BN and ReLU as separate layers (the BN has a second consumer), 2x2 and
// general max pooling, average pooling, dropout, concat, GAP, FC, linear.
func noConvGraph() (*ir.Graph, ir.Shape) {
	in := ir.Shape{C: 3, H: 8, W: 8}
	g := ir.NewGraph(in)
	a := g.Add(ir.Node{Op: ir.OpBN, Name: "a.bn"}, 0)
	a = g.Add(ir.Node{Op: ir.OpReLU}, a)
	a = g.Add(ir.Node{Op: ir.OpMaxPool, Kernel: 2, Stride: 2}, a) // 3x4x4
	bn := g.Add(ir.Node{Op: ir.OpBN, Name: "b.bn"}, a)
	r := g.Add(ir.Node{Op: ir.OpReLU}, bn)
	d := g.Add(ir.Node{Op: ir.OpDropout, Rate: 0.3}, r)
	c := g.Add(ir.Node{Op: ir.OpConcat}, d, bn)                      // 6x4x4
	mp := g.Add(ir.Node{Op: ir.OpMaxPool, Kernel: 3, Stride: 1}, c)  // 6x2x2
	ap := g.Add(ir.Node{Op: ir.OpAvgPool, Kernel: 2, Stride: 1}, mp) // 6x1x1
	gp := g.Add(ir.Node{Op: ir.OpGAP}, c)                            // 6x1x1
	c = g.Add(ir.Node{Op: ir.OpConcat}, ap, gp)                      // 12x1x1
	f := g.Add(ir.Node{Op: ir.OpFC, Name: "c.fc", Units: 8}, c)
	f = g.Add(ir.Node{Op: ir.OpBN, Name: "d.bn"}, f)
	f = g.Add(ir.Node{Op: ir.OpReLU}, f)
	g.Add(ir.Node{Op: ir.OpLinear, Name: "out", Units: 5, Bias: true}, f)
	return g, in
}

// A training step and an evaluation of a network without convolutions
// allocate nothing, whatever the worker count, fusion and BLAS.
func TestStepAllocsNothing(t *testing.T) {
	defer restoreProcessSettings()()
	g, in := noConvGraph()
	for _, tc := range []struct {
		name string
		o    engine.Options
	}{
		{"3-workers", engine.Options{Workers: 3}},
		{"1-worker", engine.Options{Workers: 1}},
		{"no-fusion", engine.Options{Workers: 2, NoFusion: true}},
		{"gonum-go-kernels", engine.Options{Workers: 3, BLAS: "gonum", NoSIMD: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train, eval := stepAllocs(t, g, tc.o, in, 6)
			if train != 0 || eval != 0 {
				t.Errorf("allocations: %v per training step, %v per evaluation; want 0", train, eval)
			}
		})
	}
}

// The Table 1 network's step allocates only what its convolutions still do
// (convAllocsAllowed per conv layer and pass).
func TestTable1StepAllocs(t *testing.T) {
	in := ir.Shape{C: 3, H: 32, W: 32}
	g := mustLower(t, table1Layers(), in)
	convs := 0
	for _, nd := range g.Nodes {
		if nd.Op == ir.OpConv {
			convs++
		}
	}
	train, eval := stepAllocs(t, g, engine.Options{Workers: 2}, in, 4)
	t.Logf("%d conv layers: %v allocations per training step, %v per evaluation", convs, train, eval)
	if max := float64(2 * convs * convAllocsAllowed); train > max {
		t.Errorf("%v allocations per training step, want at most %v", train, max)
	}
	if max := float64(convs * convAllocsAllowed); eval > max {
		t.Errorf("%v allocations per evaluation, want at most %v", eval, max)
	}
}
