package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// TestConvFlippedDx checks the flipped-weights input gradient and the
// stacked-tap convolution (conv_stacked.go) of stride-1 same convolutions
// against the im2col/col2im path: the logits and every parameter gradient
// of networks where they run (F <= C; kernels 1, 3, 5; 1x1 on small maps,
// which take the im2col path; nodes with several consumers, whose input
// gradient is added) must agree to 1e-5 relative, for one image per GEMM
// and for several. TestNetGradients holds both paths to finite differences.
func TestConvFlippedDx(t *testing.T) {
	in := ir.Shape{C: 3, H: 6, W: 6}
	nets := map[string][]ir.Layer{
		"k3,k5,k1": {conv(8, 3, 1), conv(6, 3, 1), conv(6, 5, 1), conv(4, 1, 1), {Kind: ir.FC, Units: 5}, {Kind: ir.Softmax, Units: 3}},
		"densenet": {conv(6, 3, 1), {Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 2, Bottleneck: 4}, {Growth: 3, Bottleneck: 0}, {Growth: 2, Bottleneck: 0}}},
			{Kind: ir.GAP}, {Kind: ir.Softmax, Units: 3}},
	}
	defer func() { setPlan(gemmPlans[0]); noFlipDx = false }()
	for name, layers := range nets {
		for _, plan := range gemmPlans {
			t.Run(fmt.Sprintf("%s/%s", name, plan.name), func(t *testing.T) {
				setPlan(plan)
				g := mustLower(t, layers, in)
				r := rand.New(rand.NewSource(3))
				x := tensor.New(4, in.C, in.H, in.W)
				for i := range x.Data {
					x.Data[i] = float32(r.NormFloat64())
				}
				labels := []int32{0, 2, 1, 1}
				grads := func(noFlip bool) (map[string][]float32, bool) {
					stacked := false
					noFlipDx = noFlip
					n, err := BuildWith(g, InitParams(g, 7), 4, Options{Workers: 2})
					if err != nil {
						t.Fatal(err)
					}
					flipped, banded, gathered := false, false, false
					for _, l := range n.layers {
						if c, ok := l.(*convLayer); ok {
							flipped = flipped || c.flipDx
							stacked = stacked || c.stacked
							banded = banded || c.chunk == 1 && c.rb < c.ho
							gathered = gathered || c.chunk > 1
						}
					}
					if !noFlip && !stacked {
						t.Error("no convolution took the stacked-tap path")
					}
					switch {
					case plan.name == "bands" || plan.name == "rows":
						if !banded || gathered {
							t.Errorf("plan %s: banded %v, several images per GEMM %v", plan.name, banded, gathered)
						}
					case plan.name == "images" && !gathered:
						t.Errorf("plan %s: no convolution gathered several images", plan.name)
					}
					logits := n.Forward(x, true)
					n.Loss(labels)
					n.Backward()
					out := map[string][]float32{}
					for k, v := range n.Grads() {
						out[k] = append([]float32(nil), v...)
					}
					out["logits"] = append([]float32(nil), logits.Data...)
					eval := n.Forward(x, false)
					out["eval logits"] = append([]float32(nil), eval.Data...)
					return out, flipped || stacked
				}
				want, used := grads(true)
				if used {
					t.Fatal("noFlipDx did not switch the flipped path off")
				}
				got, used := grads(false)
				if !used {
					t.Fatal("no convolution took the flipped path")
				}
				requireClose(t, want, got, 1e-5, "the flipped input gradient", "without")
			})
		}
	}
}

// requireClose fails unless every tensor of got matches want's to tol
// relative to the largest magnitude in want's tensor (at least 1e-3), and
// has every key of want; with and without name the two paths.
func requireClose(t *testing.T, want, got map[string][]float32, tol float64, with, without string) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok || len(g) != len(w) {
			t.Fatalf("%s: %d values with %s, %d %s", k, len(g), with, len(w), without)
		}
		var scale float64
		for _, v := range w {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i, v := range g {
			if d := math.Abs(float64(v - w[i])); d > tol*math.Max(scale, 1e-3) {
				t.Fatalf("%s[%d] = %g with %s, %g %s", k, i, v, with, w[i], without)
			}
		}
	}
}
