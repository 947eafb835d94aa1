package densewider

import (
	"context"
	"fmt"
	"math/rand"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/internal/netedit"
)

// DefaultNoise on new filters, as Net2Wider: N(0, (0.01*std)^2).
const DefaultNoise = 0.01

// Transform is the built-in "densewider".
type Transform struct{}

// New returns the transform.
func New() sdk.Transform { return Transform{} }

// Describe names the transform and its arguments.
func (Transform) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "densewider", Kind: sdk.KindTransform, Version: "1.0", Families: []string{string(ir.FamilyDenseNet)},
		Params:      []string{"layer", "sub", "to"},
		Choice:      sdk.ChooseEach, // one candidate per layer; any subset may widen in one step
		Description: "DenseNet wider: raise one dense layer's growth rate to the next of the search space (or to=N)"}, nil
}

// Actions lists every dense layer below the largest growth rate.
func (x Transform) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	acts, err := x.actions(ctx, req.Net, req.Space)
	return sdk.ActionsResult{Actions: acts}, err
}

func (x Transform) actions(_ context.Context, net sdk.Network, s ir.Space) ([]sdk.Action, error) {
	var out []sdk.Action
	for i, l := range net.Arch.Layers {
		if l.Kind != ir.DenseBlock {
			continue
		}
		for j, d := range l.Dense {
			if _, ok := ir.Next(s.Growth, d.Growth); ok {
				out = append(out, sdk.Action{Transform: "densewider", Args: map[string]int{"layer": i + 1, "sub": j + 1}})
			}
		}
	}
	return out, nil
}

// Apply widens dense layer `sub` of block `layer`.
func (Transform) Apply(_ context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	net := req.Net
	g, err := netedit.CheckWeights(net)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	L, err := netedit.DenseBlockArg(net.Arch, req.Action.Args, "layer")
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	db := net.Arch.Layers[L-1]
	j, ok := req.Action.Args["sub"]
	if !ok || j < 1 || j > len(db.Dense) {
		return sdk.ApplyResult{}, fmt.Errorf("sub=%d is out of range: block %d has layers 1..%d", j, L, len(db.Dense))
	}
	old := db.Dense[j-1].Growth
	nw, ok := req.Action.Args["to"]
	if !ok {
		if nw, ok = ir.Next(req.Space.Growth, old); !ok {
			return sdk.ApplyResult{}, fmt.Errorf("dense layer %d of block %d already has the largest growth rate of the search space (%d)", j, L, old)
		}
	}
	if nw <= old {
		return sdk.ApplyResult{}, fmt.Errorf("cannot set the growth rate of dense layer %d of block %d to %d: it must be larger than %d", j, L, nw, old)
	}
	consumers, err := netedit.BlockConsumers(g, net.Arch, L, j+1)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	r := rand.New(rand.NewSource(req.Seed))
	remap := netedit.Remap(old, nw, r)
	counts := netedit.Counts(remap, old)
	widths := netedit.BlockWidths(g, net.Arch, L)
	a := net.Arch.Clone()
	netedit.FixTransition(&a, g, L)
	a.Layers[L-1].Dense[j-1].Growth = nw
	res := sdk.ApplyResult{Net: sdk.Network{Arch: a, Input: net.Input},
		Record:  fmt.Sprintf("densewider block %d layer %d: growth %d -> %d (new channels copy %v)", L, j, old, nw, remap[old:]),
		Details: map[string][]int{"layer": {L}, "sub": {j}, "old": {old}, "new": {nw}, "remap": remap}}
	if net.Weights == nil { // architecture only
		return res, nil
	}
	w := netedit.Clone(net.Weights)
	// The widened layer's 3x3 convolution: copy output filters.
	name := ir.Weight(ir.DenseName(L, j, ir.PartConv2))
	ow := net.Weights[name]
	row := len(ow.Data) / old
	nt := tensor.New(append([]int{nw}, ow.Shape[1:]...)...)
	noise := netedit.NoiseScale(req.Noise, DefaultNoise)
	std := netedit.Std(ow.Data)
	for k, s := range remap {
		copy(nt.Data[k*row:(k+1)*row], ow.Data[s*row:(s+1)*row])
		if k >= old && noise > 0 {
			for i := k * row; i < (k+1)*row; i++ {
				nt.Data[i] += float32(r.NormFloat64() * noise * std)
			}
		}
	}
	w[name] = nt
	// Consumers see layer j's segment [widths[j-1], widths[j-1]+old) grown to nw channels.
	off := widths[j-1]
	for ci, c := range consumers {
		inOld := widths[len(widths)-1] // after-block consumer
		if ci < len(consumers)-1 {
			inOld = widths[j+ci] // dense layer j+1+ci reads the concat after layer j+ci
		}
		var m netedit.InputRemap
		for n := 0; n < inOld+nw-old; n++ {
			src, div := n, float32(1)
			switch {
			case n >= off && n < off+nw:
				src = off + remap[n-off]
				div = float32(counts[remap[n-off]])
			case n >= off+nw:
				src = n - (nw - old)
			}
			m.Src, m.Div = append(m.Src, src), append(m.Div, div)
		}
		if err := c.Apply(w, m); err != nil {
			return sdk.ApplyResult{}, err
		}
	}
	res.Net.Weights = w
	return res, nil
}
