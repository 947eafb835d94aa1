package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/transforms/verify"
)

func mustLower(t testing.TB, layers []ir.Layer, in ir.Shape) *ir.Graph {
	g, err := ir.Lower(ir.Arch{Layers: layers}, in)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func conv(f, k, s int) ir.Layer { return ir.Layer{Kind: ir.Conv, Filters: f, Kernel: k, Stride: s} }

// TestNetGradients checks the whole-network gradient of the softmax
// cross-entropy (plain CNN and DenseNet, several consumers per node) against
// central differences of the float64 reference.
func TestNetGradients(t *testing.T) {
	in := ir.Shape{C: 3, H: 8, W: 8}
	nets := map[string][]ir.Layer{
		"plain": {conv(4, 3, 1), {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, conv(5, 5, 1), {Kind: ir.Dropout, Rate: 0.2},
			{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Avg}, {Kind: ir.FC, Units: 6}, {Kind: ir.Softmax, Units: 3}},
		"densenet": {conv(4, 3, 1), {Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 2, Bottleneck: 4}, {Growth: 3, Bottleneck: 0}}},
			{Kind: ir.Transition, Compression: 0.5}, {Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 2, Bottleneck: 8}}},
			{Kind: ir.GAP}, {Kind: ir.Softmax, Units: 3}},
		// C ADD(C CAT(C | C) | ID) P CAT(ADD(C | ID) | C DO) GAP SM
		"graph": {conv(4, 3, 1), {Kind: ir.Add, Arms: []int{4, 1}}, conv(4, 3, 1), {Kind: ir.Cat, Arms: []int{1, 1}}, conv(2, 3, 1), conv(2, 1, 1),
			{Kind: ir.Identity}, {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, {Kind: ir.Cat, Arms: []int{3, 2}}, {Kind: ir.Add, Arms: []int{1, 1}},
			conv(4, 3, 1), {Kind: ir.Identity}, conv(3, 3, 1), {Kind: ir.Dropout, Rate: 0.2}, {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 3}},
	}
	for _, fuse := range []bool{true, false} {
		for name, layers := range nets {
			t.Run(fmt.Sprintf("%s/fused=%v", name, fuse), func(t *testing.T) {
				checkNetGradients(t, mustLower(t, layers, in), fuse, 20, 80)
			})
		}
	}
}

// TestRandomGraphGradients checks random graphs (merges nested 3 deep,
// ADD, CAT, ID, dropout) against the reference the same way.
func TestRandomGraphGradients(t *testing.T) {
	in := ir.Shape{C: 2, H: 5, W: 5}
	r := rand.New(rand.NewSource(9))
	for c := 0; c < 12; c++ {
		a := verify.RandomGraph(r, in)
		a.Layers[len(a.Layers)-1].Units = 3
		t.Run(a.String(), func(t *testing.T) {
			g, err := ir.Lower(a, in)
			if err != nil {
				t.Fatal(err)
			}
			checkNetGradients(t, g, c%2 == 0, 3, 10)
		})
	}
}

// checkNetGradients compares the engine's loss and up to per coordinates of
// every trainable parameter's gradient (at least atLeast in all) with
// central differences of the float64 reference, for 3 classes.
func checkNetGradients(t *testing.T, g *ir.Graph, fuse bool, per, atLeast int) {
	in := g.Input
	r := rand.New(rand.NewSource(5))
	params := InitParams(g, 1)
	for _, p := range g.Params() {
		if p.Role == ir.RoleBeta || p.Role == ir.RoleGamma {
			for i := range params[p.Name].Data {
				params[p.Name].Data[i] += float32(r.NormFloat64() * 0.2)
			}
		}
	}
	const b = 4
	n, err := BuildWith(g, params, b, Options{NoFusion: !fuse})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(b, in.C, in.H, in.W)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := []int32{0, 1, 2, 1}
	p64 := map[string][]float64{}
	for k, v := range params {
		p64[k] = f64(v.Data)
	}
	n.Forward(x, true)
	step := n.step
	loss, _ := n.Loss(labels)
	n.Backward()
	lossAt := func() float64 {
		n.step = step
		logits := refForward(n, g, p64, f64(x.Data), b, true)[g.Output()]
		var s float64
		for i := 0; i < b; i++ {
			row := logits[i*3 : (i+1)*3]
			mx := math.Max(row[0], math.Max(row[1], row[2]))
			var z float64
			for _, v := range row {
				z += math.Exp(v - mx)
			}
			s += math.Log(z) + mx - row[labels[i]]
		}
		return s / b
	}
	if ref := lossAt(); math.Abs(ref-loss) > 1e-4 {
		t.Fatalf("loss %g, reference %g", loss, ref)
	}
	checked := 0
	for _, p := range g.Params() {
		if !p.Trainable() {
			continue
		}
		vals := p64[p.Name]
		for _, i := range r.Perm(len(vals))[:min(len(vals), per)] {
			old := vals[i]
			vals[i] = old + fdStep
			up := lossAt()
			vals[i] = old - fdStep
			down := lossAt()
			vals[i] = old
			num := (up - down) / (2 * fdStep)
			an := float64(n.grads[p.Name][i])
			if math.Abs(an-num) > gradAtol+gradRtol*math.Abs(num) {
				t.Errorf("d loss / d %s[%d]: engine %g, finite difference %g", p.Name, i, an, num)
			}
			checked++
		}
	}
	if checked < atLeast {
		t.Errorf("only %d coordinates checked", checked)
	}
}

func TestBuildErrors(t *testing.T) {
	g := mustLower(t, []ir.Layer{conv(4, 3, 1), {Kind: ir.Softmax, Units: 2}}, ir.Shape{C: 1, H: 4, W: 4})
	p := InitParams(g, 1)
	delete(p, "l1.bn.running_var")
	if _, err := Build(g, p, 2); err == nil || err.Error() != "nn: parameter l1.bn.running_var ([4]) is missing" {
		t.Errorf("missing: %v", err)
	}
	p = InitParams(g, 1)
	p["l1.conv.weight"] = tensor.New(4, 1, 5, 5)
	if _, err := Build(g, p, 2); err == nil {
		t.Error("misshaped weight accepted")
	}
}
