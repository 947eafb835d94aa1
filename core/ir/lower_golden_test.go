package ir_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/internal/golden"
)

// loweringCases cover every layer kind in both families.
var loweringCases = []struct{ arch, in string }{
	{"C(16,3,1) P(2,2,MAX) C(32,5,2) P(3,1,AVG) DO(0.3) FC(64) DO(0.5) FC(32) SM(10)", "32x32x3"},
	{"C(8,1,1) C(8,3,1) GAP FC(16) SM(3)", "9x7x2"},
	{"C(24,3,1) DB(2x6,4:0,5:7) T(0.5) DB(6) T(0.5,9) DB(3x4) GAP DO(0.1) SM(10)", "32x32x3"},
	{"C(16,3,1) DB(2x4) T(1) DB(4) GAP FC(8) SM(2)", "8x8x1"},
	{"C(8,3,1) ADD(C(8,3,1) CAT(C(4,3,1) | C(4,1,1)) | ID) P(2,2,MAX) CAT(ADD(C(8,3,1) | ID) | C(4,3,1) DO(0.5)) GAP SM(3)", "8x8x3"},
}

// TestLoweringGolden pins nodes, shapes, parameter names and costs: the
// kind table must lower every kind exactly as before.
func TestLoweringGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range loweringCases {
		in, err := ir.ParseShape(c.in)
		if err != nil {
			t.Fatal(err)
		}
		a, l := dsl.ValidateArch("arch", c.arch, in)
		if err := l.Err(); err != nil {
			t.Fatal(err)
		}
		g, err := ir.Lower(a, in)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "== %s on %s: depth %d, family %s\n", a, in, a.Depth(), a.Family())
		for _, n := range g.Nodes {
			p, m := g.NodeCost(n.ID)
			fmt.Fprintf(&b, "%3d %-8s %-12s L%d.%d in%v out %v f%d k%d s%d p%d u%d r%g b%v cost %d/%d\n",
				n.ID, n.Op, n.Name, n.Layer, n.Sub, n.Inputs, n.Out, n.Filters, n.Kernel, n.Stride, n.Pad, n.Units, n.Rate, n.Bias, p, m)
		}
		for _, p := range g.Params() {
			fmt.Fprintf(&b, "  %s %v role %d node %d fanin %d\n", p.Name, p.Shape, p.Role, p.Node, p.FanIn)
		}
		p, m := g.Cost()
		fmt.Fprintf(&b, "total %d params %d madds\n", p, m)
	}
	got := b.String()
	const path = "testdata/lowering.golden"
	golden.Check(t, path, got)
}
