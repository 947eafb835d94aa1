package nn

import "github.com/eas-go/eas/core/ir"

// fcLayer is a fully-connected layer on the flattened input, y = x W^T (+ b),
// W [units, in]; it also implements the final SM layer's linear part.
type fcLayer struct {
	n            *Net
	id, in       int
	add          bool
	d, u         int
	wName, bName string
}

func newFC(n *Net, nd ir.Node, d int, add bool) *fcLayer {
	l := &fcLayer{n: n, id: nd.ID, in: nd.Inputs[0], add: add, d: d, u: nd.Units, wName: nd.Name + ".weight"}
	if nd.Bias {
		l.bName = nd.Name + ".bias"
	}
	return l
}

func (l *fcLayer) forward(bool) {
	n := l.n
	x, y := n.act[l.in], n.act[l.id]
	w := n.param(l.wName)
	b := n.batch
	Sgemm(false, true, b, l.u, l.d, 1, x, l.d, w, l.d, 0, y, l.u)
	if l.bName != "" {
		bias := n.param(l.bName)
		for i := 0; i < b; i++ {
			row := y[i*l.u : (i+1)*l.u]
			for j := range row {
				row[j] += bias[j]
			}
		}
	}
}

func (l *fcLayer) backward() {
	n := l.n
	x, dy, dx := n.act[l.in], n.grad[l.id], n.grad[l.in]
	w := n.param(l.wName)
	b := n.batch
	Sgemm(true, false, l.u, l.d, b, 1, dy, l.u, x, l.d, 0, n.grads[l.wName], l.d)
	if l.in != 0 {
		beta := float32(0)
		if l.add {
			beta = 1
		}
		Sgemm(false, false, b, l.d, l.u, 1, dy, l.u, w, l.d, beta, dx, l.d)
	}
	if l.bName != "" {
		gb := n.grads[l.bName]
		clear(gb)
		for i := 0; i < b; i++ {
			for j, v := range dy[i*l.u : (i+1)*l.u] {
				gb[j] += v
			}
		}
	}
}
