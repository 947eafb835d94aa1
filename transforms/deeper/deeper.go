package deeper

import (
	"context"
	"fmt"
	"math/rand"
	"slices"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/internal/netedit"
)

// DefaultNoise is the authors' code's noise on the new kernel: 1e-3 * std.
const DefaultNoise = 1e-3

// BatchSize is the number of host images used to set the new BatchNorm
// (verify.HostBatch, so a first training step on that batch sees an identity).
const BatchSize = 64

// Transform is the built-in "deeper".
type Transform struct{}

// New returns the transform.
func New() sdk.Transform { return Transform{} }

// Describe names the transform and its arguments.
func (Transform) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "deeper", Kind: sdk.KindTransform, Version: "1.0", Families: []string{string(ir.FamilyPlain)},
		Params:      []string{"after", "kernel", "fc"},
		Description: "Net2Deeper: insert an identity C(n,kernel,1) after a layer, or an identity FC after an FC or GAP"}, nil
}

// fcRegion reports whether a layer inserted after layer `after` must be FC:
// it follows a layer whose output is a vector (an FC layer or the global
// average pooling).
func fcRegion(a ir.Arch, after int) bool {
	for _, l := range a.Layers[:after] {
		if k := l.Kind.Info(); k != nil && k.Flat != "" {
			return true
		}
	}
	return false
}

// nonNegative reports whether layer after's output is post-ReLU (some C or FC
// at or before it; pooling, dropout and GAP keep values non-negative; in a
// graph, a merge's output is when every branch's is). Only there does
// ReLU(identity(x)) = x hold.
func nonNegative(a ir.Arch, after int) bool {
	if !a.HasMerges() {
		for _, l := range a.Layers[:after] {
			if k := l.Kind.Info(); k != nil && k.ReLU {
				return true
			}
		}
		return false
	}
	return nonNeg(a.Tree(), a, after)
}

func nonNeg(t ir.Tree, a ir.Arch, v int) bool {
	if v == 0 {
		return false
	}
	l := a.Layers[v-1]
	k := l.Kind.Info()
	switch {
	case k.ReLU:
		return true
	case l.IsMerge():
		for _, br := range t.Branches(v) {
			if !nonNeg(t, a, br[len(br)-1]) {
				return false
			}
		}
		return true
	case k.PassThrough:
		return nonNeg(t, a, t.Input(v))
	}
	return false
}

// Actions lists every insertion point (after layer 1 .. the layer before SM)
// with every kernel size of the space for convolutions (any odd size; the
// paper's space has 1, 3 and 5).
func (x Transform) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	acts, err := x.actions(ctx, req.Net, req.Space)
	return sdk.ActionsResult{Actions: acts}, err
}

func (x Transform) actions(_ context.Context, net sdk.Network, s ir.Space) ([]sdk.Action, error) {
	if net.Arch.Family() != ir.FamilyPlain {
		return nil, nil
	}
	var out []sdk.Action
	for after := 1; after < len(net.Arch.Layers); after++ {
		if net.Arch.Layers[after-1].Kind == ir.Identity || !nonNegative(net.Arch, after) {
			continue
		}
		if fcRegion(net.Arch, after) {
			out = append(out, sdk.Action{Transform: "deeper", Args: map[string]int{"after": after}})
			continue
		}
		for _, k := range s.Kernels {
			if validKernel(k) {
				out = append(out, sdk.Action{Transform: "deeper", Args: map[string]int{"after": after, "kernel": k}})
			}
		}
	}
	return out, nil
}

// validKernel: an identity convolution needs a centre tap, so the size is
// odd; MaxKernel bounds it.
func validKernel(k int) bool { return k >= 1 && k%2 == 1 && k <= MaxKernel }

// MaxKernel is the largest kernel size deeper inserts.
const MaxKernel = 15

// Apply inserts the identity layer.
func (Transform) Apply(ctx context.Context, req sdk.ApplyRequest, host sdk.Host) (sdk.ApplyResult, error) {
	net := req.Net
	if net.Arch.Family() != ir.FamilyPlain {
		return sdk.ApplyResult{}, fmt.Errorf("deeper applies to plain CNNs; use densedeeper for DenseNets")
	}
	g, err := netedit.CheckWeights(net)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	after, err := netedit.Layer(net.Arch, req.Action.Args, "after")
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	if after == len(net.Arch.Layers) {
		return sdk.ApplyResult{}, fmt.Errorf("after=%d is the final SM layer: nothing can be inserted after it", after)
	}
	if net.Arch.Layers[after-1].Kind == ir.Identity {
		return sdk.ApplyResult{}, fmt.Errorf("after=%d is ID, a branch of its own: insert after the layer before its merge or after the merge", after)
	}
	if !nonNegative(net.Arch, after) {
		return sdk.ApplyResult{}, fmt.Errorf("after=%d: the output of layer %d can be negative (no C or FC before it), so an identity layer followed by ReLU would not preserve the function", after, after)
	}
	fc := fcRegion(net.Arch, after)
	kernel, hasKernel := req.Action.Args["kernel"]
	if wantFC, ok := req.Action.Args["fc"]; ok && wantFC != 0 && !fc {
		return sdk.ApplyResult{}, fmt.Errorf("an FC layer cannot be inserted after layer %d (%s): it would sit among convolutions; only after an FC or GAP", after, net.Arch.Layers[after-1])
	}
	if fc && hasKernel {
		return sdk.ApplyResult{}, fmt.Errorf("after layer %d (%s) the new layer must be FC, which takes no kernel size", after, net.Arch.Layers[after-1])
	}
	if !fc && !hasKernel {
		return sdk.ApplyResult{}, fmt.Errorf("a convolution inserted after layer %d needs a kernel size (kernel=K, one of the space's kernels %v)", after, req.Space.Kernels)
	}
	if !fc && !validKernel(kernel) {
		return sdk.ApplyResult{}, fmt.Errorf("kernel=%d: a new convolution's kernel size must be odd and positive (same padding keeps the identity)", kernel)
	}
	if !fc && len(req.Space.Kernels) > 0 && !slices.Contains(req.Space.Kernels, kernel) {
		return sdk.ApplyResult{}, fmt.Errorf("kernel=%d is not among the search space's kernels %v", kernel, req.Space.Kernels)
	}
	outID := g.LayerOut(after)
	shape := g.Nodes[outID].Out
	// The new layer follows after's subtree (a merge and its branches) in
	// after's sequence, in the same branch.
	tree := net.Arch.Tree()
	at := tree.End(after)
	ni := at + 1
	layer := ir.Layer{Kind: ir.FC, Units: shape.Size()}
	if !fc {
		layer = ir.Layer{Kind: ir.Conv, Filters: shape.C, Kernel: kernel, Stride: 1}
	}
	a := net.Arch.Clone()
	a.Layers = append(a.Layers[:at], append([]ir.Layer{layer}, a.Layers[at:]...)...)
	for m, k := tree.Enclosing(after); m > 0; m, k = tree.Enclosing(m) {
		a.Layers[m-1].Arms[k]++
	}
	res := sdk.ApplyResult{Net: sdk.Network{Arch: a, Input: net.Input},
		Record:  fmt.Sprintf("deeper: inserted %s as layer %d after layer %d (%s); inverse: remove layer %d", layer, ni, after, net.Arch.Layers[after-1], ni),
		Details: map[string][]int{"after": {after}, "layer": {ni}, "kernel": {kernel}}}
	if net.Weights == nil { // architecture only: no data, no forward pass
		return res, nil
	}
	act, b, err := netedit.Activations(ctx, host, g, net.Weights, outID, BatchSize)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	r := rand.New(rand.NewSource(req.Seed))
	noise := netedit.NoiseScale(req.Noise, DefaultNoise)
	var kw *tensor.Tensor
	var mean, variance []float64
	if fc {
		u := shape.Size()
		kw = tensor.New(u, u)
		for i := 0; i < u; i++ {
			kw.Data[i*u+i] = 1
		}
		mean, variance, _ = netedit.ChannelStats(act, b, ir.Shape{C: u, H: 1, W: 1})
	} else {
		c := shape.C
		kw = tensor.New(c, c, kernel, kernel)
		centre := (kernel - 1) / 2
		for i := 0; i < c; i++ {
			kw.Data[((i*c+i)*kernel+centre)*kernel+centre] = 1
		}
		mean, variance, _ = netedit.ChannelStats(act, b, shape)
	}
	prefix := ir.LayerName(ni, layer.Kind.Info().Weights)
	if noise > 0 {
		std := netedit.Std(kw.Data)
		for i := range kw.Data {
			kw.Data[i] += float32(r.NormFloat64() * noise * std)
		}
	}
	w := netedit.Shift(net.Weights, at, 1)
	w[ir.Weight(prefix)] = kw
	for k, v := range netedit.IdentityBN(ir.LayerName(ni, ir.PartBN), mean, variance, nil) {
		w[k] = v
	}
	res.Net.Weights = w
	return res, nil
}
