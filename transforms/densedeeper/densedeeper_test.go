package densedeeper

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
	rep, err := verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyDenseNet, Cases: 200, Seed: 1, Noise: 0, Tol: 1e-5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied < 190 || len(rep.Failures) > 0 {
		t.Fatalf("%d/%d applied, %d failures, worst %s", rep.Applied, rep.Cases, len(rep.Failures), rep.Worst)
	}
	t.Logf("%d networks, max relative difference %.2g", rep.Applied, rep.MaxRelDiff)
	rep, err = verify.Preservation(ctx, New(), verify.Options{Family: ir.FamilyDenseNet, Cases: 100, Seed: 3, Noise: 0, Tol: 1e-5, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) > 0 {
		t.Fatalf("training mode on the host batch: %d failures, worst %s", len(rep.Failures), rep.Worst)
	}
	t.Logf("training mode on the host batch: max relative difference %.2g", rep.MaxRelDiff)
}

func TestInvalidRequests(t *testing.T) {
	a := dsl.MustArch("C(4,3,1) DB(2,3) T(0.5) DB(2) GAP SM(3)")
	g, _ := ir.Lower(a, ir.Shape{C: 3, H: 8, W: 8})
	n := sdk.Network{Arch: a, Input: g.Input, Weights: nn.InitParams(g, 1)}
	host := verify.Host{Shape: g.Input}
	for _, c := range []struct {
		args map[string]int
		want string
	}{
		{map[string]int{"layer": 2, "after": 3}, "out of range"},
		{map[string]int{"layer": 2, "after": -1}, "out of range"},
		{map[string]int{"layer": 1, "after": 0}, "not a dense block"},
	} {
		_, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "densedeeper", Args: c.args}}, host)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	res, err := New().Apply(context.Background(), sdk.ApplyRequest{Net: n, Action: sdk.Action{Transform: "densedeeper", Args: map[string]int{"layer": 2, "after": 1}}}, host)
	if err != nil || res.Net.Arch.String() != "C(4,3,1) DB(2,2:2,3) T(0.5,4) DB(2) GAP SM(3)" {
		t.Errorf("got %v, %v", res.Net.Arch, err)
	}
}
