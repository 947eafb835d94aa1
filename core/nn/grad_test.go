package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Tolerances for comparing the float32 engine to the float64 reference:
// |engine - ref| <= gradAtol + gradRtol*|ref|.
const (
	fwdTol   = 1e-4
	gradAtol = 2e-4
	gradRtol = 2e-3
	fdStep   = 1e-6
)

// layerCase is a small graph whose last node is the op under test. The first
// node after the input is a rate-0 dropout (an identity), so the gradient with
// respect to the op's input is observable.
type layerCase struct {
	name  string
	in    ir.Shape
	batch int
	build func(g *ir.Graph, x int) int
}

func layerCases() []layerCase {
	conv := func(f, k, s int, bias bool) func(g *ir.Graph, x int) int {
		return func(g *ir.Graph, x int) int {
			return g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: f, Kernel: k, Stride: s, Pad: (k - 1) / 2, Bias: bias}, x)
		}
	}
	simple := func(n ir.Node) func(g *ir.Graph, x int) int {
		return func(g *ir.Graph, x int) int { return g.Add(n, x) }
	}
	return []layerCase{
		{"conv3x3", ir.Shape{C: 3, H: 5, W: 5}, 4, conv(4, 3, 1, true)},
		{"conv3x3-stride2", ir.Shape{C: 2, H: 7, W: 6}, 3, conv(3, 3, 2, false)},
		{"conv5x5", ir.Shape{C: 2, H: 4, W: 4}, 3, conv(3, 5, 1, false)},
		{"conv5x5-tiny-map", ir.Shape{C: 2, H: 1, W: 2}, 3, conv(2, 5, 1, false)},
		{"conv1x1-direct", ir.Shape{C: 5, H: 3, W: 3}, 4, conv(3, 1, 1, true)},
		{"conv1x1-stride2", ir.Shape{C: 3, H: 5, W: 5}, 2, conv(2, 1, 2, false)},
		{"bn", ir.Shape{C: 3, H: 3, W: 2}, 4, simple(ir.Node{Op: ir.OpBN, Name: "t.bn"})},
		{"relu", ir.Shape{C: 2, H: 3, W: 3}, 3, simple(ir.Node{Op: ir.OpReLU})},
		{"maxpool2", ir.Shape{C: 2, H: 4, W: 5}, 3, simple(ir.Node{Op: ir.OpMaxPool, Kernel: 2, Stride: 2})},
		{"maxpool3s1", ir.Shape{C: 2, H: 4, W: 4}, 2, simple(ir.Node{Op: ir.OpMaxPool, Kernel: 3, Stride: 1})},
		{"avgpool2", ir.Shape{C: 2, H: 4, W: 4}, 3, simple(ir.Node{Op: ir.OpAvgPool, Kernel: 2, Stride: 2})},
		{"avgpool3s2", ir.Shape{C: 2, H: 7, W: 7}, 2, simple(ir.Node{Op: ir.OpAvgPool, Kernel: 3, Stride: 2})},
		{"gap", ir.Shape{C: 3, H: 3, W: 4}, 3, simple(ir.Node{Op: ir.OpGAP})},
		{"fc", ir.Shape{C: 2, H: 2, W: 3}, 4, simple(ir.Node{Op: ir.OpFC, Name: "t.fc", Units: 5})},
		{"linear", ir.Shape{C: 6, H: 1, W: 1}, 4, simple(ir.Node{Op: ir.OpLinear, Name: "t.sm", Units: 3, Bias: true})},
		{"dropout", ir.Shape{C: 3, H: 4, W: 4}, 3, simple(ir.Node{Op: ir.OpDropout, Rate: 0.3})},
		{"concat", ir.Shape{C: 2, H: 3, W: 3}, 3, func(g *ir.Graph, x int) int {
			r := g.Add(ir.Node{Op: ir.OpReLU}, x)
			c := g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: 3, Kernel: 3, Stride: 1, Pad: 1}, x)
			return g.Add(ir.Node{Op: ir.OpConcat}, r, c, x)
		}},
		// A residual sum reading one node twice and the op's input: the
		// gradient reaches x through three paths.
		{"add", ir.Shape{C: 2, H: 3, W: 3}, 3, func(g *ir.Graph, x int) int {
			c := g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: 2, Kernel: 3, Stride: 1, Pad: 1}, x)
			return g.Add(ir.Node{Op: ir.OpAdd}, c, x, c)
		}},
	}
}

// gemmPlan sets how convolutions cut their GEMMs (conv.go's plan).
type gemmPlan struct {
	name                         string
	colBudget, bandBudget, mincs int
}

// gemmPlans: the defaults; several images per GEMM; one image in bands of
// several rows (4 of 6 rows for 27 patch rows per column, so a short last
// band); bands of one row.
var gemmPlans = []gemmPlan{
	{"default", colBudget, bandBudget, minCols},
	{"images", 1 << 21, 1 << 21, minCols},
	{"bands", 1, 650, 0},
	{"rows", 1, 1, 0},
}

func setPlan(p gemmPlan) { colBudget, bandBudget, minCols = p.colBudget, p.bandBudget, p.mincs }

func TestLayerGradients(t *testing.T) {
	defer setPlan(gemmPlans[0])
	for _, plan := range gemmPlans {
		setPlan(plan)
		for _, lc := range layerCases() {
			for _, train := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/train=%v/%s", lc.name, train, plan.name), func(t *testing.T) {
					checkLayer(t, lc, train)
				})
			}
		}
	}
}

func checkLayer(t *testing.T, lc layerCase, train bool) {
	r := rand.New(rand.NewSource(7))
	g := ir.NewGraph(lc.in)
	x := g.Add(ir.Node{Op: ir.OpDropout, Rate: 0}, 0)
	out := lc.build(g, x)
	params := InitParams(g, 3)
	for _, p := range g.Params() { // non-trivial values everywhere
		for i := range params[p.Name].Data {
			switch p.Role {
			case ir.RoleVar:
				params[p.Name].Data[i] = float32(0.5 + r.Float64())
			case ir.RoleGamma:
				params[p.Name].Data[i] = float32(0.5 + r.Float64())
			default:
				params[p.Name].Data[i] = float32(r.NormFloat64() * 0.5)
			}
		}
	}
	n, err := Build(g, params, lc.batch)
	if err != nil {
		t.Fatal(err)
	}
	n.Seed = 11
	xin := tensor.New(lc.batch, lc.in.C, lc.in.H, lc.in.W)
	for i := range xin.Data {
		xin.Data[i] = float32(r.NormFloat64())
	}
	seed := make([]float64, lc.batch*g.Nodes[out].Out.Size())
	for i := range seed {
		seed[i] = r.NormFloat64()
	}
	// Snapshot parameters: a training forward updates BN running statistics.
	p64 := map[string][]float64{}
	for name, tt := range params {
		p64[name] = f64(tt.Data)
	}
	saved := params.Clone()
	n.Forward(xin, train)
	step := n.step
	got := n.Output(out)
	ref := refForward(n, g, p64, f64(xin.Data), lc.batch, train)
	for i, v := range ref[out] {
		if math.Abs(float64(got[i])-v) > fwdTol*(1+math.Abs(v)) {
			t.Fatalf("forward[%d] = %g, reference %g", i, got[i], v)
		}
	}
	// Backward from dL/dout = seed, L = sum(seed * out).
	copy(n.grad[out], f32(seed))
	for i := len(n.layers) - 1; i > 0; i-- {
		n.layers[i].backward()
	}
	lossAt := func(p map[string][]float64, xv []float64) float64 {
		n.step = step // same dropout mask
		a := refForward(n, g, p, xv, lc.batch, train)[out]
		var s float64
		for i, v := range a {
			s += v * seed[i]
		}
		return s
	}
	check := func(what string, analytic []float32, vals []float64, eval func() float64) {
		idx := r.Perm(len(vals))
		if len(idx) > 40 {
			idx = idx[:40]
		}
		for _, i := range idx {
			old := vals[i]
			vals[i] = old + fdStep
			up := eval()
			vals[i] = old - fdStep
			down := eval()
			vals[i] = old
			num := (up - down) / (2 * fdStep)
			if d := math.Abs(float64(analytic[i]) - num); d > gradAtol+gradRtol*math.Abs(num) {
				t.Errorf("d/d %s[%d]: engine %g, finite difference %g", what, i, analytic[i], num)
			}
		}
	}
	xv := f64(xin.Data)
	check("input", n.grad[x], xv, func() float64 { return lossAt(p64, xv) })
	for _, p := range g.Params() {
		if !p.Trainable() {
			continue
		}
		p64[p.Name] = f64(saved[p.Name].Data)
		check(p.Name, n.grads[p.Name], p64[p.Name], func() float64 { return lossAt(p64, xv) })
	}
}

func f64(s []float32) []float64 {
	o := make([]float64, len(s))
	for i, v := range s {
		o[i] = float64(v)
	}
	return o
}

func f32(s []float64) []float32 {
	o := make([]float32, len(s))
	for i, v := range s {
		o[i] = float32(v)
	}
	return o
}
