package nn

import "github.com/eas-go/eas/core/ir"

// addLayer sums its inputs elementwise (ADD merges: residual connections).
// Its backward hands the output gradient to every input unchanged, so the
// merge costs its memory traffic and nothing more.
type addLayer struct {
	n   *Net
	id  int
	ins []int
	add []bool
	// Range functions, method values made once in newAdd (a closure
	// literal would allocate on every call).
	fwdFn, bwdFn func(w, lo, hi int)
}

func newAdd(n *Net, nd ir.Node, add []bool) *addLayer {
	l := &addLayer{n: n, id: nd.ID, ins: nd.Inputs, add: add}
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return l
}

func (l *addLayer) forward(bool) { l.n.parallelFor(l.n.batch*l.n.size[l.id], l.fwdFn) }

func (l *addLayer) forwardRange(_, lo, hi int) {
	n := l.n
	y := n.act[l.id][lo:hi]
	copy(y, n.act[l.ins[0]][lo:hi])
	for _, in := range l.ins[1:] {
		addTo(y, n.act[in][lo:hi])
	}
}

func (l *addLayer) backward() { l.n.parallelFor(l.n.batch*l.n.size[l.id], l.bwdFn) }

func (l *addLayer) backwardRange(_, lo, hi int) {
	n := l.n
	dy := n.grad[l.id][lo:hi]
	for k, in := range l.ins {
		if in == 0 {
			continue // the network's input needs no gradient
		}
		d := n.grad[in][lo:hi]
		if l.add[k] {
			addTo(d, dy)
		} else {
			copy(d, dy)
		}
	}
}
