package nn

import "github.com/eas-go/eas/core/ir"

// bnLayer is batch normalisation over N, H, W per channel. Training uses
// batch statistics (biased variance) and updates the running averages with
// the unbiased variance; evaluation uses the running statistics.
type bnLayer struct {
	n      *Net
	id, in int
	add    bool
	c, hw  int
	name   string
	// Parameter names, made once: a per-call concatenation allocates for
	// long names.
	wKey, bKey, meanKey, varKey string
	mean, invstd                []float32 // of the last forward, per channel

	// A pass's operands, set before its parallelFor for the range
	// functions, which are method values made once in newBN: a closure
	// capturing locals would allocate on every call. bnReluLayer uses
	// stats and these fields too.
	x, y, dy, dx          []float32
	gamma, beta           []float32
	dgamma, dbeta         []float32
	rmean, rvar           []float32
	statsFn, fwdFn, bwdFn func(w, lo, hi int)
}

func newBN(n *Net, nd ir.Node, add bool) *bnLayer {
	l := &bnLayer{n: n, id: nd.ID, in: nd.Inputs[0], add: add, c: nd.Out.C, hw: nd.Out.H * nd.Out.W,
		name: nd.Name, wKey: nd.Name + ".weight", bKey: nd.Name + ".bias",
		meanKey: nd.Name + ".running_mean", varKey: nd.Name + ".running_var",
		mean: make([]float32, nd.Out.C), invstd: make([]float32, nd.Out.C)}
	l.statsFn, l.fwdFn, l.bwdFn = l.statsRange, l.forwardRange, l.backwardRange
	return l
}

func (l *bnLayer) forward(train bool) {
	n := l.n
	l.x, l.y = n.act[l.in], n.act[l.id]
	l.gamma, l.beta = n.param(l.wKey), n.param(l.bKey)
	l.stats(train)
	n.parallelFor(l.c, l.fwdFn)
}

func (l *bnLayer) forwardRange(_, lo, hi int) {
	x, y, gamma, beta := l.x, l.y, l.gamma, l.beta
	b, c, hw := l.n.batch, l.c, l.hw
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
}

func (l *bnLayer) backward() {
	n := l.n
	l.x, l.dy, l.dx = n.act[l.in], n.grad[l.id], n.grad[l.in]
	l.gamma = n.param(l.wKey)
	l.dgamma, l.dbeta = n.grads[l.wKey], n.grads[l.bKey]
	n.parallelFor(l.c, l.bwdFn)
}

func (l *bnLayer) backwardRange(_, lo, hi int) {
	x, dy, dx, gamma, dgamma, dbeta := l.x, l.dy, l.dx, l.gamma, l.dgamma, l.dbeta
	b, c, hw := l.n.batch, l.c, l.hw
	train, add := l.n.train, l.add
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
			if add {
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
}
