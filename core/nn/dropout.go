package nn

// dropoutLayer is inverted dropout: in training each value is kept with
// probability 1-rate and scaled by 1/(1-rate); evaluation is the identity.
// The mask is a counter-based hash of (seed, step, node, index), so it does
// not depend on how work is split across goroutines.
type dropoutLayer struct {
	n      *Net
	id, in int
	add    bool
	rate   float32
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (l *dropoutLayer) keep(i int) bool {
	h := splitmix(uint64(l.n.Seed)*0x100000001b3 ^ l.n.step<<20 ^ uint64(l.id)<<48 ^ uint64(i))
	return float32(h>>40)/float32(1<<24) >= l.rate
}

func (l *dropoutLayer) forward(train bool) {
	n := l.n
	sz := n.batch * n.size[l.id]
	x, y := n.act[l.in][:sz], n.act[l.id][:sz]
	if !train || l.rate == 0 {
		copy(y, x)
		return
	}
	scale := 1 / (1 - l.rate)
	n.parallelFor(sz, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			if l.keep(i) {
				y[i] = x[i] * scale
			} else {
				y[i] = 0
			}
		}
	})
}

func (l *dropoutLayer) backward() {
	n := l.n
	sz := n.batch * n.size[l.id]
	dy, dx := n.grad[l.id][:sz], n.grad[l.in][:sz]
	train := n.train && l.rate > 0
	scale := 1 / (1 - l.rate)
	n.parallelFor(sz, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			g := dy[i]
			if train {
				if l.keep(i) {
					g *= scale
				} else {
					g = 0
				}
			}
			if l.add {
				dx[i] += g
			} else {
				dx[i] = g
			}
		}
	})
}
