package nn

import "github.com/eas-go/eas/core/ir"

// concatLayer stacks its inputs' channels in order (DenseNet).
type concatLayer struct {
	n   *Net
	id  int
	ins []int
	add []bool
	szs []int // per-example size of each input
	out int
	// Range functions, method values made once in newConcat (a closure
	// literal would allocate on every call).
	fwdFn, bwdFn func(w, lo, hi int)
}

func newConcat(n *Net, nd ir.Node, add []bool) *concatLayer {
	l := &concatLayer{n: n, id: nd.ID, ins: nd.Inputs, add: add, out: nd.Out.Size()}
	for _, in := range nd.Inputs {
		l.szs = append(l.szs, n.G.Nodes[in].Out.Size())
	}
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return l
}

func (l *concatLayer) forward(bool) { l.n.parallelFor(l.n.batch, l.fwdFn) }

func (l *concatLayer) forwardRange(_, lo, hi int) {
	n := l.n
	y := n.act[l.id]
	for i := lo; i < hi; i++ {
		off := i * l.out
		for k, in := range l.ins {
			sz := l.szs[k]
			copy(y[off:off+sz], n.act[in][i*sz:(i+1)*sz])
			off += sz
		}
	}
}

func (l *concatLayer) backward() { l.n.parallelFor(l.n.batch, l.bwdFn) }

func (l *concatLayer) backwardRange(_, lo, hi int) {
	n := l.n
	dy := n.grad[l.id]
	for i := lo; i < hi; i++ {
		off := i * l.out
		for k, in := range l.ins {
			sz := l.szs[k]
			src := dy[off : off+sz]
			if in != 0 {
				d := n.grad[in][i*sz : (i+1)*sz]
				if l.add[k] {
					addTo(d, src)
				} else {
					copy(d, src)
				}
			}
			off += sz
		}
	}
}
