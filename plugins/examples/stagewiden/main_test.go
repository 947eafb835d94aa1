package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/plugins/plugintest"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

// TestPreservation: exact copies (noise 0) keep the function of many random
// networks; with the default noise the difference stays small. Chains of
// three widenings are checked too.
func TestPreservation(t *testing.T) {
	cases := []struct {
		noise float64
		steps int
		tol   float64
	}{
		{0, 1, 1e-5},
		{0, 3, 1e-5},
		{-1, 1, plugintest.NoiseTol},
	}
	for _, c := range cases {
		rep, err := verify.Preservation(context.Background(), StageWiden{}, verify.Options{Family: ir.FamilyPlain, Cases: 60, Seed: 7,
			Noise: c.noise, Steps: c.steps, Tol: c.tol})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Applied < 30 || len(rep.Failures) > 0 {
			t.Errorf("noise %g, %d steps: %d of %d applied, max %.3g, failures %v", c.noise, c.steps, rep.Applied, rep.Cases, rep.MaxRelDiff, rep.Failures)
		}
		if c.noise != 0 && rep.MaxRelDiff == 0 {
			t.Errorf("the default noise changed nothing")
		}
	}
}

// TestConformance runs what easrun plugin check runs, in-process.
func TestConformance(t *testing.T) {
	rs := plugintest.Check(context.Background(), plugintest.InProcess(func() sdk.Transform { return StageWiden{} }, nil), plugintest.Options{Cases: 10})
	for _, r := range rs {
		if r.Status == plugintest.Fail {
			t.Errorf("%s: %s", r.Check, r.Detail)
		}
	}
}

func TestStagesAndActions(t *testing.T) {
	a := dsl.MustArch("C(16,3,1) C(16,3,1) P(2,2,MAX) C(32,3,1) DO(0.2) C(256,3,1) P(2,2,MAX) FC(64) SM(10)")
	if got := fmt.Sprint(stages(a)); got != "[[1 2] [4 6] []]" {
		t.Errorf("stages %s", got)
	}
	res, err := StageWiden{}.Actions(context.Background(), sdk.ActionsRequest{Net: sdk.Network{Arch: a, Input: ir.Shape{C: 3, H: 8, W: 8}}, Space: ir.PaperSpace()})
	if err != nil {
		t.Fatal(err)
	}
	// Stage 2 holds a 256-wide conv: x2 = 512 fits, x3 does not; stage 3 has no conv.
	if got := fmt.Sprint(res.Actions); got != "[stagewiden(factor=2, stage=1) stagewiden(factor=3, stage=1) stagewiden(factor=2, stage=2)]" {
		t.Errorf("actions %s", got)
	}
	out, err := StageWiden{}.Apply(context.Background(), sdk.ApplyRequest{Net: sdk.Network{Arch: a, Input: ir.Shape{C: 3, H: 8, W: 8}},
		Action: res.Actions[1], Space: ir.PaperSpace()}, nil)
	if err != nil || out.Net.Arch.String() != "C(48,3,1) C(48,3,1) P(2,2,MAX) C(32,3,1) DO(0.2) C(256,3,1) P(2,2,MAX) FC(64) SM(10)" {
		t.Errorf("apply: %v %v", out.Net.Arch, err)
	}
}

func TestRejects(t *testing.T) {
	net := sdk.Network{Arch: dsl.MustArch("C(16,3,1) P(2,2,MAX) C(300,3,1) GAP SM(2)"), Input: ir.Shape{C: 1, H: 8, W: 8}}
	cases := []struct {
		name string
		args map[string]int
	}{
		{"no stage", map[string]int{"factor": 2}},
		{"no factor", map[string]int{"stage": 1}},
		{"stage past the end", map[string]int{"stage": 9, "factor": 2}},
		{"factor 1", map[string]int{"stage": 1, "factor": 1}},
		{"outside the space", map[string]int{"stage": 2, "factor": 2}},
		{"stage without convs", map[string]int{"stage": 3, "factor": 2}},
	}
	for _, c := range cases {
		_, err := StageWiden{}.Apply(context.Background(), sdk.ApplyRequest{Net: net, Space: ir.PaperSpace(),
			Action: sdk.Action{Transform: "stagewiden", Args: c.args}}, nil)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}
