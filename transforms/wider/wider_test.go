package wider

import (
	"context"
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
	if res, _ := New().Actions(context.Background(), sdk.ActionsRequest{Net: top, Space: sp}); len(res.Actions) != 0 {
		t.Errorf("a layer at the maximum width is offered: %v", res.Actions)
	}
}
