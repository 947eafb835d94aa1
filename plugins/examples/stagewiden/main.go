// Command stagewiden is an example third-party eas transform, written against
// docs/guide/plugins.md: it widens every convolution of one stage (the layers
// between two pooling layers) by an integer factor and keeps the network's
// function. Each filter is repeated factor times (with its bias and batch-norm
// parameters), and every layer that reads a widened output divides the
// weights of the copies by factor, so the sum it computes is unchanged. With
// noise, the copies get N(0, (noise*std)^2) added to their weights so they can
// drift apart in training (the first copy stays exact).
//
// Build it next to an experiment:
//
//	go build -o plugins/stagewiden github.com/eas-go/eas/plugins/examples/stagewiden
//
// Action: stagewiden(stage=S, factor=F), S the 1-based stage (stage 1 is the
// layers before the first pooling layer), F an integer >= 2; every widened
// convolution must stay within the search space's widest filter count.
// Actions lists factors 2 and 3 where they fit. Plain CNNs only.
package main

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"slices"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/plugins/sdk/serve"
)

func main() {
	if err := serve.Serve(serve.Plugins{Transform: StageWiden{}}); err != nil {
		fmt.Fprintln(os.Stderr, "stagewiden:", err)
		os.Exit(1)
	}
}

// StageWiden is the transform.
type StageWiden struct{}

// DefaultNoise is the noise scale used when a request asks for the default
// (Noise < 0): like the built-in wider, 1% of the weights' standard deviation.
const DefaultNoise = 0.01

// Describe names the transform and its action arguments.
func (StageWiden) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name: "stagewiden", Kind: sdk.KindTransform, Version: "1.0.0",
		Description: "widen every convolution of a stage by an integer factor; function-preserving",
		Families:    []string{"plain"},
		Params:      []string{"stage", "factor"},
	}, nil
}

// stages returns, for each stage, the 1-based indices of its convolutions.
// Stages are separated by pooling layers and end at the first flat layer.
func stages(a ir.Arch) [][]int {
	out := [][]int{nil}
	for i, l := range a.Layers {
		if l.Kind == ir.Pool {
			out = append(out, nil)
			continue
		}
		if l.Kind != ir.Conv {
			if info := l.Kind.Info(); info == nil || !info.PassThrough {
				break // FC, GAP's successors, dense blocks: no more stages
			}
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], i+1)
	}
	return out
}

// fits reports whether every convolution of the stage can grow by factor.
func fits(a ir.Arch, convs []int, factor int, s ir.Space) bool {
	if len(convs) == 0 || factor < 2 {
		return false
	}
	for _, li := range convs {
		if len(s.Filters) > 0 && a.Layers[li-1].Filters*factor > slices.Max(s.Filters) {
			return false
		}
	}
	return true
}

// Actions lists factors 2 and 3 for every stage where they fit.
func (StageWiden) Actions(_ context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	var out []sdk.Action
	// Graphs (ADD, CAT) are left alone: stages are runs of a chain.
	if req.Net.Arch.Family() != ir.FamilyPlain || req.Net.Arch.HasMerges() {
		return sdk.ActionsResult{}, nil
	}
	for si, convs := range stages(req.Net.Arch) {
		for _, f := range []int{2, 3} {
			if fits(req.Net.Arch, convs, f, req.Space) {
				out = append(out, sdk.Action{Transform: "stagewiden", Args: map[string]int{"stage": si + 1, "factor": f}})
			}
		}
	}
	return sdk.ActionsResult{Actions: out}, nil
}

// Apply widens one stage.
func (StageWiden) Apply(ctx context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	a := req.Net.Arch
	if a.Family() != ir.FamilyPlain {
		return sdk.ApplyResult{}, fmt.Errorf("stagewiden: plain CNNs only, not %s", a.Family())
	}
	ss := stages(a)
	si, ok := req.Action.Arg("stage")
	if !ok || si < 1 || si > len(ss) {
		return sdk.ApplyResult{}, fmt.Errorf("stagewiden: stage %d outside 1..%d", si, len(ss))
	}
	f, ok := req.Action.Arg("factor")
	if !ok || !fits(a, ss[si-1], f, req.Space) {
		return sdk.ApplyResult{}, fmt.Errorf("stagewiden: stage %d (convolutions %v) cannot be widened by factor %d within the space's filters %v",
			si, ss[si-1], f, req.Space.Filters)
	}
	out := sdk.Network{Arch: a.Clone(), Input: req.Net.Input}
	for _, li := range ss[si-1] {
		out.Arch.Layers[li-1].Filters *= f
	}
	res := sdk.ApplyResult{Net: out, Record: fmt.Sprintf("stagewiden stage %d by %d: layers %v", si, f, ss[si-1]),
		Details: map[string][]int{"stage": {si}, "factor": {f}, "layers": ss[si-1]}}
	if req.Net.Weights == nil { // architecture only
		return res, nil
	}
	g, err := ir.Lower(a, req.Net.Input)
	if err != nil {
		return sdk.ApplyResult{}, fmt.Errorf("stagewiden: %w", err)
	}
	noise := req.Noise
	if noise < 0 {
		noise = DefaultNoise
	}
	w := req.Net.Weights.Clone()
	r := rand.New(rand.NewSource(req.Seed))
	for _, li := range ss[si-1] {
		if err := widen(w, g, a, li, f, noise, r); err != nil {
			return sdk.ApplyResult{}, fmt.Errorf("stagewiden: %w", err)
		}
	}
	res.Net.Weights = w
	return res, nil
}

// widen repeats layer li's filters f times in w and divides the weights its
// consumer reads them through.
func widen(w tensor.Map, g *ir.Graph, a ir.Arch, li, f int, noise float64, r *rand.Rand) error {
	conv := ir.LayerName(li, ir.PartConv)
	name := ir.Weight(conv)
	cw := w[name]
	if cw == nil || len(cw.Shape) != 4 {
		return fmt.Errorf("%s missing or not [F,C,k,k]", name)
	}
	w[name] = repeat(cw, f, 0, 1)
	addNoise(w[name], cw.Shape[0], noise, r)
	per := []string{ir.Tensor(conv, ir.TensorBias)} // per-filter tensors: the bias, if any, and batch norm
	for _, t := range ir.BNTensors {
		per = append(per, ir.Tensor(ir.LayerName(li, ir.PartBN), t))
	}
	for _, n := range per {
		if x, ok := w[n]; ok {
			w[n] = repeat(x, f, 0, 1)
		}
	}
	for k := li + 1; k <= len(a.Layers); k++ {
		if info := a.Layers[k-1].Kind.Info(); info != nil && info.PassThrough {
			continue
		}
		in, ok := g.InputWeight(k)
		if !ok || w[in] == nil || len(w[in].Shape) < 2 {
			return fmt.Errorf("layer %d (%s) reads layer %d in a way stagewiden does not support", k, a.Layers[k-1], li)
		}
		w[in] = repeat(w[in], f, 1, 1/float32(f))
		return nil
	}
	return fmt.Errorf("no layer reads layer %d", li)
}

// repeat tiles t f times along axis (0 or 1), the copies following the
// original, all multiplied by scale.
func repeat(t *tensor.Tensor, f, axis int, scale float32) *tensor.Tensor {
	shape := slices.Clone(t.Shape)
	outer := 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	block := len(t.Data) / outer // one outer slice: [shape[axis], rest...]
	shape[axis] *= f
	out := tensor.New(shape...)
	for o := 0; o < outer; o++ {
		src := t.Data[o*block : (o+1)*block]
		for c := 0; c < f; c++ {
			dst := out.Data[(o*f+c)*block : (o*f+c+1)*block]
			for i, v := range src {
				dst[i] = v * scale
			}
		}
	}
	return out
}

// addNoise perturbs the copies (filters from orig on) of a repeated conv weight.
func addNoise(t *tensor.Tensor, orig int, noise float64, r *rand.Rand) {
	if noise == 0 {
		return
	}
	row := len(t.Data) / t.Shape[0]
	var sum, sq float64
	for _, v := range t.Data[:orig*row] {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(orig * row)
	std := math.Sqrt(math.Max(0, sq/n-(sum/n)*(sum/n)))
	for i := orig * row; i < len(t.Data); i++ {
		t.Data[i] += float32(r.NormFloat64() * noise * std)
	}
}
