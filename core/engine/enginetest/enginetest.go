package enginetest

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/refnet"
	"github.com/eas-go/eas/core/tensor"
)

// Tolerances. A float32 backend is compared with the float64 reference:
// got passes when |got - want| <= atol + rtol*|want|.
const (
	// FwdTol bounds logits and activations: atol = rtol = FwdTol.
	FwdTol = 1e-4
	// LossTol bounds the mean cross-entropy: atol = rtol = LossTol.
	LossTol = 1e-4
	// GradAtol and GradRtol bound a gradient coordinate against the central
	// difference of the reference loss with step FDStep (in float64, so the
	// difference itself is accurate to ~1e-9).
	GradAtol = 2e-4
	GradRtol = 2e-3
	FDStep   = 1e-6
	// FDCoords is how many coordinates of each parameter are checked
	// (chosen at random with a fixed seed; all of a smaller parameter).
	FDCoords = 24
	// StatTol bounds BN running statistics after training forwards:
	// atol = rtol = StatTol.
	StatTol = 1e-4
	// SGDTol bounds parameters and momentum after optimiser steps against
	// the same update computed in float64 from the backend's own gradients:
	// atol = rtol = SGDTol (a few float32 roundings).
	SGDTol = 1e-6
)

// BNMomentum is the running-statistics momentum every backend uses:
// running = (1-m)*running + m*batch, with the unbiased batch variance.
const BNMomentum = 0.1

// Classes is the number of logits of the suite's networks.
const Classes = 3

// Check is one conformance check. Fn reports through tb (Errorf, Fatalf) so
// that checks can also run under a recording testing.TB.
type Check struct {
	Name string
	Fn   func(tb testing.TB, b engine.Backend)
}

// Checks returns every check of the suite, in a fixed order.
func Checks() []Check {
	var cs []Check
	cs = append(cs, Check{"coverage", checkCoverage})
	for _, c := range netCases() {
		cs = append(cs, Check{"gradients/" + c.name, func(tb testing.TB, b engine.Backend) { checkGradients(tb, b, c) }})
	}
	for _, c := range netCases() {
		for _, train := range []bool{true, false} {
			mode := "eval"
			if train {
				mode = "train"
			}
			cs = append(cs, Check{"forward/" + c.name + "/" + mode, func(tb testing.TB, b engine.Backend) { checkForward(tb, b, c, train) }})
		}
	}
	for _, name := range []string{"plain", "densenet"} {
		cs = append(cs, Check{"bn-running-stats/" + name, func(tb testing.TB, b engine.Backend) { checkRunningStats(tb, b, netCase1(name)) }})
	}
	for _, nesterov := range []bool{true, false} {
		cs = append(cs, Check{fmt.Sprintf("sgd/nesterov=%v", nesterov), func(tb testing.TB, b engine.Backend) { checkSGD(tb, b, nesterov) }})
	}
	cs = append(cs,
		Check{"determinism", checkDeterminism},
		Check{"checkpoint-round-trip", checkRoundTrip},
		Check{"build-errors", checkBuildErrors},
	)
	return cs
}

// Run runs every check as a subtest of t.
func Run(t *testing.T, b engine.Backend) {
	t.Helper()
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) { c.Fn(t, b) })
	}
}

// netCase is a small network: a graph ending in a Linear of Classes logits,
// and the batch it runs.
type netCase struct {
	name  string
	batch int
	graph func() *ir.Graph
}

// layerGraph wraps the op under test: a 1x1 convolution with bias first (so
// the gradient flowing into the op's input reaches a parameter and is
// checked), then build's nodes, then a Linear head.
func layerGraph(in ir.Shape, build func(g *ir.Graph, x int) int) func() *ir.Graph {
	return func() *ir.Graph {
		g := ir.NewGraph(in)
		x := g.Add(ir.Node{Op: ir.OpConv, Name: "t.pre", Filters: in.C, Kernel: 1, Stride: 1, Bias: true}, 0)
		y := build(g, x)
		g.Add(ir.Node{Op: ir.OpLinear, Name: "t.head", Units: Classes, Bias: true}, y)
		return g
	}
}

func archGraph(layers []ir.Layer, in ir.Shape) func() *ir.Graph {
	return func() *ir.Graph {
		g, err := ir.Lower(ir.Arch{Layers: layers}, in)
		if err != nil {
			panic(fmt.Sprintf("enginetest: lowering a built-in network: %v", err)) // a bug in the suite
		}
		return g
	}
}

func conv(f, k, s int) ir.Layer { return ir.Layer{Kind: ir.Conv, Filters: f, Kernel: k, Stride: s} }

// netCases: one small graph per op kind and variant (kernel sizes, strides,
// bias, tiny maps, fusable and unfusable BN+ReLU, several consumers), then
// two whole networks as the lowering builds them.
func netCases() []netCase {
	convN := func(f, k, s int, bias bool) func(g *ir.Graph, x int) int {
		return func(g *ir.Graph, x int) int {
			return g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: f, Kernel: k, Stride: s, Pad: (k - 1) / 2, Bias: bias}, x)
		}
	}
	one := func(n ir.Node) func(g *ir.Graph, x int) int {
		return func(g *ir.Graph, x int) int { return g.Add(n, x) }
	}
	bn := ir.Node{Op: ir.OpBN, Name: "t.bn"}
	return []netCase{
		{"conv3x3", 4, layerGraph(ir.Shape{C: 3, H: 5, W: 5}, convN(4, 3, 1, true))},
		{"conv3x3-stride2", 3, layerGraph(ir.Shape{C: 2, H: 7, W: 6}, convN(3, 3, 2, false))},
		{"conv5x5", 3, layerGraph(ir.Shape{C: 2, H: 4, W: 4}, convN(3, 5, 1, false))},
		{"conv5x5-tiny-map", 3, layerGraph(ir.Shape{C: 2, H: 1, W: 2}, convN(2, 5, 1, false))},
		{"conv1x1", 4, layerGraph(ir.Shape{C: 5, H: 3, W: 3}, convN(3, 1, 1, true))},
		{"conv1x1-stride2", 2, layerGraph(ir.Shape{C: 3, H: 5, W: 5}, convN(2, 1, 2, false))},
		{"bn", 4, layerGraph(ir.Shape{C: 3, H: 3, W: 2}, one(bn))},
		{"bn-relu", 4, layerGraph(ir.Shape{C: 3, H: 3, W: 3}, func(g *ir.Graph, x int) int {
			return g.Add(ir.Node{Op: ir.OpReLU}, g.Add(bn, x))
		})},
		{"bn-relu-shared", 3, layerGraph(ir.Shape{C: 2, H: 3, W: 3}, func(g *ir.Graph, x int) int {
			b := g.Add(bn, x) // read by the ReLU and the concat: not fusable
			return g.Add(ir.Node{Op: ir.OpConcat}, g.Add(ir.Node{Op: ir.OpReLU}, b), b)
		})},
		{"relu", 3, layerGraph(ir.Shape{C: 2, H: 3, W: 3}, one(ir.Node{Op: ir.OpReLU}))},
		{"maxpool2", 3, layerGraph(ir.Shape{C: 2, H: 4, W: 5}, one(ir.Node{Op: ir.OpMaxPool, Kernel: 2, Stride: 2}))},
		{"maxpool3s1", 2, layerGraph(ir.Shape{C: 2, H: 4, W: 4}, one(ir.Node{Op: ir.OpMaxPool, Kernel: 3, Stride: 1}))},
		{"avgpool2", 3, layerGraph(ir.Shape{C: 2, H: 4, W: 4}, one(ir.Node{Op: ir.OpAvgPool, Kernel: 2, Stride: 2}))},
		{"avgpool3s2", 2, layerGraph(ir.Shape{C: 2, H: 7, W: 7}, one(ir.Node{Op: ir.OpAvgPool, Kernel: 3, Stride: 2}))},
		{"gap", 3, layerGraph(ir.Shape{C: 3, H: 3, W: 4}, one(ir.Node{Op: ir.OpGAP}))},
		{"fc", 4, layerGraph(ir.Shape{C: 2, H: 2, W: 3}, one(ir.Node{Op: ir.OpFC, Name: "t.fc", Units: 5}))},
		{"fc-bias", 4, layerGraph(ir.Shape{C: 2, H: 2, W: 3}, one(ir.Node{Op: ir.OpFC, Name: "t.fc", Units: 5, Bias: true}))},
		{"linear", 4, layerGraph(ir.Shape{C: 6, H: 1, W: 1}, one(ir.Node{Op: ir.OpLinear, Name: "t.sm", Units: 4, Bias: true}))},
		{"dropout", 3, layerGraph(ir.Shape{C: 3, H: 4, W: 4}, one(ir.Node{Op: ir.OpDropout, Rate: 0.3}))},
		{"concat", 3, layerGraph(ir.Shape{C: 2, H: 3, W: 3}, func(g *ir.Graph, x int) int {
			r := g.Add(ir.Node{Op: ir.OpReLU}, x)
			c := g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: 3, Kernel: 3, Stride: 1, Pad: 1}, x)
			return g.Add(ir.Node{Op: ir.OpConcat}, r, c, x)
		})},
		{"add", 3, layerGraph(ir.Shape{C: 2, H: 3, W: 3}, func(g *ir.Graph, x int) int {
			c := g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: 2, Kernel: 3, Stride: 1, Pad: 1}, x)
			return g.Add(ir.Node{Op: ir.OpAdd}, c, x, c) // one node read twice
		})},
		netCase1("plain"),
		netCase1("densenet"),
		netCase1("graph"),
	}
}

// netCase1 returns one of the whole networks: "plain" (conv, pooling of
// both kinds, a 5x5 conv, dropout, FC, each with BN+ReLU) or "densenet" (a
// stem, two dense blocks with and without bottlenecks, a transition, GAP).
func netCase1(name string) netCase {
	in := ir.Shape{C: 3, H: 8, W: 8}
	switch name {
	case "plain":
		return netCase{"plain", 4, archGraph([]ir.Layer{conv(4, 3, 1), {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, conv(5, 5, 1),
			{Kind: ir.Dropout, Rate: 0.4}, {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Avg}, {Kind: ir.FC, Units: 6},
			{Kind: ir.Softmax, Units: Classes}}, in)}
	case "densenet":
		return netCase{"densenet", 4, archGraph([]ir.Layer{conv(4, 3, 1),
			{Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 2, Bottleneck: 4}, {Growth: 3, Bottleneck: 0}}},
			{Kind: ir.Transition, Compression: 0.5}, {Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 2, Bottleneck: 8}}},
			{Kind: ir.GAP}, {Kind: ir.Softmax, Units: Classes}}, in)}
	case "graph": // C ADD(C C | ID) CAT(C | ADD(ID | ID)) P GAP SM: residual, nested merges
		return netCase{"graph", 4, archGraph([]ir.Layer{conv(4, 3, 1), {Kind: ir.Add, Arms: []int{2, 1}}, conv(4, 3, 1), conv(4, 3, 1),
			{Kind: ir.Identity}, {Kind: ir.Cat, Arms: []int{1, 3}}, conv(2, 1, 1), {Kind: ir.Add, Arms: []int{1, 1}},
			{Kind: ir.Identity}, {Kind: ir.Identity}, {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Avg}, {Kind: ir.GAP},
			{Kind: ir.Softmax, Units: Classes}}, in)}
	}
	panic("enginetest: no network " + name)
}

// checkCoverage fails when core/ir has an op kind no case exercises: a new
// op needs a gradient case here before a backend can claim to run it.
func checkCoverage(tb testing.TB, _ engine.Backend) {
	seen := map[ir.Op]bool{}
	for _, c := range netCases() {
		for _, nd := range c.graph().Nodes {
			seen[nd.Op] = true
		}
	}
	for op := ir.OpInput + 1; op < ir.OpInput+64; op++ {
		if s := op.String(); s == fmt.Sprintf("Op(%d)", int(op)) {
			continue // not an op
		}
		if !seen[op] {
			tb.Errorf("op %s has no case in the suite", op)
		}
	}
}

// randomParams gives every parameter of g non-trivial values: He-scaled
// weights, biases and BN shifts around 0, scales and running variances in
// [0.5, 1.5), running means around 0.
func randomParams(g *ir.Graph, seed int64) tensor.Map {
	r := rand.New(rand.NewSource(seed))
	m := tensor.Map{}
	for _, p := range g.Params() {
		t := tensor.New(p.Shape...)
		for i := range t.Data {
			var v float64
			switch p.Role {
			case ir.RoleWeight:
				v = r.NormFloat64() * math.Sqrt(2/float64(p.FanIn))
			case ir.RoleGamma, ir.RoleVar:
				v = 0.5 + r.Float64()
			case ir.RoleMean:
				v = r.NormFloat64() * 0.3
			default: // biases, BN shifts
				v = r.NormFloat64() * 0.2
			}
			t.Data[i] = float32(v)
		}
		m[p.Name] = t
	}
	return m
}

// batchOf returns b random images for g and b labels.
func batchOf(g *ir.Graph, b int, seed int64) (*tensor.Tensor, []int32) {
	r := rand.New(rand.NewSource(seed))
	x := tensor.New(b, g.Input.C, g.Input.H, g.Input.W)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	y := make([]int32, b)
	for i := range y {
		y[i] = int32(r.Intn(Classes))
	}
	return x, y
}

func f64(s []float32) []float64 {
	o := make([]float64, len(s))
	for i, v := range s {
		o[i] = float64(v)
	}
	return o
}

func near(got, want, atol, rtol float64) bool {
	return math.Abs(got-want) <= atol+rtol*math.Abs(want)
}

// keepOf reads the dropout masks of the model's last training forward: a
// unit was kept where the dropout node's output is non-zero (where its input
// is zero either answer gives the same activations).
func keepOf(m engine.Model, g *ir.Graph) (func(id, i int) bool, error) {
	masks := map[int][]bool{}
	for _, nd := range g.Nodes {
		if nd.Op != ir.OpDropout || nd.Rate == 0 {
			continue
		}
		in, out := m.Output(nd.Inputs[0]), m.Output(nd.ID)
		if in == nil || out == nil || len(in) != len(out) {
			return nil, fmt.Errorf("the suite reads dropout masks with Model.Output: dropout node %d gave %d values, its input node %d %d",
				nd.ID, len(out), nd.Inputs[0], len(in))
		}
		k := make([]bool, len(out))
		for i := range out {
			k[i] = out[i] != 0 || in[i] == 0
		}
		masks[nd.ID] = k
	}
	return func(id, i int) bool { return masks[id][i] }, nil
}

// refLogits runs the reference and returns every node's activations.
func refActs(tb testing.TB, g *ir.Graph, p map[string][]float64, x []float64, b int, train bool, keep func(id, i int) bool) [][]float64 {
	tb.Helper()
	o := refnet.Options{Train: train}
	if train {
		o.Keep = keep
	}
	act, err := refnet.Forward(g, p, x, b, o)
	if err != nil {
		tb.Fatalf("reference: %v", err)
	}
	return act
}

// build is Backend.Build that stops the check on error.
func build(tb testing.TB, b engine.Backend, g *ir.Graph, p tensor.Map, c engine.ModelConfig) engine.Model {
	tb.Helper()
	m, err := b.Build(g, p, c)
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	tb.Cleanup(m.Close)
	return m
}

// readParams is Model.ReadParams into a fresh map, checked to hold every
// parameter of g with its shape.
func readParams(tb testing.TB, m engine.Model, g *ir.Graph) tensor.Map {
	tb.Helper()
	out := tensor.Map{}
	if err := m.ReadParams(out); err != nil {
		tb.Fatalf("ReadParams: %v", err)
	}
	for _, p := range g.Params() {
		t, ok := out[p.Name]
		if !ok || !t.SameShape(p.Shape) || len(t.Data) != p.Size() {
			tb.Fatalf("ReadParams: parameter %s missing or misshaped (want %v)", p.Name, p.Shape)
		}
	}
	return out.Clone()
}

// forward is Model.Forward that stops the check on error.
func forward(tb testing.TB, m engine.Model, x *tensor.Tensor, train bool) {
	tb.Helper()
	if err := m.Forward(x, train); err != nil {
		tb.Fatalf("Forward: %v", err)
	}
}

// logitsOf runs Forward and returns Logits, stopping the check on error.
func logitsOf(tb testing.TB, m engine.Model, x *tensor.Tensor, train bool) *tensor.Tensor {
	tb.Helper()
	forward(tb, m, x, train)
	out, err := m.Logits()
	if err != nil {
		tb.Fatalf("Logits: %v", err)
	}
	return out
}

// backward is Model.Backward that stops the check on error.
func backward(tb testing.TB, m engine.Model) {
	tb.Helper()
	if err := m.Backward(); err != nil {
		tb.Fatalf("Backward: %v", err)
	}
}

// stepLR is Model.Step that stops the check on error.
func stepLR(tb testing.TB, m engine.Model, lr float32) {
	tb.Helper()
	if err := m.Step(lr); err != nil {
		tb.Fatalf("Step: %v", err)
	}
}
