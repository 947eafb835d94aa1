package actspace

import (
	"sort"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/sdk"
)

// Limits of the tree heads; positions beyond them are not offered. The
// option head has one entry per kernel size of the space (Vocab.Options).
const (
	MaxBlocks    = 8
	MaxPositions = 32
)

// Vocab maps layers to token ids for the encoder and knows the option
// (kernel) indices of the search space.
type Vocab struct {
	space ir.Space
	Size  int
}

// NewVocab builds the vocabulary of a search space: a token per conv
// (filters x kernel size of the space), FC (units) and dense layer (growth).
func NewVocab(s ir.Space) Vocab {
	return Vocab{space: s, Size: 8 + kernelSlots(s)*len(s.Filters) + len(s.Units) + len(s.Growth)}
}

// kernelSlots is the number of kernel sizes a token or an option tells apart.
func kernelSlots(s ir.Space) int { return max(1, len(s.Kernels)) }

// Options is the size of the tree's option head: one per kernel size.
func (v Vocab) Options() int { return kernelSlots(v.space) }

// kernel is the index of kernel size k in the space (the nearest size for
// one outside it; 0 for an empty list).
func (v Vocab) kernel(k int) int {
	if len(v.space.Kernels) == 0 {
		return 0
	}
	return nearest(v.space.Kernels, k)
}

func nearest(list []int, v int) int {
	best, bd := 0, -1
	for i, x := range list {
		d := x - v
		if d < 0 {
			d = -d
		}
		if bd < 0 || d < bd {
			best, bd = i, d
		}
	}
	return best
}

// token ids: 0 unknown, 1 pool-max, 2 pool-avg, 3 dropout, 4 gap, 5 transition,
// 6 fc-other, 7 conv-other, then conv (filters x kernel sizes of the space),
// fc (units), dense (growth).
func (v Vocab) token(l ir.Layer) int {
	switch l.Kind {
	case ir.Pool:
		if l.Op == ir.Max {
			return 1
		}
		return 2
	case ir.Dropout:
		return 3
	case ir.GAP:
		return 4
	case ir.Transition:
		return 5
	case ir.FC:
		if len(v.space.Units) == 0 {
			return 6
		}
		return 8 + kernelSlots(v.space)*len(v.space.Filters) + nearest(v.space.Units, l.Units)
	case ir.Conv:
		if len(v.space.Filters) == 0 {
			return 7
		}
		return 8 + kernelSlots(v.space)*nearest(v.space.Filters, l.Filters) + v.kernel(l.Kernel)
	}
	return 0
}

func (v Vocab) dense(growth int) int {
	if len(v.space.Growth) == 0 {
		return 0
	}
	return 8 + kernelSlots(v.space)*len(v.space.Filters) + len(v.space.Units) + nearest(v.space.Growth, growth)
}

// Tokens returns the token sequence of an architecture (one per layer, one
// per dense layer inside blocks, the final SM left out) and the token
// position of each (layer, sub) pair (sub 0 for non-block layers).
func (v Vocab) Tokens(a ir.Arch) ([]int, map[[2]int]int) {
	var toks []int
	pos := map[[2]int]int{}
	for i, l := range a.Layers {
		if k := l.Kind.Info(); k != nil && k.Final {
			continue
		}
		if len(l.Dense) > 0 {
			for j, d := range l.Dense {
				pos[[2]int{i + 1, j + 1}] = len(toks)
				toks = append(toks, v.dense(d.Growth))
			}
			continue
		}
		pos[[2]int{i + 1, 0}] = len(toks)
		toks = append(toks, v.token(l))
	}
	if len(toks) == 0 {
		toks = []int{0}
	}
	return toks, pos
}

// Each reports whether the step's transform decides each candidate on its
// own (sdk.ChooseEach in its Info, as ControllerConfig.Transforms gives it).
func Each(transforms []sdk.Info, transform string) bool {
	for _, t := range transforms {
		if t.Name == transform {
			return t.Choice == sdk.ChooseEach
		}
	}
	return false
}

// Multi is a per-layer step: Positions[k] is the token position of Actions[k].
type Multi struct {
	Positions []int
	Actions   []sdk.Action
}

// MultiOf maps candidates to token positions.
func MultiOf(pos map[[2]int]int, cands []sdk.Action) Multi {
	var m Multi
	for _, c := range cands {
		p, ok := pos[[2]int{c.Args["layer"], c.Args["sub"]}]
		if !ok {
			continue
		}
		m.Positions = append(m.Positions, p)
		m.Actions = append(m.Actions, c)
	}
	return m
}

// Tree is a block -> position -> option step.
type Tree struct {
	Blocks []TreeBlock // only blocks with candidates, by block id
}

// TreeBlock is one block's positions.
type TreeBlock struct {
	ID        int // 0..MaxBlocks-1
	Positions []TreePos
}

// TreePos is one insertion point and its options.
type TreePos struct {
	Options []TreeOpt
}

// TreeOpt is one option (kernel size index) and its action.
type TreeOpt struct {
	ID     int // 0..Vocab.Options()-1
	Action sdk.Action
}

type key struct{ block, pos, opt int }

// TreeOf structures a one-action step's candidates by their arguments, not
// by the transform's name: an action with "after" sits at that position, in
// the dense block of its "layer" if it has one (densedeeper) or else in the
// plain block after which it inserts (deeper); its option is the index of
// its "kernel" among the space's kernel sizes. Actions without "after" are
// positions of one block, in order.
func (v Vocab) TreeOf(a ir.Arch, cands []sdk.Action) Tree {
	opts := v.Options()
	keys := make([]key, len(cands))
	for i, c := range cands {
		after, hasAfter := c.Args["after"]
		if !hasAfter {
			keys[i] = key{0, i, 0}
			continue
		}
		k := key{plainBlock(a, after), after, 0}
		if layer, ok := c.Args["layer"]; ok {
			k.block = denseBlock(a, layer)
		}
		if kern, ok := c.Args["kernel"]; ok {
			k.opt = min(v.kernel(kern), opts-1)
		}
		keys[i] = k
	}
	byBlock := map[int]map[int][]TreeOpt{}
	for i, k := range keys {
		if k.block >= MaxBlocks {
			k.block = MaxBlocks - 1
		}
		if byBlock[k.block] == nil {
			byBlock[k.block] = map[int][]TreeOpt{}
		}
		byBlock[k.block][k.pos] = append(byBlock[k.block][k.pos], TreeOpt{ID: k.opt, Action: cands[i]})
	}
	var t Tree
	var ids []int
	for b := range byBlock {
		ids = append(ids, b)
	}
	sort.Ints(ids)
	for _, b := range ids {
		var ps []int
		for p := range byBlock[b] {
			ps = append(ps, p)
		}
		sort.Ints(ps)
		tb := TreeBlock{ID: b}
		for _, p := range ps {
			if len(tb.Positions) == MaxPositions {
				break
			}
			opts := byBlock[b][p]
			sort.Slice(opts, func(i, j int) bool { return opts[i].ID < opts[j].ID })
			tb.Positions = append(tb.Positions, TreePos{Options: opts})
		}
		t.Blocks = append(t.Blocks, tb)
	}
	return t
}

// plainBlock: blocks are separated by pooling layers; the FC part (after an
// FC or GAP) is the last block.
func plainBlock(a ir.Arch, after int) int {
	pools, fc := 0, false
	for i, l := range a.Layers {
		if l.Kind == ir.Pool && i < after {
			pools++
		}
		if k := l.Kind.Info(); k != nil && k.Flat != "" && i < after {
			fc = true
		}
	}
	if fc {
		total := 0
		for _, l := range a.Layers {
			if l.Kind == ir.Pool {
				total++
			}
		}
		return total + 1
	}
	return pools
}

func denseBlock(a ir.Arch, layer int) int {
	n := 0
	for i, l := range a.Layers {
		if i+1 == layer {
			return n
		}
		if l.Kind == ir.DenseBlock {
			n++
		}
	}
	return n
}

// Find returns the block, position and option indices of the tree's entry
// for a, or false.
func (t Tree) Find(a sdk.Action) (b, p, o int, ok bool) {
	for bi, bl := range t.Blocks {
		for pi, pos := range bl.Positions {
			for oi, opt := range pos.Options {
				if opt.Action.Equal(a) {
					return bi, pi, oi, true
				}
			}
		}
	}
	return 0, 0, 0, false
}
