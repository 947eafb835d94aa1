package verify

import (
	"math/rand"

	"github.com/eas-go/eas/core/ir"
)

// MaxGraphNesting is how deep RandomGraph nests merges.
const MaxGraphNesting = 3

// RandomGraph returns a random valid plain architecture with merges: a
// stem convolution, then convolutions, pooling and ADD/CAT merges whose
// branches hold convolutions, dropout, ID and merges nested up to
// MaxGraphNesting deep, then GAP or FC layers and SM. Widths come from
// SmallSpace.
func RandomGraph(r *rand.Rand, in ir.Shape) ir.Arch {
	s := SmallSpace()
	g := graphGen{r: r, s: s}
	for {
		var a ir.Arch
		c := g.pick()
		a.Layers = append(a.Layers, ir.Layer{Kind: ir.Conv, Filters: c, Kernel: 3, Stride: 1})
		for i := 0; i < 1+r.Intn(2); i++ {
			switch r.Intn(4) {
			case 0:
				a.Layers = append(a.Layers, ir.Layer{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.PoolOp(1 + r.Intn(2))})
			default:
				var ls []ir.Layer
				ls, c = g.merge(0, c, -1)
				a.Layers = append(a.Layers, ls...)
			}
		}
		if r.Intn(2) == 0 {
			a.Layers = append(a.Layers, ir.Layer{Kind: ir.GAP})
		}
		for i := 0; i < r.Intn(2); i++ {
			a.Layers = append(a.Layers, ir.Layer{Kind: ir.FC, Units: g.s.Units[r.Intn(len(g.s.Units)-2)]})
		}
		a.Layers = append(a.Layers, ir.Layer{Kind: ir.Softmax, Units: 2 + r.Intn(4)})
		if a.Validate(in) == nil && a.HasMerges() {
			return a
		}
	}
}

type graphGen struct {
	r *rand.Rand
	s ir.Space
}

func (g graphGen) pick() int { return g.s.Filters[g.r.Intn(len(g.s.Filters)-2)] } // leave room to widen

func (g graphGen) conv(n int) ir.Layer {
	return ir.Layer{Kind: ir.Conv, Filters: n, Kernel: g.s.Kernels[g.r.Intn(len(g.s.Kernels))], Stride: 1}
}

// merge is an ADD or CAT (nested at depth) reading cin channels; cout >= 0
// asks for that many output channels (then it is an ADD). It returns the
// flat layers and the output channels.
func (g graphGen) merge(depth, cin, cout int) ([]ir.Layer, int) {
	n := 2
	if g.r.Intn(4) == 0 {
		n = 3
	}
	head := ir.Layer{Kind: ir.Add, Arms: make([]int, n)}
	cat := cout < 0 && g.r.Intn(3) == 0
	w := cout
	if w < 0 {
		w = []int{cin, g.pick()}[g.r.Intn(2)]
	}
	if cat {
		head.Kind, w = ir.Cat, 0
	}
	out := []ir.Layer{head}
	for k := 0; k < n; k++ {
		want := w
		if cat {
			want = -1
		}
		br, c := g.branch(depth+1, cin, want)
		out[0].Arms[k] = len(br)
		out = append(out, br...)
		if cat {
			w += c
		}
	}
	return out, w
}

// branch is a sequence reading cin channels and giving cout (any when < 0).
func (g graphGen) branch(depth, cin, cout int) ([]ir.Layer, int) {
	if (cout < 0 || cout == cin) && g.r.Intn(3) == 0 {
		return []ir.Layer{{Kind: ir.Identity}}, cin
	}
	var out []ir.Layer
	c := cin
	n := 1 + g.r.Intn(2)
	for j := 0; j < n; j++ {
		want := -1
		if j == n-1 {
			want = cout
		}
		switch {
		case depth < MaxGraphNesting && g.r.Intn(4) == 0:
			var ls []ir.Layer
			ls, c = g.merge(depth, c, want)
			out = append(out, ls...)
		default:
			if want < 0 {
				want = g.pick()
			}
			out = append(out, g.conv(want))
			c = want
		}
		if g.r.Intn(6) == 0 {
			out = append(out, ir.Layer{Kind: ir.Dropout, Rate: 0.2})
		}
	}
	return out, c
}
