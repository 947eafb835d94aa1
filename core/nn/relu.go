package nn

import "math"

// reluGrad is g where the ReLU output y > 0, else 0, without a branch: y is
// never negative, so its bit pattern is positive exactly when y > 0.
func reluGrad(g, y float32) float32 {
	mask := uint32(-int32(math.Float32bits(y)) >> 31)
	return math.Float32frombits(math.Float32bits(g) & mask)
}

// reluLayer is max(0, x).
type reluLayer struct {
	n      *Net
	id, in int
	add    bool
	// A pass's operands for the range functions, method values made once
	// in newReLU (a closure capturing locals would allocate on every call).
	x, y, dy, dx []float32
	fwdFn, bwdFn func(w, lo, hi int)
}

func newReLU(n *Net, id, in int, add bool) *reluLayer {
	l := &reluLayer{n: n, id: id, in: in, add: add}
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return l
}

func (l *reluLayer) forward(bool) {
	n := l.n
	sz := n.batch * n.size[l.id]
	l.x, l.y = n.act[l.in][:sz], n.act[l.id][:sz]
	n.parallelFor(sz, l.fwdFn)
}

func (l *reluLayer) forwardRange(_, lo, hi int) {
	dst := l.y[lo:hi]
	for i, v := range l.x[lo:hi] {
		dst[i] = max(v, 0) // branch-free: signs are random, mispredictions cost more than the work
	}
}

func (l *reluLayer) backward() {
	n := l.n
	sz := n.batch * n.size[l.id]
	l.y, l.dy, l.dx = n.act[l.id][:sz], n.grad[l.id][:sz], n.grad[l.in][:sz]
	n.parallelFor(sz, l.bwdFn)
}

func (l *reluLayer) backwardRange(_, lo, hi int) {
	ys, gs, d := l.y[lo:hi], l.dy[lo:hi], l.dx[lo:hi]
	if l.add {
		for i := range d {
			d[i] += reluGrad(gs[i], ys[i])
		}
	} else {
		for i := range d {
			d[i] = reluGrad(gs[i], ys[i])
		}
	}
}
