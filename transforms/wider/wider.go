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
	if net.Arch.Family() != ir.FamilyPlain {
		return nil, nil
	}
	var g *ir.Graph
	if net.Arch.HasMerges() { // graphs: only layers whose channels wider can follow
		var err error
		if g, err = ir.Lower(net.Arch, net.Input); err != nil {
			return nil, err
		}
	}
	var out []sdk.Action
	grouped := map[int]bool{} // layers that widen with an earlier offered one
	for i, l := range net.Arch.Layers {
		wd := l.Kind.Width()
		if wd == nil || grouped[i+1] {
			continue
		}
		nw, ok := ir.Next(wd.Space(s), wd.Get(l))
		if !ok {
			continue
		}
		if g != nil {
			p, err := newPlan(net.Arch, g, i+1, netedit.Remap(wd.Get(l), nw, rand.New(rand.NewSource(0))))
			if err != nil || !p.fits(s) {
				continue
			}
			// One action per group of layers that widen together, so a
			// step choosing several cannot widen a group twice.
			for _, x := range p.widen {
				grouped[x] = true
			}
		}
		out = append(out, sdk.Action{Transform: "wider", Args: map[string]int{"layer": i + 1}})
	}
	return out, nil
}

// Apply widens one layer, and in a graph the layers that must widen with it
// (the other branches of an ADD it feeds).
func (Transform) Apply(_ context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	net := req.Net
	if net.Arch.Family() != ir.FamilyPlain {
		return sdk.ApplyResult{}, fmt.Errorf("wider applies to plain CNNs; use densewider for DenseNets")
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
	p, err := newPlan(net.Arch, g, li, remap)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	a := net.Arch.Clone()
	for _, w := range p.widen {
		a.Layers[w-1].Kind.Width().Set(&a.Layers[w-1], len(p.remap[w]))
	}
	res := sdk.ApplyResult{Net: sdk.Network{Arch: a, Input: net.Input},
		Record:  fmt.Sprintf("wider layer %d: %s -> %s (new units copy %v)", li, l, a.Layers[li-1], remap[old:]),
		Details: map[string][]int{"layer": {li}, "old": {old}, "new": {nw}, "remap": remap}}
	if also := p.widen[1:]; len(also) > 0 {
		res.Record += fmt.Sprintf("; layers %v widen with it (ADD branches)", also)
		res.Details["also"] = also
	}
	if net.Weights == nil { // architecture only
		return res, nil
	}
	w := netedit.Clone(net.Weights)
	noise := netedit.NoiseScale(req.Noise, DefaultNoise)
	for _, x := range p.widen {
		p.copyUnits(w, net.Weights, x, noise, r)
	}
	// Layers reading the widened channels split their input weights.
	for _, x := range p.readers() {
		name, _ := g.InputWeight(x)
		rm := p.remap[p.t.Input(x)]
		width := p.width(p.t.Input(x))
		w[name] = splitInputs(w[name], rm, netedit.Counts(rm, width), width) // rows already copied if x widens too
	}
	res.Net.Weights = w
	return res, nil
}

// copyUnits copies layer x's output units (weight rows, bias, BN) by its
// remap, with noise on the copies (units that repeat an earlier one).
func (p *plan) copyUnits(w, src map[string]*tensor.Tensor, x int, noise float64, r *rand.Rand) {
	remap := p.remap[x]
	prefix := ir.LayerName(x, p.a.Layers[x-1].Kind.Info().Weights)
	ow := src[ir.Weight(prefix)]
	row := len(ow.Data) / p.width(x)
	nt := tensor.New(append([]int{len(remap)}, ow.Shape[1:]...)...)
	std := netedit.Std(ow.Data)
	seen := map[int]bool{}
	for j, s := range remap {
		copy(nt.Data[j*row:(j+1)*row], ow.Data[s*row:(s+1)*row])
		if seen[s] && noise > 0 {
			for k := j * row; k < (j+1)*row; k++ {
				nt.Data[k] += float32(r.NormFloat64() * noise * std)
			}
		}
		seen[s] = true
	}
	w[ir.Weight(prefix)] = nt
	if b, ok := src[ir.Tensor(prefix, ir.TensorBias)]; ok {
		w[ir.Tensor(prefix, ir.TensorBias)] = gather(b, remap, 1)
	}
	for _, t := range ir.BNTensors {
		name := ir.Tensor(ir.LayerName(x, ir.PartBN), t)
		w[name] = gather(src[name], remap, 1)
	}
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
