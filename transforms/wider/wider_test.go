package wider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

func TestPreservesFunction(t *testing.T) {
	ctx := context.Background()
	for _, train := range []bool{false, true} {
		rep, err := verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyPlain, Cases: 200, Seed: 1, Noise: 0, Tol: 1e-5, Train: train})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Applied < 150 || len(rep.Failures) > 0 {
			t.Fatalf("train=%v: %d/%d applied, %d failures, worst %s", train, rep.Applied, rep.Cases, len(rep.Failures), rep.Worst)
		}
		t.Logf("train=%v: %d networks, max relative difference %.2g", train, rep.Applied, rep.MaxRelDiff)
	}
	rep, err := verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyPlain, Cases: 100, Seed: 2, Noise: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.MaxRelDiff > 0.2 || rep.MaxRelDiff == 0 {
		t.Errorf("default noise: max relative difference %.3g, want small but non-zero", rep.MaxRelDiff)
	}
	t.Logf("default noise (0.01 std): max relative difference %.3g", rep.MaxRelDiff)
}

func net(t *testing.T, s string) sdk.Network {
	a := dsl.MustArch(s)
	g, err := ir.Lower(a, ir.Shape{C: 3, H: 8, W: 8})
	if err != nil {
		t.Fatal(err)
	}
	return sdk.Network{Arch: a, Input: g.Input, Weights: nn.InitParams(g, 1)}
}

func TestInvalidRequests(t *testing.T) {
	n := net(t, "C(4,3,1) P(2,2,MAX) FC(8) SM(3)")
	sp := verify.SmallSpace()
	for _, c := range []struct {
		args map[string]int
		want string
	}{
		{map[string]int{"layer": 1, "to": 3}, "must be larger"},
		{map[string]int{"layer": 1, "to": 4}, "must be larger"},
		{map[string]int{"layer": 9}, "out of range"},
		{map[string]int{"layer": 0}, "out of range"},
		{map[string]int{"layer": 2}, "only C and FC"},
		{map[string]int{}, "missing argument"},
	} {
		_, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "wider", Args: c.args}, Space: sp}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	top := net(t, "C(16,3,1) SM(3)")
	if res, err := New().Actions(context.Background(), sdk.ActionsRequest{Net: top, Space: sp}); err != nil {
		t.Fatal(err)
	} else if len(res.Actions) != 0 {
		t.Errorf("a layer at the maximum width is offered: %v", res.Actions)
	}
}

// TestPreservesFunctionOnGraphs: wider on 200 random graphs (merges nested
// 3 deep; ADD siblings widen together, CAT consumers see shifted channels)
// keeps the function exactly with noise 0, in evaluation and training mode.
func TestPreservesFunctionOnGraphs(t *testing.T) {
	ctx := context.Background()
	for _, train := range []bool{false, true} {
		cases := map[bool]int{false: 200, true: 60}[train]
		rep, err := verify.Preservation(ctx, New(), verify.Options{Graphs: true, Cases: cases, Seed: 4, Noise: 0, Tol: 1e-5, Train: train, Steps: 2})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Applied < cases*9/10 || len(rep.Failures) > 0 {
			t.Fatalf("train=%v: %d/%d applied, %d failures, worst %s", train, rep.Applied, rep.Cases, len(rep.Failures), rep.Worst)
		}
		t.Logf("train=%v: %d graphs, max relative difference %.2g", train, rep.Applied, rep.MaxRelDiff)
	}
}

// TestGraphWidening pins which layers widen together and which read the
// widened channels.
func TestGraphWidening(t *testing.T) {
	sp := verify.SmallSpace()
	for _, c := range []struct{ arch, want string }{
		// a residual stage: the stem and both blocks' last convolutions widen together
		{"C(4,3,1) ADD(C(4,3,1) C(4,3,1) | ID) ADD(C(3,3,1) C(4,3,1) | ID) GAP SM(3)",
			"C(6,3,1) ADD(C(4,3,1) C(6,3,1) | ID) ADD(C(3,3,1) C(6,3,1) | ID) GAP SM(3)"},
		// a CAT branch: only it widens; the next layer sees its channels shifted
		{"C(4,3,1) CAT(C(3,3,1) | C(4,1,1)) C(4,3,1) GAP SM(3)", "C(6,3,1) CAT(C(3,3,1) | C(4,1,1)) C(4,3,1) GAP SM(3)"},
		{"C(4,3,1) CAT(ID | ADD(ID | C(4,1,1))) C(4,3,1) SM(3)", "C(6,3,1) CAT(ID | ADD(ID | C(6,1,1))) C(4,3,1) SM(3)"},
		// a CAT's output feeding an ADD: the other branch widens by the CAT's remap
		{"C(4,3,1) ADD(CAT(ID | C(4,1,1)) | C(8,3,1)) SM(3)", "C(6,3,1) ADD(CAT(ID | C(4,1,1)) | C(10,3,1)) SM(3)"},
	} {
		n := net(t, c.arch)
		res, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "wider", Args: map[string]int{"layer": 1}}, Space: sp}, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.arch, err)
		}
		if got := res.Net.Arch.String(); got != c.want {
			t.Errorf("%s: got %s, want %s", c.arch, got, c.want)
		}
	}
	// One action per group of layers that widen together: the stem stands
	// for the blocks' last convolutions.
	res := net(t, "C(4,3,1) ADD(C(4,3,1) C(4,3,1) | ID) ADD(C(3,3,1) C(4,3,1) | ID) GAP SM(3)")
	got, _ := New().Actions(context.Background(), sdk.ActionsRequest{Net: res, Space: sp})
	var layers []int
	for _, a := range got.Actions {
		layers = append(layers, a.Args["layer"])
	}
	if fmt.Sprint(layers) != "[1 3 7]" {
		t.Errorf("actions on layers %v, want [1 3 7]", layers)
	}
	// Widening a layer whose channels reach an ADD that has a CAT as
	// another branch would need the CAT to widen: refused, and not offered.
	n := net(t, "C(4,3,1) ADD(CAT(C(2,1,1) | C(2,1,1)) | ID) SM(3)")
	_, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "wider", Args: map[string]int{"layer": 1}}, Space: sp}, nil)
	if err == nil || !strings.Contains(err.Error(), "not supported by wider") {
		t.Errorf("widening into a CAT under an ADD: %v", err)
	}
	acts, _ := New().Actions(context.Background(), sdk.ActionsRequest{Net: n, Space: sp})
	for _, a := range acts.Actions {
		if a.Args["layer"] == 1 {
			t.Errorf("layer 1 offered: %v", acts.Actions)
		}
	}
}
