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
		{"gonum-go-kernels", engine.Options{Workers: 3, Settings: Settings{BLAS: "gonum", NoSIMD: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train, eval := stepAllocs(t, g, tc.o, in, 6)
			if train != 0 || eval != 0 {
				t.Errorf("allocations: %v per training step, %v per evaluation; want 0", train, eval)
			}
		})
	}
}

// Networks with convolutions (every conv path: im2col in bands, 1x1
// direct, strided, stacked taps in dense blocks) allocate nothing per step
// either.
func TestConvNetStepAllocsNothing(t *testing.T) {
	db := ir.Layer{Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 12, Bottleneck: 48}, {Growth: 12, Bottleneck: 48}}}
	for _, tc := range []struct {
		name   string
		layers []ir.Layer
		in     ir.Shape
		batch  int
	}{
		{"table1", table1Layers(), ir.Shape{C: 3, H: 32, W: 32}, 4},
		{"densenet", []ir.Layer{conv(24, 3, 1), db, {Kind: ir.Transition, Compression: 0.5}, db, {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 10}},
			ir.Shape{C: 3, H: 16, W: 16}, 2},
		{"strided-5x5-1x1", []ir.Layer{conv(8, 5, 2), conv(8, 1, 1), conv(6, 1, 2), {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 3}},
			ir.Shape{C: 3, H: 16, W: 16}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := mustLower(t, tc.layers, tc.in)
			train, eval := stepAllocs(t, g, engine.Options{Workers: 2}, tc.in, tc.batch)
			if train != 0 || eval != 0 {
				t.Errorf("allocations: %v per training step, %v per evaluation; want 0", train, eval)
			}
		})
	}
}
