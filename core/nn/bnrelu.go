package nn

import "math"

// bnReluLayer fuses a BatchNorm node with the ReLU that is its only
// consumer (conv -> BN -> ReLU, the plain-CNN pattern; BN -> ReLU -> conv in
// DenseNets). Memory traffic, not arithmetic, dominates these layers, and
// fusing skips writing and re-reading the BN output in both passes. It
// computes exactly what the separate layers compute.
type bnReluLayer struct {
	bn   *bnLayer
	relu int // the ReLU node, whose buffers hold the fused output and its gradient
	// Range functions made once (see bnLayer); they read the operands
	// from bn's fields, y and dy being the ReLU node's buffers.
	fwdFn, bwdFn func(w, lo, hi int)
}

func newBNRelu(bn *bnLayer, relu int) *bnReluLayer {
	l := &bnReluLayer{bn: bn, relu: relu}
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return l
}

type nopLayer struct{}

func (nopLayer) forward(bool) {}
func (nopLayer) backward()    {}

func (l *bnReluLayer) forward(train bool) {
	bn := l.bn
	n := bn.n
	bn.x, bn.y = n.act[bn.in], n.act[l.relu]
	bn.gamma, bn.beta = n.param(bn.wKey), n.param(bn.bKey)
	bn.stats(train)
	n.parallelFor(bn.c, l.fwdFn)
}

func (l *bnReluLayer) forwardRange(_, lo, hi int) {
	bn := l.bn
	x, y, gamma, beta := bn.x, bn.y, bn.gamma, bn.beta
	b, c, hw := bn.n.batch, bn.c, bn.hw
	for ch := lo; ch < hi; ch++ {
		scale := gamma[ch] * bn.invstd[ch]
		shift := beta[ch] - bn.mean[ch]*scale
		for i := 0; i < b; i++ {
			o := (i*c + ch) * hw
			scaleShiftRelu(y[o:o+hw], x[o:o+hw], scale, shift)
		}
	}
}

func (l *bnReluLayer) backward() {
	bn := l.bn
	n := bn.n
	bn.x, bn.y, bn.dy, bn.dx = n.act[bn.in], n.act[l.relu], n.grad[l.relu], n.grad[bn.in]
	bn.gamma = n.param(bn.wKey)
	bn.dgamma, bn.dbeta = n.grads[bn.wKey], n.grads[bn.bKey]
	n.parallelFor(bn.c, l.bwdFn)
}

func (l *bnReluLayer) backwardRange(_, lo, hi int) {
	bn := l.bn
	x, y, dy, dx, gamma, dgamma, dbeta := bn.x, bn.y, bn.dy, bn.dx, bn.gamma, bn.dgamma, bn.dbeta
	b, c, hw := bn.n.batch, bn.c, bn.hw
	train, add := bn.n.train, bn.add
	for ch := lo; ch < hi; ch++ {
		mean, invstd := bn.mean[ch], bn.invstd[ch]
		var sdy, sdyx float64
		for i := 0; i < b; i++ {
			o := (i*c + ch) * hw
			s1, s2 := reluGradSums(x[o:o+hw], y[o:o+hw], dy[o:o+hw], mean)
			sdy += float64(s1)
			sdyx += float64(s2) * float64(invstd)
		}
		dgamma[ch], dbeta[ch] = float32(sdyx), float32(sdy)
		k := gamma[ch] * invstd
		var a, bb float32
		if train {
			cnt := float64(b * hw)
			a, bb = float32(sdy/cnt), float32(sdyx/cnt)*invstd
		}
		for i := 0; i < b; i++ {
			o := (i*c + ch) * hw
			bnReluBack(dx[o:o+hw], x[o:o+hw], y[o:o+hw], dy[o:o+hw], k, a, bb, mean, add)
		}
	}
}

// stats sets mean and invstd for this batch (training: batch statistics,
// updating the running averages; evaluation: running statistics). It reads
// the input from l.x, which the caller sets.
func (l *bnLayer) stats(train bool) {
	n := l.n
	l.rmean, l.rvar = n.param(l.meanKey), n.param(l.varKey)
	if !train {
		eps := float64(n.BNEps)
		for ch := 0; ch < l.c; ch++ {
			l.mean[ch], l.invstd[ch] = l.rmean[ch], float32(1/math.Sqrt(float64(l.rvar[ch])+eps))
		}
		return
	}
	n.parallelFor(l.c, l.statsFn)
}

func (l *bnLayer) statsRange(_, lo, hi int) {
	x, rmean, rvar := l.x, l.rmean, l.rvar
	b, c, hw := l.n.batch, l.c, l.hw
	eps, mom := float64(l.n.BNEps), l.n.BNMomentum
	for ch := lo; ch < hi; ch++ {
		// One pass: sums of (x - shift) and its square, shifted by the
		// channel's first value to avoid cancellation; float32 within an
		// image's map, float64 across maps.
		shift := x[ch*hw]
		var s, ss float64
		for i := 0; i < b; i++ {
			p, q := sumShift(x[(i*c+ch)*hw:(i*c+ch+1)*hw], shift)
			s += float64(p)
			ss += float64(q)
		}
		cnt := float64(b * hw)
		m := s / cnt
		ss -= s * m // sum of squared deviations from the mean
		if ss < 0 {
			ss = 0
		}
		m += float64(shift)
		mf := float32(m)
		v := ss / cnt
		l.mean[ch], l.invstd[ch] = mf, float32(1/math.Sqrt(v+eps))
		unbiased := v
		if cnt > 1 {
			unbiased = ss / (cnt - 1)
		}
		rmean[ch] = (1-mom)*rmean[ch] + mom*mf
		rvar[ch] = (1-mom)*rvar[ch] + mom*float32(unbiased)
	}
}
