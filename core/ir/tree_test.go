package ir_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
)

func TestTree(t *testing.T) {
	// 1 C, 2 ADD, 3 C, 4 C, 5 ID, 6 GAP, 7 SM (the numbering example)
	res := dsl.MustArch("C(16,3,1) ADD(C(16,3,1) C(16,3,1) | ID) GAP SM(10)").Tree()
	// 1 C, 2 CAT, 3 ADD, 4 C, 5 ID, 6 C, 7 GAP, 8 SM
	nest := dsl.MustArch("C(8,3,1) CAT(ADD(C(8,3,1) | ID) | C(4,1,1)) GAP SM(2)").Tree()
	chain := dsl.MustArch("C(8,3,1) P(2,2,MAX) SM(2)").Tree()
	cases := []struct{ got, want any }{
		{res.Input(1), 0}, {res.Input(2), 1}, {res.Input(3), 1}, {res.Input(4), 3}, {res.Input(5), 1}, {res.Input(6), 2},
		{res.Readers(0), []int{1}}, {res.Readers(1), []int{3, 5}}, {res.Readers(3), []int{4}}, {res.Readers(4), []int{2}},
		{res.Readers(5), []int{2}}, {res.Readers(2), []int{6}}, {res.Readers(7), []int(nil)},
		{res.Next(2), 6}, {res.Next(3), 4}, {res.Next(4), 0}, {res.End(2), 5},
		{fmt.Sprint(res.Enclosing(4)), "2 0"}, {fmt.Sprint(res.Enclosing(5)), "2 1"}, {fmt.Sprint(res.Enclosing(6)), "0 0"},
		{res.Branches(2), [][]int{{3, 4}, {5}}}, {res.Depth(5), 1}, {res.Label(5), "| ID"}, {res.Label(2), "ADD("},
		{nest.Readers(1), []int{4, 5, 6}}, {nest.Input(4), 1}, {nest.Input(6), 1}, {nest.Readers(3), []int{2}},
		{nest.Readers(4), []int{3}}, {nest.Depth(4), 2}, {nest.Branches(2), [][]int{{3}, {6}}}, {nest.Next(3), 0}, {nest.Input(7), 2},
		{chain.Input(3), 2}, {chain.Readers(1), []int{2}}, {chain.Next(2), 3},
	}
	for i, c := range cases {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("case %d: got %v, want %v", i, c.got, c.want)
		}
	}
	a := dsl.MustArch("C(8,3,1) CAT(ADD(C(8,3,1) | ID) | C(4,1,1)) GAP SM(2)")
	g, err := ir.Lower(a, ir.Shape{C: 3, H: 8, W: 8})
	if err != nil {
		t.Fatal(err)
	}
	for li, want := range map[int]string{1: "relu 8x8x8", 5: "relu 8x8x8", 3: "add 8x8x8", 2: "concat 12x8x8", 7: "gap 12x1x1"} {
		n := g.Nodes[g.LayerOut(li)]
		if got := fmt.Sprintf("%s %s", n.Op, n.Out); got != want {
			t.Errorf("LayerOut(%d) = %s, want %s", li, got, want)
		}
	}
	if a.Depth() != 3 || dsl.MustArch("C(8,3,1) ADD(C(8,3,1) C(8,3,1) | C(8,1,1)) SM(2)").Depth() != 4 {
		t.Errorf("depth = %d, want the longest weight paths 3 and 4", a.Depth())
	}
}

// TestGraphStructureProblems: Arms that do not fit are refused with a
// problem at the merge, before anything else is looked at.
func TestGraphStructureProblems(t *testing.T) {
	c := ir.Layer{Kind: ir.Conv, Filters: 4, Kernel: 3, Stride: 1}
	id, sm := ir.Layer{Kind: ir.Identity}, ir.Layer{Kind: ir.Softmax, Units: 2}
	cases := map[string][]ir.Layer{
		"needs at least two branches": {c, {Kind: ir.Add, Arms: []int{1}}, id, sm},
		"branch 2 is empty":           {c, {Kind: ir.Add, Arms: []int{1, 0}}, id, sm},
		"only 2 follow it":            {c, {Kind: ir.Cat, Arms: []int{2, 1}}, id, sm},
		"only ADD and CAT do":         {{Kind: ir.Conv, Filters: 4, Kernel: 3, Stride: 1, Arms: []int{1}}, sm},
		"the limit is 64":             append([]ir.Layer{c, {Kind: ir.Add, Arms: make([]int, 65)}}, sm),
	}
	for want, ls := range cases {
		ps := ir.Arch{Layers: ls}.Check(ir.Shape{C: 3, H: 8, W: 8})
		if len(ps) != 1 || !strings.Contains(ps[0].Msg, want) {
			t.Errorf("%s: got %v", want, ps)
		}
	}
}
