package actspace

import (
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/sdk"
)

func conv(f, k int) ir.Layer { return ir.Layer{Kind: ir.Conv, Filters: f, Kernel: k, Stride: 1} }

// TestPaperSpaceTokens pins the encoding of the paper's space (kernels 1, 3,
// 5), so that honouring other kernel lists changes nothing for it.
func TestPaperSpaceTokens(t *testing.T) {
	s := ir.PaperSpace()
	v := NewVocab(s)
	if want := 8 + 3*len(s.Filters) + len(s.Units) + len(s.Growth); v.Size != want || v.Options() != 3 {
		t.Fatalf("size %d options %d, want %d and 3", v.Size, v.Options(), want)
	}
	for ki, k := range []int{1, 3, 5} {
		for fi, f := range s.Filters {
			if got, want := v.token(conv(f, k)), 8+3*fi+ki; got != want {
				t.Errorf("C(%d,%d): token %d, want %d", f, k, got, want)
			}
		}
	}
}

// TestSpaceKernels: other kernel lists get their own tokens and options.
func TestSpaceKernels(t *testing.T) {
	s := ir.Space{Kernels: []int{3, 7, 9, 11}, Filters: []int{16, 32}, Units: []int{64}}
	v := NewVocab(s)
	if v.Options() != 4 || v.Size != 8+4*2+1 {
		t.Fatalf("options %d size %d", v.Options(), v.Size)
	}
	seen := map[int]bool{}
	for _, f := range s.Filters {
		for _, k := range s.Kernels {
			tok := v.token(conv(f, k))
			if seen[tok] || tok < 8 || tok >= v.Size {
				t.Errorf("C(%d,%d): token %d repeated or out of range", f, k, tok)
			}
			seen[tok] = true
		}
	}
	a := ir.Arch{Layers: []ir.Layer{conv(16, 3), {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, conv(32, 3), {Kind: ir.FC, Units: 64}, {Kind: ir.Softmax, Units: 10}}}
	var cands []sdk.Action
	for _, k := range s.Kernels {
		cands = append(cands, sdk.Action{Transform: "deeper", Args: map[string]int{"after": 1, "kernel": k}})
	}
	tr := v.TreeOf(a, cands)
	if len(tr.Blocks) != 1 || len(tr.Blocks[0].Positions) != 1 {
		t.Fatalf("tree %+v", tr)
	}
	opts := tr.Blocks[0].Positions[0].Options
	if len(opts) != 4 {
		t.Fatalf("%d options, want one per kernel", len(opts))
	}
	for i, o := range opts {
		if o.ID != i || o.Action.Args["kernel"] != s.Kernels[i] {
			t.Errorf("option %d: id %d action %s", i, o.ID, o.Action)
		}
		if b, p, oi, ok := tr.Find(o.Action); !ok || b != 0 || p != 0 || oi != i {
			t.Errorf("Find(%s) = %d %d %d %v", o.Action, b, p, oi, ok)
		}
	}
}

// TestEachComesFromInfo: a step's choice is the transform's Info.Choice,
// whatever its name.
func TestEachComesFromInfo(t *testing.T) {
	infos := []sdk.Info{{Name: "grow", Choice: sdk.ChooseEach}, {Name: "wider"}}
	if !Each(infos, "grow") || Each(infos, "wider") || Each(infos, "unknown") {
		t.Error("Each does not follow Info.Choice")
	}
}
