package nn

import "github.com/eas-go/eas/core/ir"

// bnLayer is batch normalisation over N, H, W per channel. Training uses
// batch statistics (biased variance) and updates the running averages with
// the unbiased variance; evaluation uses the running statistics.
type bnLayer struct {
	n            *Net
	id, in       int
	add          bool
	c, hw        int
	name         string
	mean, invstd []float32 // of the last forward, per channel
}

func newBN(n *Net, nd ir.Node, add bool) *bnLayer {
	return &bnLayer{n: n, id: nd.ID, in: nd.Inputs[0], add: add, c: nd.Out.C, hw: nd.Out.H * nd.Out.W,
		name: nd.Name, mean: make([]float32, nd.Out.C), invstd: make([]float32, nd.Out.C)}
}

func (l *bnLayer) forward(train bool) {
	n := l.n
	x, y := n.act[l.in], n.act[l.id]
	gamma, beta := n.param(l.name+".weight"), n.param(l.name+".bias")
	b, c, hw := n.batch, l.c, l.hw
	l.stats(train)
	n.parallelFor(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			scale := gamma[ch] * l.invstd[ch]
			shift := beta[ch] - l.mean[ch]*scale
			for i := 0; i < b; i++ {
				src := x[(i*c+ch)*hw : (i*c+ch+1)*hw]
				dst := y[(i*c+ch)*hw : (i*c+ch+1)*hw]
				for j, v := range src {
					dst[j] = v*scale + shift
				}
			}
		}
	})
}

func (l *bnLayer) backward() {
	n := l.n
	x, dy, dx := n.act[l.in], n.grad[l.id], n.grad[l.in]
	gamma := n.param(l.name + ".weight")
	dgamma, dbeta := n.grads[l.name+".weight"], n.grads[l.name+".bias"]
	b, c, hw := n.batch, l.c, l.hw
	train := n.train
	n.parallelFor(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean, invstd := l.mean[ch], l.invstd[ch]
			var sdy, sdyx float64 // sum dy, sum dy*xhat
			for i := 0; i < b; i++ {
				xs := x[(i*c+ch)*hw : (i*c+ch+1)*hw]
				for j, g := range dy[(i*c+ch)*hw : (i*c+ch+1)*hw] {
					sdy += float64(g)
					sdyx += float64(g) * float64((xs[j]-mean)*invstd)
				}
			}
			dgamma[ch], dbeta[ch] = float32(sdyx), float32(sdy)
			k := gamma[ch] * invstd
			var a, bb float32 // dx = k*(dy - a - xhat*bb) in training mode
			if train {
				cnt := float64(b * hw)
				a, bb = float32(sdy/cnt), float32(sdyx/cnt)
			}
			for i := 0; i < b; i++ {
				xs := x[(i*c+ch)*hw : (i*c+ch+1)*hw]
				gs := dy[(i*c+ch)*hw : (i*c+ch+1)*hw]
				d := dx[(i*c+ch)*hw : (i*c+ch+1)*hw]
				if l.add {
					for j, g := range gs {
						d[j] += k * (g - a - (xs[j]-mean)*invstd*bb)
					}
				} else {
					for j, g := range gs {
						d[j] = k * (g - a - (xs[j]-mean)*invstd*bb)
					}
				}
			}
		}
	})
}
