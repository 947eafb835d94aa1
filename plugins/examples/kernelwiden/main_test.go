package main

import (
	"context"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

func TestPreservation(t *testing.T) {
	for _, f := range []ir.Family{ir.FamilyPlain, ir.FamilyDenseNet} {
		rep, err := verify.Preservation(context.Background(), KernelWiden{}, verify.Options{Family: f, Cases: 30, Seed: 1, Tol: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Applied == 0 || len(rep.Failures) > 0 {
			t.Errorf("%s: %d applied, failures %v", f, rep.Applied, rep.Failures)
		}
	}
}

func TestPadKernel(t *testing.T) {
	w := tensor.FromData([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	got := padKernel(w, 5).Data
	want := []float32{0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 7, 8, 9, 0, 0, 0, 0, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("padded %v, want %v", got, want)
		}
	}
}

func TestRejects(t *testing.T) {
	net := sdk.Network{Arch: ir.Arch{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 2, Kernel: 3, Stride: 1}, {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 2}}},
		Input: ir.Shape{C: 1, H: 4, W: 4}}
	cases := []struct {
		name string
		args map[string]int
	}{
		{"no layer", map[string]int{"to": 5}},
		{"layer past the end", map[string]int{"layer": 9, "to": 5}},
		{"not a conv", map[string]int{"layer": 2, "to": 5}},
		{"smaller", map[string]int{"layer": 1, "to": 1}},
		{"even", map[string]int{"layer": 1, "to": 4}},
		{"outside the space", map[string]int{"layer": 1, "to": 7}},
	}
	for _, c := range cases {
		_, err := KernelWiden{}.Apply(context.Background(), sdk.ApplyRequest{Net: net, Space: ir.PaperSpace(),
			Action: sdk.Action{Transform: "kernelwiden", Args: c.args}}, nil)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}
