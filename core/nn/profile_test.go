package nn

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// TestProfile checks that profiling lists every layer that runs (a fused
// BN+ReLU once), counts passes, and computes exactly what the unprofiled
// net computes.
func TestProfile(t *testing.T) {
	in := ir.Shape{C: 3, H: 8, W: 8}
	g := mustLower(t, []ir.Layer{conv(4, 3, 1), {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, {Kind: ir.FC, Units: 6},
		{Kind: ir.Softmax, Units: 3}}, in)
	r := rand.New(rand.NewSource(1))
	x := tensor.New(4, in.C, in.H, in.W)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := []int32{0, 1, 2, 0}
	run := func(prof bool) ([]float32, map[string][]float32, []LayerTime) {
		n, err := Build(g, InitParams(g, 1), 4)
		if err != nil {
			t.Fatal(err)
		}
		n.SetProfiling(prof)
		for i := 0; i < 2; i++ {
			n.Forward(x, true)
			n.Loss(labels)
			n.Backward()
		}
		out := slices.Clone(n.Forward(x, false).Data)
		grads := map[string][]float32{}
		for k, v := range n.Grads() {
			grads[k] = slices.Clone(v)
		}
		return out, grads, n.Profile()
	}
	out0, g0, p0 := run(false)
	out1, g1, p1 := run(true)
	if p0 != nil {
		t.Errorf("Profile without profiling = %v, want nil", p0)
	}
	if !slices.Equal(out0, out1) {
		t.Errorf("logits differ with profiling: %v vs %v", out0, out1)
	}
	for k := range g0 {
		if !slices.Equal(g0[k], g1[k]) {
			t.Errorf("gradient %s differs with profiling", k)
		}
	}
	var ops []string
	for _, lt := range p1 {
		ops = append(ops, lt.Op)
		if lt.Forward <= 0 || lt.Backward <= 0 || lt.Eval <= 0 {
			t.Errorf("node %d (%s): times %v/%v/%v, want all positive", lt.Node, lt.Op, lt.Forward, lt.Backward, lt.Eval)
		}
	}
	want := []string{"conv", "bn+relu", "maxpool", "fc", "bn+relu", "linear"}
	if !slices.Equal(ops, want) {
		t.Errorf("profiled layers %v, want %v", ops, want)
	}
}
