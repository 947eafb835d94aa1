package netedit

import (
	"fmt"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// InputRemap describes how a consumer's input channels change: new channel
// n reads old channel Src[n], its weights are divided by Div[n], and its
// BatchNorm running mean moves by Shift[n] (a replicated channel may carry
// a constant offset).
type InputRemap struct {
	Src   []int
	Div   []float32
	Shift []float64
}

// Consumer is a layer reading a dense block's concatenated features through
// BN -> ReLU -> weights (a later dense layer, the transition, or the final
// BN before GAP followed by the classifier).
type Consumer struct {
	BN     string // BN prefix
	Weight string // weight tensor name; its input channels are remapped
}

// BlockConsumers lists the consumers of dense block L's features from
// dense layer `from` (1-based) on: later dense layers and what follows the block.
func BlockConsumers(g *ir.Graph, a ir.Arch, L, from int) ([]Consumer, error) {
	db := a.Layers[L-1]
	var cs []Consumer
	for m := from; m <= len(db.Dense); m++ {
		if db.Dense[m-1].Bottleneck > 0 {
			cs = append(cs, Consumer{BN: ir.DenseName(L, m, ir.PartBN1), Weight: ir.Weight(ir.DenseName(L, m, ir.PartConv1))})
		} else {
			cs = append(cs, Consumer{BN: ir.DenseName(L, m, ir.PartBN2), Weight: ir.Weight(ir.DenseName(L, m, ir.PartConv2))})
		}
	}
	if L >= len(a.Layers) {
		return nil, fmt.Errorf("dense block %d is the last layer", L)
	}
	switch next := a.Layers[L]; next.Kind {
	case ir.Transition:
		cs = append(cs, Consumer{BN: ir.LayerName(L+1, ir.PartBN), Weight: ir.Weight(ir.LayerName(L+1, ir.PartConv))})
	case ir.GAP:
		k := L + 2
		for k <= len(a.Layers) && a.Layers[k-1].Kind.Info().PassThrough {
			k++
		}
		if k > len(a.Layers) {
			return nil, fmt.Errorf("no classifier after GAP")
		}
		w, ok := g.InputWeight(k)
		if !ok {
			return nil, fmt.Errorf("layer %d (%s) after GAP is not supported", k, a.Layers[k-1])
		}
		cs = append(cs, Consumer{BN: ir.LayerName(L+1, ir.PartBN), Weight: w})
	default:
		return nil, fmt.Errorf("dense block %d is followed by %s; dense transforms need T or GAP after a block", L, next)
	}
	return cs, nil
}

// Apply rewrites a consumer in w (replacing tensors, never writing into old
// ones). The remap covers the consumer's whole input; channels past len(Src)
// do not occur.
func (c Consumer) Apply(w tensor.Map, r InputRemap) error {
	for _, s := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
		t, ok := w[c.BN+s]
		if !ok {
			return fmt.Errorf("missing %s%s", c.BN, s)
		}
		nt := tensor.New(len(r.Src))
		for n, src := range r.Src {
			if src >= len(t.Data) {
				return fmt.Errorf("%s%s: channel %d out of range", c.BN, s, src)
			}
			nt.Data[n] = t.Data[src]
			if s == ".running_mean" && r.Shift != nil {
				nt.Data[n] = float32(float64(nt.Data[n]) + r.Shift[n])
			}
		}
		w[c.BN+s] = nt
	}
	t, ok := w[c.Weight]
	if !ok {
		return fmt.Errorf("missing %s", c.Weight)
	}
	w[c.Weight] = GatherInputs(t, r.Src, r.Div, len(w[c.BN+".weight"].Data))
	return nil
}

// GatherInputs rewrites a weight [out, in*block...] (conv [O,C,k,k] or
// linear [O, C]) so that new input channel n is old channel src[n] divided
// by div[n]. oldIn is unused except as a sanity bound.
func GatherInputs(t *tensor.Tensor, src []int, div []float32, _ int) *tensor.Tensor {
	outs := t.Shape[0]
	per := len(t.Data) / outs
	oldIn := t.Shape[1]
	block := per / oldIn
	shape := append([]int{}, t.Shape...)
	shape[1] = len(src)
	nt := tensor.New(shape...)
	nper := len(src) * block
	for o := 0; o < outs; o++ {
		from := t.Data[o*per : (o+1)*per]
		to := nt.Data[o*nper : (o+1)*nper]
		for n, s := range src {
			inv := float32(1)
			if div != nil {
				inv = 1 / div[n]
			}
			for k := 0; k < block; k++ {
				to[n*block+k] = from[s*block+k] * inv
			}
		}
	}
	return nt
}

// BlockWidths returns the channels entering dense block L and after each of
// its layers: widths[0] is the input, widths[j] after layer j.
func BlockWidths(g *ir.Graph, a ir.Arch, L int) []int {
	first := g.LayerNodes(L)[0]
	c0 := g.Nodes[g.Nodes[first].Inputs[0]].Out.C
	w := []int{c0}
	for _, d := range a.Layers[L-1].Dense {
		w = append(w, w[len(w)-1]+d.Growth)
	}
	return w
}

// FixTransition pins the transition after block L to its current output
// width, so changing the block's width leaves the transition's output (and
// everything after it) unchanged.
func FixTransition(a *ir.Arch, g *ir.Graph, L int) {
	if L < len(a.Layers) && a.Layers[L].Kind == ir.Transition && a.Layers[L].Filters == 0 {
		nodes := g.LayerNodes(L + 1)
		for _, id := range nodes {
			if g.Nodes[id].Op == ir.OpConv {
				a.Layers[L].Filters = g.Nodes[id].Filters
			}
		}
	}
}

// DenseBlockArg checks that args[key] names a dense block.
func DenseBlockArg(a ir.Arch, args map[string]int, key string) (int, error) {
	L, err := Layer(a, args, key)
	if err != nil {
		return 0, err
	}
	if a.Layers[L-1].Kind != ir.DenseBlock {
		return 0, fmt.Errorf("%s=%d is %s, not a dense block (DB)", key, L, a.Layers[L-1])
	}
	return L, nil
}
