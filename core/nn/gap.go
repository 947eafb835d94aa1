package nn

// gapLayer is global average pooling: each channel's map to its mean.
type gapLayer struct {
	n      *Net
	id, in int
	add    bool
	c, hw  int
}

func (l *gapLayer) forward(bool) {
	n := l.n
	x, y := n.act[l.in], n.act[l.id]
	inv := 1 / float32(l.hw)
	n.parallelFor(n.batch*l.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			var s float32
			for _, v := range x[pl*l.hw : (pl+1)*l.hw] {
				s += v
			}
			y[pl] = s * inv
		}
	})
}

func (l *gapLayer) backward() {
	n := l.n
	dy, dx := n.grad[l.id], n.grad[l.in]
	inv := 1 / float32(l.hw)
	n.parallelFor(n.batch*l.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			g := dy[pl] * inv
			d := dx[pl*l.hw : (pl+1)*l.hw]
			for j := range d {
				if l.add {
					d[j] += g
				} else {
					d[j] = g
				}
			}
		}
	})
}
