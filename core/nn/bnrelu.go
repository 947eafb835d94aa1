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
}

type nopLayer struct{}

func (nopLayer) forward(bool) {}
func (nopLayer) backward()    {}

func (l *bnReluLayer) forward(train bool) {
	bn := l.bn
	n := bn.n
	x, y := n.act[bn.in], n.act[l.relu]
	b, c, hw := n.batch, bn.c, bn.hw
	bn.stats(train)
	gamma, beta := n.param(bn.name+".weight"), n.param(bn.name+".bias")
	n.parallelFor(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			scale := gamma[ch] * bn.invstd[ch]
			shift := beta[ch] - bn.mean[ch]*scale
			for i := 0; i < b; i++ {
				o := (i*c + ch) * hw
				scaleShiftRelu(y[o:o+hw], x[o:o+hw], scale, shift)
			}
		}
	})
}

func (l *bnReluLayer) backward() {
	bn := l.bn
	n := bn.n
	x, y, dy, dx := n.act[bn.in], n.act[l.relu], n.grad[l.relu], n.grad[bn.in]
	gamma := n.param(bn.name + ".weight")
	dgamma, dbeta := n.grads[bn.name+".weight"], n.grads[bn.name+".bias"]
	b, c, hw := n.batch, bn.c, bn.hw
	train := n.train
	n.parallelFor(c, func(_, lo, hi int) {
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
				bnReluBack(dx[o:o+hw], x[o:o+hw], y[o:o+hw], dy[o:o+hw], k, a, bb, mean, bn.add)
			}
		}
	})
}

// stats sets mean and invstd for this batch (training: batch statistics,
// updating the running averages; evaluation: running statistics).
func (l *bnLayer) stats(train bool) {
	n := l.n
	x := n.act[l.in]
	rmean, rvar := n.param(l.name+".running_mean"), n.param(l.name+".running_var")
	b, c, hw := n.batch, l.c, l.hw
	eps, mom := float64(n.BNEps), n.BNMomentum
	if !train {
		for ch := 0; ch < c; ch++ {
			l.mean[ch], l.invstd[ch] = rmean[ch], float32(1/math.Sqrt(float64(rvar[ch])+eps))
		}
		return
	}
	n.parallelFor(c, func(_, lo, hi int) {
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
	})
}
