package densedeeper

import (
	"context"
	"fmt"
	"math"
	"math/rand"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/internal/netedit"
)

// DefaultNoise on the new kernels: 1e-3 * std, as Net2Deeper.
const DefaultNoise = 1e-3

// BatchSize of the host batch the statistics come from.
const BatchSize = 64

// Transform is the built-in "densedeeper".
type Transform struct{}

// New returns the transform.
func New() sdk.Transform { return Transform{} }

// Describe names the transform and its arguments.
func (Transform) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "densedeeper", Kind: sdk.KindTransform, Version: "1.0", Families: []string{string(ir.FamilyDenseNet)},
		Params:      []string{"layer", "after"},
		Description: "DenseNet deeper: insert a layer replicating existing channels into a dense block, after its layer `after` (0 = first)"}, nil
}

// Actions lists every insertion point of every dense block.
func (x Transform) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	acts, err := x.actions(ctx, req.Net, req.Space)
	return sdk.ActionsResult{Actions: acts}, err
}

func (x Transform) actions(_ context.Context, net sdk.Network, _ ir.Space) ([]sdk.Action, error) {
	var out []sdk.Action
	for i, l := range net.Arch.Layers {
		if l.Kind != ir.DenseBlock {
			continue
		}
		for a := 0; a <= len(l.Dense); a++ {
			out = append(out, sdk.Action{Transform: "densedeeper", Args: map[string]int{"layer": i + 1, "after": a}})
		}
	}
	return out, nil
}

// Apply inserts the layer.
func (Transform) Apply(ctx context.Context, req sdk.ApplyRequest, host sdk.Host) (sdk.ApplyResult, error) {
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
	after, ok := req.Action.Args["after"]
	if !ok || after < 0 || after > len(db.Dense) {
		return sdk.ApplyResult{}, fmt.Errorf("after=%d is out of range: block %d has layers 1..%d (0 inserts first)", after, L, len(db.Dense))
	}
	consumers, err := netedit.BlockConsumers(g, net.Arch, L, after+1)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	growth := db.Dense[max(after, 1)-1].Growth
	widths := netedit.BlockWidths(g, net.Arch, L)
	cin := widths[after]
	r := rand.New(rand.NewSource(req.Seed))
	pick := make([]int, growth)
	for k := range pick {
		pick[k] = r.Intn(cin)
	}
	a := net.Arch.Clone()
	netedit.FixTransition(&a, g, L)
	d := a.Layers[L-1].Dense
	nd := ir.DenseLayer{Growth: growth, Bottleneck: growth}
	a.Layers[L-1].Dense = append(d[:after:after], append([]ir.DenseLayer{nd}, d[after:]...)...)
	res := sdk.ApplyResult{Net: sdk.Network{Arch: a, Input: net.Input},
		Record: fmt.Sprintf("densedeeper block %d: inserted layer %d (growth %d) replicating channels %v; inverse: remove it and merge the replicas",
			L, after+1, growth, pick),
		Details: map[string][]int{"layer": {L}, "after": {after}, "growth": {growth}, "channels": pick}}
	if net.Weights == nil { // architecture only: no data, no forward pass
		return res, nil
	}
	// Statistics of the features the new layer reads, on a host batch.
	node := g.Nodes[g.LayerNodes(L)[0]].Inputs[0] // the block's input
	if after > 0 {
		for _, id := range g.LayerNodes(L) {
			if n := g.Nodes[id]; n.Op == ir.OpConcat && n.Sub == after {
				node = id
			}
		}
	}
	act, b, err := netedit.Activations(ctx, host, g, net.Weights, node, BatchSize)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	mean, variance, minimum := netedit.ChannelStats(act, b, g.Nodes[node].Out)
	shift := make([]float64, cin)
	for c := range shift {
		shift[c] = 2*math.Max(0, -minimum[c]) + 0.5*math.Sqrt(variance[c]) + 1e-3
	}
	// Rename later dense layers of the block: l{L}.{m} -> l{L}.{m+1} for m > after.
	w := tensor.Map{}
	for k, v := range net.Weights {
		w[ir.ShiftDense(k, L, after, 1)] = v
	}
	for k, v := range netedit.IdentityBN(ir.DenseName(L, after+1, ir.PartBN1), mean, variance, shift) {
		w[k] = v
	}
	sel := tensor.New(growth, cin, 1, 1)
	zMean, zVar := make([]float64, growth), make([]float64, growth)
	for k, c := range pick {
		sel.Data[k*cin+c] = 1
		zMean[k], zVar[k] = mean[c]+shift[c], variance[c]
	}
	for k, v := range netedit.IdentityBN(ir.DenseName(L, after+1, ir.PartBN2), zMean, zVar, nil) {
		w[k] = v
	}
	id := tensor.New(growth, growth, 3, 3)
	for k := 0; k < growth; k++ {
		id.Data[(k*growth+k)*9+4] = 1
	}
	if noise := netedit.NoiseScale(req.Noise, DefaultNoise); noise > 0 {
		for _, t := range []*tensor.Tensor{sel, id} {
			std := netedit.Std(t.Data)
			for i := range t.Data {
				t.Data[i] += float32(r.NormFloat64() * noise * std)
			}
		}
	}
	w[ir.Weight(ir.DenseName(L, after+1, ir.PartConv1))], w[ir.Weight(ir.DenseName(L, after+1, ir.PartConv2))] = sel, id
	// Consumers: channels [cin, cin+growth) are the replicas; later ones move up.
	copies := make([]int, cin)
	for _, c := range pick {
		copies[c]++
	}
	for ci, c := range consumers {
		if ci < len(consumers)-1 { // a later dense layer, renamed
			m := after + 1 + ci
			c = netedit.Consumer{BN: ir.ShiftDense(c.BN, L, m-1, 1), Weight: ir.ShiftDense(c.Weight, L, m-1, 1)}
		}
		inOld := widths[len(widths)-1]
		if ci < len(consumers)-1 {
			inOld = widths[after+1+ci-1]
		}
		var rm netedit.InputRemap
		for n := 0; n < inOld+growth; n++ {
			src, div, sh := n, float32(1), 0.0
			switch {
			case n < cin:
				div = float32(1 + copies[n])
			case n < cin+growth:
				src = pick[n-cin]
				div, sh = float32(1+copies[src]), shift[src]
			default:
				src = n - growth
			}
			rm.Src, rm.Div, rm.Shift = append(rm.Src, src), append(rm.Div, div), append(rm.Shift, sh)
		}
		if err := c.Apply(w, rm); err != nil {
			return sdk.ApplyResult{}, err
		}
	}
	res.Net.Weights = w
	return res, nil
}
