package wider

import (
	"context"
	"fmt"
	"math/rand"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/internal/netedit"
)

// DefaultNoise is the authors' code's noise on new units: N(0, (0.01*std)^2).
const DefaultNoise = 0.01

// Transform is the built-in "wider".
type Transform struct{}

// New returns the transform.
func New() sdk.Transform { return Transform{} }

// Describe names the transform and its arguments.
func (Transform) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "wider", Kind: sdk.KindTransform, Version: "1.0", Families: []string{string(ir.FamilyPlain)},
		Params:      []string{"layer", "to"},
		Choice:      sdk.ChooseEach, // one candidate per layer; any subset may widen in one step
		Description: "Net2Wider: widen a C or FC layer to the next width of the search space (or to=N), preserving the function"}, nil
}

// Actions lists every conv and FC layer below the maximum of its width list.
func (x Transform) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	acts, err := x.actions(ctx, req.Net, req.Space)
	return sdk.ActionsResult{Actions: acts}, err
}

func (x Transform) actions(_ context.Context, net sdk.Network, s ir.Space) ([]sdk.Action, error) {
	if net.Arch.Family() != ir.FamilyPlain || net.Arch.HasMerges() {
		return nil, nil
	}
	var out []sdk.Action
	for i, l := range net.Arch.Layers {
		wd := l.Kind.Width()
		if wd == nil {
			continue
		}
		if _, ok := ir.Next(wd.Space(s), wd.Get(l)); ok {
			out = append(out, sdk.Action{Transform: "wider", Args: map[string]int{"layer": i + 1}})
		}
	}
	return out, nil
}

// Apply widens one layer.
func (Transform) Apply(_ context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	net := req.Net
	if net.Arch.Family() != ir.FamilyPlain {
		return sdk.ApplyResult{}, fmt.Errorf("wider applies to plain CNNs; use densewider for DenseNets")
	}
	if net.Arch.HasMerges() {
		return sdk.ApplyResult{}, fmt.Errorf("wider does not transform graphs (ADD, CAT) yet")
	}
	g, err := netedit.CheckWeights(net)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	li, err := netedit.Layer(net.Arch, req.Action.Args, "layer")
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	l := net.Arch.Layers[li-1]
	wd := l.Kind.Width()
	if wd == nil {
		return sdk.ApplyResult{}, fmt.Errorf("layer %d is %s: only C and FC layers can be widened", li, l)
	}
	old := wd.Get(l)
	nw, ok := req.Action.Args["to"]
	if !ok {
		if nw, ok = ir.Next(wd.Space(req.Space), old); !ok {
			return sdk.ApplyResult{}, fmt.Errorf("layer %d (%s) is already at the largest width of the search space", li, l)
		}
	}
	if nw <= old {
		return sdk.ApplyResult{}, fmt.Errorf("cannot widen layer %d (%s) to %d: the new width must be larger than %d", li, l, nw, old)
	}
	r := rand.New(rand.NewSource(req.Seed))
	remap := netedit.Remap(old, nw, r)
	counts := netedit.Counts(remap, old)
	cname, err := consumer(g, net.Arch, li)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	a := net.Arch.Clone()
	wd.Set(&a.Layers[li-1], nw)
	res := sdk.ApplyResult{Net: sdk.Network{Arch: a, Input: net.Input},
		Record:  fmt.Sprintf("wider layer %d: %s -> %s (new units copy %v)", li, l, a.Layers[li-1], remap[old:]),
		Details: map[string][]int{"layer": {li}, "old": {old}, "new": {nw}, "remap": remap}}
	if net.Weights == nil { // architecture only
		return res, nil
	}
	w := netedit.Clone(net.Weights)
	prefix := ir.LayerName(li, l.Kind.Info().Weights)
	noise := netedit.NoiseScale(req.Noise, DefaultNoise)
	// The widened layer: copy output units (rows) by the remap, noise on new ones.
	ow := net.Weights[ir.Weight(prefix)]
	row := len(ow.Data) / old
	nt := tensor.New(append([]int{nw}, ow.Shape[1:]...)...)
	std := netedit.Std(ow.Data)
	for j, src := range remap {
		copy(nt.Data[j*row:(j+1)*row], ow.Data[src*row:(src+1)*row])
		if j >= old && noise > 0 {
			for k := j * row; k < (j+1)*row; k++ {
				nt.Data[k] += float32(r.NormFloat64() * noise * std)
			}
		}
	}
	w[ir.Weight(prefix)] = nt
	if b, ok := net.Weights[ir.Tensor(prefix, ir.TensorBias)]; ok {
		w[ir.Tensor(prefix, ir.TensorBias)] = gather(b, remap, 1)
	}
	for _, t := range ir.BNTensors {
		name := ir.Tensor(ir.LayerName(li, ir.PartBN), t)
		w[name] = gather(net.Weights[name], remap, 1)
	}
	// The next weight layer reads the widened units: split its input weights.
	cw := net.Weights[cname]
	w[cname] = splitInputs(cw, remap, counts, old)
	res.Net.Weights = w
	return res, nil
}

// consumer names the weight of the first layer after li that reads the
// widened channels through its weights (pass-through kinds such as
// pooling, dropout and GAP keep channels one to one). A layer that reads
// them any other way (through BatchNorm first, say) is not supported.
func consumer(g *ir.Graph, a ir.Arch, li int) (string, error) {
	for k := li + 1; k <= len(a.Layers); k++ {
		if info := a.Layers[k-1].Kind.Info(); info != nil && info.PassThrough {
			continue
		}
		if name, ok := g.InputWeight(k); ok {
			return name, nil
		}
		return "", fmt.Errorf("layer %d (%s) after the widened layer is not supported by wider", k, a.Layers[k-1])
	}
	return "", fmt.Errorf("no weight layer after layer %d", li)
}

// gather builds a tensor whose unit j is t's unit remap[j] (units of size unit).
func gather(t *tensor.Tensor, remap []int, unit int) *tensor.Tensor {
	out := tensor.New(len(remap) * unit)
	for j, s := range remap {
		copy(out.Data[j*unit:(j+1)*unit], t.Data[s*unit:(s+1)*unit])
	}
	if len(t.Shape) == 1 {
		out.Shape = []int{len(remap)}
	}
	return out
}

// splitInputs rewrites a consumer weight [out, old*block] for the widened
// input: input unit j takes old unit remap[j]'s weights divided by its count.
// Works for conv weights [F, C, k, k] (a block of k*k per channel) and
// FC weights [U, C*H*W] alike: each input channel owns a contiguous block.
func splitInputs(t *tensor.Tensor, remap, counts []int, old int) *tensor.Tensor {
	outs := t.Shape[0]
	per := len(t.Data) / outs // values per output unit
	block := per / old        // values per input channel
	nt := tensor.New(append([]int{outs}, t.Shape[1:]...)...)
	if len(t.Shape) == 2 {
		nt.Shape = []int{outs, len(remap) * block}
	} else {
		nt.Shape[1] = len(remap)
	}
	nt.Data = make([]float32, outs*len(remap)*block)
	for o := 0; o < outs; o++ {
		src := t.Data[o*per : (o+1)*per]
		dst := nt.Data[o*len(remap)*block : (o+1)*len(remap)*block]
		for j, s := range remap {
			inv := 1 / float32(counts[s])
			for k := 0; k < block; k++ {
				dst[j*block+k] = src[s*block+k] * inv
			}
		}
	}
	return nt
}
