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
	// A pass's operands for the range functions, method values made once
	// in newDropout (a closure capturing locals would allocate on every
	// call).
	x, y, dy, dx []float32
	fwdFn, bwdFn func(w, lo, hi int)
}

func newDropout(n *Net, id, in int, add bool, rate float32) *dropoutLayer {
	l := &dropoutLayer{n: n, id: id, in: in, add: add, rate: rate}
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return l
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
	l.x, l.y = x, y
	n.parallelFor(sz, l.fwdFn)
}

func (l *dropoutLayer) forwardRange(_, lo, hi int) {
	x, y := l.x, l.y
	scale := 1 / (1 - l.rate)
	for i := lo; i < hi; i++ {
		if l.keep(i) {
			y[i] = x[i] * scale
		} else {
			y[i] = 0
		}
	}
}

func (l *dropoutLayer) backward() {
	n := l.n
	sz := n.batch * n.size[l.id]
	l.dy, l.dx = n.grad[l.id][:sz], n.grad[l.in][:sz]
	n.parallelFor(sz, l.bwdFn)
}

func (l *dropoutLayer) backwardRange(_, lo, hi int) {
	dy, dx, add := l.dy, l.dx, l.add
	train := l.n.train && l.rate > 0
	scale := 1 / (1 - l.rate)
	for i := lo; i < hi; i++ {
		g := dy[i]
		if train {
			if l.keep(i) {
				g *= scale
			} else {
				g = 0
			}
		}
		if add {
			dx[i] += g
		} else {
			dx[i] = g
		}
	}
}
