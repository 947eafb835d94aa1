package nn

// gapLayer is global average pooling: each channel's map to its mean.
type gapLayer struct {
	n      *Net
	id, in int
	add    bool
	c, hw  int
	// A pass's operands for the range functions, method values made once
	// in newGAP (a closure capturing locals would allocate on every call).
	x, y, dy, dx []float32
	fwdFn, bwdFn func(w, lo, hi int)
}

func newGAP(n *Net, id, in int, add bool, c, hw int) *gapLayer {
	l := &gapLayer{n: n, id: id, in: in, add: add, c: c, hw: hw}
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return l
}

func (l *gapLayer) forward(bool) {
	n := l.n
	l.x, l.y = n.act[l.in], n.act[l.id]
	n.parallelFor(n.batch*l.c, l.fwdFn)
}

func (l *gapLayer) forwardRange(_, lo, hi int) {
	x, y, hw := l.x, l.y, l.hw
	inv := 1 / float32(hw)
	for pl := lo; pl < hi; pl++ {
		var s float32
		for _, v := range x[pl*hw : (pl+1)*hw] {
			s += v
		}
		y[pl] = s * inv
	}
}

func (l *gapLayer) backward() {
	n := l.n
	l.dy, l.dx = n.grad[l.id], n.grad[l.in]
	n.parallelFor(n.batch*l.c, l.bwdFn)
}

func (l *gapLayer) backwardRange(_, lo, hi int) {
	dy, dx, hw, add := l.dy, l.dx, l.hw, l.add
	inv := 1 / float32(hw)
	for pl := lo; pl < hi; pl++ {
		g := dy[pl] * inv
		d := dx[pl*hw : (pl+1)*hw]
		for j := range d {
			if add {
				d[j] += g
			} else {
				d[j] = g
			}
		}
	}
}
