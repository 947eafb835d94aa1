package deeper

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/refnet"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

func TestPreservesFunction(t *testing.T) {
	ctx := context.Background()
	rep, err := verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyPlain, Cases: 200, Seed: 1, Noise: 0, Tol: 1e-5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied < 190 || len(rep.Failures) > 0 {
		t.Fatalf("%d/%d applied, %d failures, worst %s", rep.Applied, rep.Cases, len(rep.Failures), rep.Worst)
	}
	t.Logf("%d networks, max relative difference %.2g", rep.Applied, rep.MaxRelDiff)
	// Training mode on the batch the BN statistics came from: the first
	// training loss is the parent's.
	rep, err = verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyPlain, Cases: 100, Seed: 3, Noise: 0, Tol: 1e-5, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) > 0 {
		t.Fatalf("training mode: %d failures, worst %s", len(rep.Failures), rep.Worst)
	}
	rep, err = verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyPlain, Cases: 100, Seed: 2, Noise: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.MaxRelDiff > 0.05 || rep.MaxRelDiff == 0 {
		t.Errorf("default noise: max relative difference %.3g, want small but non-zero", rep.MaxRelDiff)
	}
	t.Logf("default noise (1e-3 std): max relative difference %.3g", rep.MaxRelDiff)
}

func TestInvalidRequests(t *testing.T) {
	a := dsl.MustArch("C(4,3,1) P(2,2,MAX) FC(8) SM(3)")
	g, _ := ir.Lower(a, ir.Shape{C: 3, H: 8, W: 8})
	n := sdk.Network{Arch: a, Input: g.Input, Weights: nn.InitParams(g, 1)}
	host := verify.Host{Shape: g.Input}
	for _, c := range []struct {
		args  map[string]int
		space ir.Space
		want  string
	}{
		{map[string]int{"after": 1, "kernel": 7}, ir.PaperSpace(), "not among the search space's kernels [1 3 5]"},
		{map[string]int{"after": 1, "kernel": 2}, ir.Space{}, "must be odd"},
		{map[string]int{"after": 1, "kernel": -1}, ir.Space{}, "must be odd"},
		{map[string]int{"after": 1, "fc": 1}, ir.Space{}, "cannot be inserted"},
		{map[string]int{"after": 1}, ir.Space{}, "needs a kernel size"},
		{map[string]int{"after": 3, "kernel": 3}, ir.Space{}, "must be FC"},
		{map[string]int{"after": 4}, ir.Space{}, "final SM"},
		{map[string]int{"after": 7}, ir.Space{}, "out of range"},
	} {
		_, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "deeper", Args: c.args}, Space: c.space}, host)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	res, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "deeper", Args: map[string]int{"after": 2, "kernel": 5}}}, host)
	if err != nil || res.Net.Arch.String() != "C(4,3,1) P(2,2,MAX) C(4,5,1) FC(8) SM(3)" {
		t.Errorf("insert after pooling: %v %v", res.Net.Arch, err)
	}
}

// TestSpaceKernels: the search space's kernel sizes are what deeper offers
// and accepts, beyond the paper's 1, 3 and 5, and a 7x7 identity keeps the
// function.
func TestSpaceKernels(t *testing.T) {
	a := dsl.MustArch("C(4,3,1) P(2,2,MAX) FC(8) SM(3)")
	g, _ := ir.Lower(a, ir.Shape{C: 3, H: 8, W: 8})
	n := sdk.Network{Arch: a, Input: g.Input, Weights: nn.InitParams(g, 1)}
	space := ir.Space{Kernels: []int{3, 7}}
	listed, err := New().Actions(context.Background(), sdk.ActionsRequest{Net: n, Space: space})
	acts := listed.Actions
	if err != nil {
		t.Fatal(err)
	}
	kernels := map[int]int{}
	for _, act := range acts {
		if k, ok := act.Args["kernel"]; ok {
			kernels[k]++
		}
	}
	if len(kernels) != 2 || kernels[3] == 0 || kernels[7] == 0 || kernels[3] != kernels[7] {
		t.Errorf("kernels offered %v, want 3 and 7 at every conv position", kernels)
	}
	host := verify.Host{Shape: g.Input, Seed: 5}
	res, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "deeper", Args: map[string]int{"after": 2, "kernel": 7}},
		Space: space}, host)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Net.Arch.String(); got != "C(4,3,1) P(2,2,MAX) C(4,7,1) FC(8) SM(3)" {
		t.Fatalf("got %s", got)
	}
	g2, err := ir.Lower(res.Net.Arch, g.Input)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := host.Batch(context.Background(), 8)
	before, err := refnet.Logits(g, n.Weights, x, refnet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := refnet.Logits(g2, res.Net.Weights, x, refnet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var diff, scale float64
	for i := range before {
		diff = math.Max(diff, math.Abs(before[i]-after[i]))
		scale = math.Max(scale, math.Abs(before[i]))
	}
	if diff > 1e-5*scale {
		t.Errorf("7x7 identity changed the function: max difference %.3g (scale %.3g)", diff, scale)
	}
}

// TestPreservesFunctionOnGraphs: deeper inserts identity layers inside
// branches and after merges of 200 random graphs exactly (noise 0), and in
// training mode on the host batch.
func TestPreservesFunctionOnGraphs(t *testing.T) {
	ctx := context.Background()
	for _, train := range []bool{false, true} {
		cases := map[bool]int{false: 200, true: 60}[train]
		rep, err := verify.Preservation(ctx, New(), verify.Options{Graphs: true, Cases: cases, Seed: 5, Noise: 0, Tol: 1e-5, Train: train, Steps: 2})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Applied < cases*9/10 || len(rep.Failures) > 0 {
			t.Fatalf("train=%v: %d/%d applied, %d failures, worst %s", train, rep.Applied, rep.Cases, len(rep.Failures), rep.Worst)
		}
		t.Logf("train=%v: %d graphs, max relative difference %.2g", train, rep.Applied, rep.MaxRelDiff)
	}
}

// TestGraphPlacement pins where the new layer goes: inside the branch after
// a branch layer, after the whole subtree after a merge; never after ID.
func TestGraphPlacement(t *testing.T) {
	in := ir.Shape{C: 3, H: 8, W: 8}
	src := "C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) | C(2,1,1)) | ID) GAP SM(3)"
	for _, c := range []struct {
		after int
		want  string
	}{
		{1, "C(4,3,1) C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) | C(2,1,1)) | ID) GAP SM(3)"},
		{2, "C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) | C(2,1,1)) | ID) C(4,3,1) GAP SM(3)"},
		{3, "C(4,3,1) ADD(C(4,3,1) C(4,3,1) CAT(C(2,3,1) | C(2,1,1)) | ID) GAP SM(3)"},
		{4, "C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) | C(2,1,1)) C(4,3,1) | ID) GAP SM(3)"},
		{5, "C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) C(2,3,1) | C(2,1,1)) | ID) GAP SM(3)"},
		{6, "C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) | C(2,1,1) C(2,3,1)) | ID) GAP SM(3)"},
	} {
		a := dsl.MustArch(src)
		g, err := ir.Lower(a, in)
		if err != nil {
			t.Fatal(err)
		}
		n := sdk.Network{Arch: a, Input: in, Weights: nn.InitParams(g, 1)}
		res, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "deeper", Args: map[string]int{"after": c.after, "kernel": 3}},
			Space: verify.SmallSpace()}, verify.Host{Shape: in, Seed: 1})
		if err != nil {
			t.Fatalf("after=%d: %v", c.after, err)
		}
		if got := res.Net.Arch.String(); got != c.want {
			t.Errorf("after=%d: got %s, want %s", c.after, got, c.want)
		}
		if _, err := ir.Lower(res.Net.Arch, in); err != nil {
			t.Errorf("after=%d: %v", c.after, err)
		}
	}
	a := dsl.MustArch(src)
	_, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: sdk.Network{Arch: a, Input: in}, Action: sdk.Action{Transform: "deeper", Args: map[string]int{"after": 7, "kernel": 3}},
		Space: verify.SmallSpace()}, nil)
	if err == nil || !strings.Contains(err.Error(), "is ID") {
		t.Errorf("after ID: %v", err)
	}
}
