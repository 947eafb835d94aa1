package nn

// reluLayer is max(0, x).
type reluLayer struct {
	n      *Net
	id, in int
	add    bool
}

func (l *reluLayer) forward(bool) {
	n := l.n
	sz := n.batch * n.size[l.id]
	x, y := n.act[l.in][:sz], n.act[l.id][:sz]
	parallelFor(sz, func(_, lo, hi int) {
		for i, v := range x[lo:hi] {
			if v > 0 {
				y[lo+i] = v
			} else {
				y[lo+i] = 0
			}
		}
	})
}

func (l *reluLayer) backward() {
	n := l.n
	sz := n.batch * n.size[l.id]
	y, dy, dx := n.act[l.id][:sz], n.grad[l.id][:sz], n.grad[l.in][:sz]
	parallelFor(sz, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			var g float32
			if y[i] > 0 {
				g = dy[i]
			}
			if l.add {
				dx[i] += g
			} else {
				dx[i] = g
			}
		}
	})
}
