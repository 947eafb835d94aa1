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
}

func newConcat(n *Net, nd ir.Node, add []bool) *concatLayer {
	l := &concatLayer{n: n, id: nd.ID, ins: nd.Inputs, add: add, out: nd.Out.Size()}
	for _, in := range nd.Inputs {
		l.szs = append(l.szs, n.G.Nodes[in].Out.Size())
	}
	return l
}

func (l *concatLayer) forward(bool) {
	n := l.n
	y := n.act[l.id]
	n.parallelFor(n.batch, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			off := i * l.out
			for k, in := range l.ins {
				sz := l.szs[k]
				copy(y[off:off+sz], n.act[in][i*sz:(i+1)*sz])
				off += sz
			}
		}
	})
}

func (l *concatLayer) backward() {
	n := l.n
	dy := n.grad[l.id]
	n.parallelFor(n.batch, func(_, lo, hi int) {
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
	})
}
