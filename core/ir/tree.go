package ir

import (
	"fmt"
	"strings"
)

// Graphs are written as merges of branches: ADD(b1 | b2 | ...) sums its
// branches' outputs, CAT(b1 | b2 | ...) concatenates them along channels,
// and every branch reads the merge's input. Arch.Layers holds the layers in
// written order, a merge before its branches (so a layer's number is its
// index plus one, as in a chain), and a merge's Arms give its branches'
// lengths, nested layers counted. A chain has no merges and no Arms.

// Limits on the structure of a graph.
const (
	MaxNesting  = 8  // merges inside merges
	MaxBranches = 64 // branches of one merge
)

// IsMerge reports whether the layer's kind holds branches (ADD, CAT).
func (l Layer) IsMerge() bool {
	k := l.Kind.Info()
	return k != nil && k.Join != nil
}

// HasMerges reports whether the architecture is a graph rather than a chain.
func (a Arch) HasMerges() bool {
	for _, l := range a.Layers {
		if l.IsMerge() || len(l.Arms) > 0 {
			return true
		}
	}
	return false
}

// span is the number of layers from index i to the end of its subtree.
func (a Arch) span(i int) int {
	n := 1
	for _, m := range a.Layers[i].Arms {
		n += m
	}
	return n
}

// branches are the index ranges [lo, hi) of merge i's branches.
func (a Arch) branches(i int) [][2]int {
	out := make([][2]int, len(a.Layers[i].Arms))
	lo := i + 1
	for k, m := range a.Layers[i].Arms {
		out[k] = [2]int{lo, lo + m}
		lo += m
	}
	return out
}

func (a Arch) writeSeq(b *strings.Builder, lo, hi int) {
	for i := lo; i < hi; i += a.span(i) {
		if i > lo {
			b.WriteByte(' ')
		}
		l := a.Layers[i]
		if !l.IsMerge() {
			b.WriteString(l.String())
			continue
		}
		b.WriteString(l.Kind.Info().Name + "(")
		for k, br := range a.branches(i) {
			if k > 0 {
				b.WriteString(" | ")
			}
			a.writeSeq(b, br[0], br[1])
		}
		b.WriteByte(')')
	}
}

func (a Arch) seqDepth(lo, hi int) int {
	d := 0
	for i := lo; i < hi; i += a.span(i) {
		l := a.Layers[i]
		if !l.IsMerge() {
			d += l.depth()
			continue
		}
		deepest := 0
		for _, br := range a.branches(i) {
			deepest = max(deepest, a.seqDepth(br[0], br[1]))
		}
		d += deepest
	}
	return d
}

// structure checks the merges' Arms: every merge has 2..MaxBranches
// non-empty branches inside the architecture, merges nest at most
// MaxNesting deep, and only merges have Arms. Nothing else can be checked
// when the structure is wrong.
func (a Arch) structure() []Problem {
	var ps []Problem
	var seq func(lo, hi, depth int) bool
	seq = func(lo, hi, depth int) bool {
		for i := lo; i < hi; i += a.span(i) {
			l := a.Layers[i]
			if !l.IsMerge() {
				if len(l.Arms) > 0 {
					ps = append(ps, Problem{Layer: i + 1, Msg: l.Kind.String() + " has branches: only ADD and CAT do"})
					return false
				}
				continue
			}
			name := l.Kind.String()
			switch {
			case len(l.Arms) < 2:
				ps = append(ps, Problem{Layer: i + 1, Msg: fmt.Sprintf("%s needs at least two branches separated by |, found %d: write e.g. %s(C(16,3,1) | ID)", name, len(l.Arms), name)})
				return false
			case len(l.Arms) > MaxBranches:
				ps = append(ps, Problem{Layer: i + 1, Msg: fmt.Sprintf("%s has %d branches; the limit is %d", name, len(l.Arms), MaxBranches)})
				return false
			case depth >= MaxNesting:
				ps = append(ps, Problem{Layer: i + 1, Msg: fmt.Sprintf("merges nest more than %d deep here", MaxNesting)})
				return false
			}
			n := 0
			for k, m := range l.Arms {
				if m < 1 {
					ps = append(ps, Problem{Layer: i + 1, Msg: fmt.Sprintf("%s: branch %d is empty: write ID for the identity", name, k+1)})
					return false
				}
				if n += m; n > hi-i-1 {
					ps = append(ps, Problem{Layer: i + 1, Msg: fmt.Sprintf("%s: its branches have %d layers but only %d follow it", name, n, hi-i-1)})
					return false
				}
			}
			for _, br := range a.branches(i) {
				if !seq(br[0], br[1], depth+1) {
					return false
				}
			}
		}
		return true
	}
	seq(0, len(a.Layers), 0)
	return ps
}

// Tree is the structure of a checked architecture, for walking a graph by
// layer numbers (1-based). Layer 0 stands for the network's input.
type Tree struct {
	a      Arch
	parent []int // 0-based index of the enclosing merge, -1 at top level
	branch []int // 0-based branch of the enclosing merge
	end    []int // exclusive end index of the sequence holding the layer
	start  []int // first index of that sequence
}

// Tree computes the structure; the architecture must have passed Check
// (its Arms consistent).
func (a Arch) Tree() Tree {
	n := len(a.Layers)
	t := Tree{a: a, parent: make([]int, n), branch: make([]int, n), end: make([]int, n), start: make([]int, n)}
	var seq func(lo, hi, parent, branch int)
	seq = func(lo, hi, parent, branch int) {
		for i := lo; i < hi && i < n; i += a.span(i) {
			t.parent[i], t.branch[i], t.start[i], t.end[i] = parent, branch, lo, hi
			if a.Layers[i].IsMerge() {
				for k, br := range a.branches(i) {
					seq(br[0], br[1], i, k)
				}
			}
		}
	}
	seq(0, n, -1, 0)
	return t
}

// Enclosing is the merge holding layer li directly and the 0-based branch
// it is in; merge 0 at top level.
func (t Tree) Enclosing(li int) (merge, branch int) {
	return t.parent[li-1] + 1, t.branch[li-1]
}

// Depth is how many merges enclose layer li.
func (t Tree) Depth(li int) int {
	d := 0
	for m, _ := t.Enclosing(li); m > 0; m, _ = t.Enclosing(m) {
		d++
	}
	return d
}

// Next is the layer after li (and its branches) in li's sequence, 0 when li
// ends its sequence.
func (t Tree) Next(li int) int {
	if n := li - 1 + t.a.span(li-1); n < t.end[li-1] {
		return n + 1
	}
	return 0
}

// End is the last layer of li's subtree (li itself unless it is a merge).
func (t Tree) End(li int) int { return li - 1 + t.a.span(li-1) }

// Input is the layer whose output layer li reads: the previous layer of its
// sequence, for the first layer of a branch the merge's input, and 0 for
// the network's input.
func (t Tree) Input(li int) int {
	i := li - 1
	if i == t.start[i] {
		if p := t.parent[i]; p >= 0 {
			return t.Input(p + 1)
		}
		return 0
	}
	prev := t.start[i]
	for j := prev; j < i; j += t.a.span(j) {
		prev = j
	}
	return prev + 1
}

// Branches are the layer numbers of merge m's branches, each in order, the
// branches' own merges standing for their subtrees.
func (t Tree) Branches(m int) [][]int {
	var out [][]int
	for _, br := range t.a.branches(m - 1) {
		var seq []int
		for i := br[0]; i < br[1]; i += t.a.span(i) {
			seq = append(seq, i+1)
		}
		out = append(out, seq)
	}
	return out
}

// Readers are the layers that read li's output: the next layer of its
// sequence (the first layers of every branch, when that is a merge), or the
// enclosing merge when li ends a branch. Layer 0 (the input) is read by the
// first layer.
func (t Tree) Readers(li int) []int {
	var next int
	if li == 0 {
		next = 1
	} else if next = t.Next(li); next == 0 {
		if m, _ := t.Enclosing(li); m > 0 {
			return []int{m}
		}
		return nil
	}
	return t.firsts(next)
}

// firsts is li itself, or for a merge the first layers of its branches.
func (t Tree) firsts(li int) []int {
	if !t.a.Layers[li-1].IsMerge() {
		return []int{li}
	}
	var out []int
	for _, br := range t.Branches(li) {
		out = append(out, t.firsts(br[0])...)
	}
	return out
}

// seqString prints the layers of an index range canonically.
func (a Arch) seqString(r [2]int) string {
	var b strings.Builder
	a.writeSeq(&b, r[0], r[1])
	return b.String()
}

// LayerOut is the ID of the node holding written layer li's output (0 for
// the input): its last node, or for ID the output it passes on.
func (g *Graph) LayerOut(li int) int {
	for li > 0 && g.Arch.Layers[li-1].Kind == Identity {
		li = g.Arch.Tree().Input(li)
	}
	out := 0
	for _, n := range g.Nodes {
		if n.Layer == li && li > 0 {
			out = n.ID
		}
	}
	return out
}

// Label is layer li as a row of a table: indented with a dot per merge
// holding it (tables trim spaces), a merge opening its parentheses, the
// first layer of a later branch after "|".
func (t Tree) Label(li int) string {
	l := t.a.Layers[li-1]
	s := l.String()
	if l.IsMerge() {
		s += "("
	}
	d := t.Depth(li)
	if d == 0 {
		return s
	}
	m, k := t.Enclosing(li)
	if k > 0 && t.Branches(m)[k][0] == li {
		return strings.Repeat("· ", d-1) + "| " + s
	}
	return strings.Repeat("· ", d) + s
}
