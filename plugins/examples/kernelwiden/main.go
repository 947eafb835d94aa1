// Command kernelwiden is an example third-party eas transform: it grows the
// kernel of a convolution (e.g. 3x3 to 5x5) and keeps the network's function
// by zero-padding the kernel around its centre. Convolutions use "same"
// padding ((k-1)/2 on each side), so the output size and every output value
// stay the same.
//
// Build it next to an experiment and list it in a search:
//
//	go build -o plugins/kernelwiden github.com/eas-go/eas/plugins/examples/kernelwiden
//
// Action: kernelwiden(layer=L, to=K), L a conv layer (1-based), K an odd
// kernel size larger than the current one, from the search space's kernels.
//
// It imports only the public SDK (plugins/sdk, plugins/sdk/serve) and
// core/ir, core/tensor.
package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/plugins/sdk/serve"
)

func main() {
	if err := serve.Serve(serve.Plugins{Transform: KernelWiden{}}); err != nil {
		fmt.Fprintln(os.Stderr, "kernelwiden:", err)
		os.Exit(1)
	}
}

// KernelWiden is the transform.
type KernelWiden struct{}

// Describe names the transform and its action arguments.
func (KernelWiden) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name: "kernelwiden", Kind: sdk.KindTransform, Version: "1.0.0",
		Description: "grow a convolution's kernel (e.g. 3x3 -> 5x5) by zero-padding it; function-preserving",
		Families:    []string{"plain", "densenet"},
		Params:      []string{"layer", "to"},
	}, nil
}

// Actions lists, for every convolution, each larger kernel of the space.
func (KernelWiden) Actions(_ context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	var out []sdk.Action
	for i, l := range req.Net.Arch.Layers {
		if l.Kind != ir.Conv {
			continue
		}
		for _, k := range req.Space.Kernels {
			if k > l.Kernel && k%2 == 1 {
				out = append(out, sdk.Action{Transform: "kernelwiden", Args: map[string]int{"layer": i + 1, "to": k}})
			}
		}
	}
	return sdk.ActionsResult{Actions: out}, nil
}

// Apply widens the kernel of one convolution.
func (KernelWiden) Apply(_ context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	a := req.Net.Arch
	li, ok := req.Action.Arg("layer")
	if !ok || li < 1 || li > len(a.Layers) {
		return sdk.ApplyResult{}, fmt.Errorf("kernelwiden: layer %d outside 1..%d", li, len(a.Layers))
	}
	l := a.Layers[li-1]
	if l.Kind != ir.Conv {
		return sdk.ApplyResult{}, fmt.Errorf("kernelwiden: layer %d is %s, not a convolution", li, l)
	}
	to, ok := req.Action.Arg("to")
	if !ok || to <= l.Kernel || to%2 == 0 {
		return sdk.ApplyResult{}, fmt.Errorf("kernelwiden: to=%d must be an odd kernel larger than layer %d's %d", to, li, l.Kernel)
	}
	if len(req.Space.Kernels) > 0 && !slices.Contains(req.Space.Kernels, to) {
		return sdk.ApplyResult{}, fmt.Errorf("kernelwiden: to=%d is not among the space's kernels %v", to, req.Space.Kernels)
	}
	out := sdk.Network{Arch: a.Clone(), Input: req.Net.Input}
	out.Arch.Layers[li-1].Kernel = to
	if req.Net.Weights != nil {
		out.Weights = req.Net.Weights.Clone()
		name := ir.Weight(ir.LayerName(li, ir.PartConv))
		w := req.Net.Weights[name]
		if w == nil || len(w.Shape) != 4 || w.Shape[2] != l.Kernel || w.Shape[3] != l.Kernel {
			return sdk.ApplyResult{}, fmt.Errorf("kernelwiden: %s missing or not [F,C,%d,%d]", name, l.Kernel, l.Kernel)
		}
		out.Weights[name] = padKernel(w, to)
	}
	return sdk.ApplyResult{
		Net:     out,
		Record:  fmt.Sprintf("kernelwiden layer %d: %dx%d -> %dx%d", li, l.Kernel, l.Kernel, to, to),
		Details: map[string][]int{"layer": {li}, "old": {l.Kernel}, "new": {to}},
	}, nil
}

// padKernel centres w [F,C,k,k] in zeros of [F,C,to,to].
func padKernel(w *tensor.Tensor, to int) *tensor.Tensor {
	f, c, k := w.Shape[0], w.Shape[1], w.Shape[2]
	off := (to - k) / 2
	out := tensor.New(f, c, to, to)
	for fc := 0; fc < f*c; fc++ {
		for y := 0; y < k; y++ {
			src := w.Data[(fc*k+y)*k : (fc*k+y+1)*k]
			dst := out.Data[(fc*to+y+off)*to+off:]
			copy(dst[:k], src)
		}
	}
	return out
}
