package densewider

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
		rep, err := verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyDenseNet, Cases: 200, Seed: 1, Noise: 0, Tol: 1e-5, Train: train})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Applied < 190 || len(rep.Failures) > 0 {
			t.Fatalf("train=%v: %d/%d applied, %d failures, worst %s", train, rep.Applied, rep.Cases, len(rep.Failures), rep.Worst)
		}
		t.Logf("train=%v: %d networks, max relative difference %.2g", train, rep.Applied, rep.MaxRelDiff)
	}
	rep, err := verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyDenseNet, Cases: 50, Seed: 2, Noise: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.MaxRelDiff == 0 || rep.MaxRelDiff > 0.2 {
		t.Errorf("default noise: %.3g", rep.MaxRelDiff)
	}
	t.Logf("default noise: max relative difference %.3g", rep.MaxRelDiff)
}

func TestInvalidRequests(t *testing.T) {
	a := dsl.MustArch("C(4,3,1) DB(2,3) T(0.5) DB(2) GAP SM(3)")
	g, _ := ir.Lower(a, ir.Shape{C: 3, H: 8, W: 8})
	n := sdk.Network{Arch: a, Input: g.Input, Weights: nn.InitParams(g, 1)}
	for _, c := range []struct {
		args map[string]int
		want string
	}{
		{map[string]int{"layer": 2, "sub": 1, "to": 2}, "must be larger"},
		{map[string]int{"layer": 2, "sub": 3}, "out of range"},
		{map[string]int{"layer": 3, "sub": 1}, "not a dense block"},
		{map[string]int{"layer": 9, "sub": 1}, "out of range"},
	} {
		_, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "densewider", Args: c.args}, Space: verify.SmallSpace()}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	res, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "densewider", Args: map[string]int{"layer": 2, "sub": 1}}, Space: verify.SmallSpace()}, nil)
	if err != nil || res.Net.Arch.String() != "C(4,3,1) DB(3:8,3) T(0.5,4) DB(2) GAP SM(3)" {
		t.Errorf("got %v, %v", res.Net.Arch, err)
	}
}
