package actspace

import (
	"sort"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/sdk"
)

// Limits of the tree heads; positions beyond them are not offered.
const (
	MaxBlocks    = 8
	MaxPositions = 32
	MaxOptions   = 3
)

// Vocab maps layers to token ids for the encoder.
type Vocab struct {
	space ir.Space
	Size  int
}

// NewVocab builds the vocabulary of a search space.
func NewVocab(s ir.Space) Vocab {
	return Vocab{space: s, Size: 8 + 3*len(s.Filters) + len(s.Units) + len(s.Growth)}
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
// 6 fc-other, 7 conv-other, then conv (filters x kernel), fc (units), dense (growth).
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
		return 8 + 3*len(v.space.Filters) + nearest(v.space.Units, l.Units)
	case ir.Conv:
		if len(v.space.Filters) == 0 {
			return 7
		}
		k := map[int]int{1: 0, 3: 1, 5: 2}[l.Kernel]
		return 8 + 3*nearest(v.space.Filters, l.Filters) + k
	}
	return 0
}

func (v Vocab) dense(growth int) int {
	if len(v.space.Growth) == 0 {
		return 0
	}
	return 8 + 3*len(v.space.Filters) + len(v.space.Units) + nearest(v.space.Growth, growth)
}

// Tokens returns the token sequence of an architecture (one per layer, one
// per dense layer inside blocks, the final SM left out) and the token
// position of each (layer, sub) pair (sub 0 for non-block layers).
func (v Vocab) Tokens(a ir.Arch) ([]int, map[[2]int]int) {
	var toks []int
	pos := map[[2]int]int{}
	for i, l := range a.Layers {
		if l.Kind == ir.Softmax {
			continue
		}
		if l.Kind == ir.DenseBlock {
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

// IsMulti reports whether a transform's step decides per layer.
func IsMulti(transform string) bool { return transform == "wider" || transform == "densewider" }

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
	ID     int // 0..MaxOptions-1
	Action sdk.Action
}

type key struct{ block, pos, opt int }

// TreeOf structures a tree step's candidates.
func TreeOf(a ir.Arch, transform string, cands []sdk.Action) Tree {
	keys := make([]key, len(cands))
	for i, c := range cands {
		switch transform {
		case "deeper":
			after := c.Args["after"]
			keys[i] = key{plainBlock(a, after), after, map[int]int{1: 0, 3: 1, 5: 2}[c.Args["kernel"]]}
		case "densedeeper":
			keys[i] = key{denseBlock(a, c.Args["layer"]), c.Args["after"], 0}
		default:
			keys[i] = key{0, i, 0}
		}
	}
	byBlock := map[int]map[int][]TreeOpt{}
	for i, k := range keys {
		if k.block >= MaxBlocks {
			k.block = MaxBlocks - 1
		}
		if byBlock[k.block] == nil {
			byBlock[k.block] = map[int][]TreeOpt{}
		}
		byBlock[k.block][k.pos] = append(byBlock[k.block][k.pos], TreeOpt{ID: min(k.opt, MaxOptions-1), Action: cands[i]})
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
		if (l.Kind == ir.FC || l.Kind == ir.GAP) && i < after {
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
	s := a.String()
	for bi, bl := range t.Blocks {
		for pi, pos := range bl.Positions {
			for oi, opt := range pos.Options {
				if opt.Action.String() == s {
					return bi, pi, oi, true
				}
			}
		}
	}
	return 0, 0, 0, false
}
