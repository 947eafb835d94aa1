package nn

// Stacked-tap convolution, for stride-1 "same" convolutions (odd k,
// p = (k-1)/2, no bias) with k > 1 and no more filters than input
// channels: DenseNet's 3x3 growth convolutions (F = k_growth, C = 4
// k_growth) and the narrow layers of plain nets.
//
// im2col copies the input k*k times ([C*k*k, N]) for a GEMM with only F
// rows, so for small F the copy, not the arithmetic, is the cost. Here the
// k*k taps are stacked as rows instead, over the output side:
//
//	forward   Z[(f,t'), n] = sum_c W[f, c, flip t'] x[c, n]          one GEMM, [F*k*k, C] x [C, N]
//	          y[f] = col2im(Z) over F channels                        shifted adds of F*k*k rows
//	backward  D = im2col(dy) over F channels, [F*k*k, N]
//	          G = D x^T, dW[f, c, t] = G[(f, flip t), c]              one GEMM, [F*k*k, N] x [N, C]
//	          dx = Wst^T D                                           one GEMM, [C, F*k*k] x [F*k*k, N]
//
// with flip t the tap rotated by 180 degrees (the shift of tap t is minus
// that of flip t when p = (k-1)/2). Nothing the size of the input times
// k*k is written, and backward needs no im2col of the input kept from
// forward. The arithmetic is the same as im2col's.

// stackedOK says whether l can run as a stacked-tap convolution.
func (l *convLayer) stackedOK() bool {
	return !noFlipDx && l.k > 1 && l.s == 1 && 2*l.p == l.k-1 && l.ho == l.h && l.wo == l.w &&
		l.f <= l.c && l.bName == ""
}

// initStacked sizes the per-worker buffers of a stacked-tap convolution.
// Z (forward) and D (backward) have F*k*k rows; gathering several images
// also copies their [C, N] inputs.
func (l *convLayer) initStacked(maxBatch, workers int) {
	fkk := l.f * l.k * l.k
	cols := l.plan(max(fkk, l.c), maxBatch)
	if l.chunk == 1 {
		cols = l.plan(fkk, 1) // a band reads its input in place
	}
	l.wflip = make([]float32, fkk*l.c)
	for w := 0; w < workers; w++ {
		l.dcol = append(l.dcol, make([]float32, fkk*cols)) // Z in forward, D in backward
		if l.chunk > 1 {
			l.tmp = append(l.tmp, make([]float32, l.c*cols)) // gathered input
			l.dxt = append(l.dxt, make([]float32, l.c*cols))
		}
		l.dwst = append(l.dwst, make([]float32, l.f*l.ckk))
	}
}

// stackWeights sets wflip[(f, flip t), c] = W[f, c, t] ([F*k*k, C]).
func (l *convLayer) stackWeights(wt []float32) {
	kk := l.k * l.k
	for f := 0; f < l.f; f++ {
		for c := 0; c < l.c; c++ {
			src := wt[f*l.ckk+c*kk : f*l.ckk+(c+1)*kk]
			for t, v := range src {
				l.wflip[(f*kk+kk-1-t)*l.c+c] = v
			}
		}
	}
}

// gather returns images [i0, i0+nc) of x as a [C, nc*HW] matrix.
func (l *convLayer) gather(w int, x []float32, i0, nc int) []float32 {
	insz := l.c * l.hw
	cols := nc * l.hw
	g := l.tmp[w]
	for j := 0; j < nc; j++ {
		src := x[(i0+j)*insz:]
		for c := 0; c < l.c; c++ {
			copy(g[c*cols+j*l.hw:c*cols+(j+1)*l.hw], src[c*l.hw:(c+1)*l.hw])
		}
	}
	return g
}

func (l *convLayer) forwardStackedRange(w, lo, hi int) {
	n := l.n
	x, y := n.act[l.in], n.act[l.id]
	fkk := l.f * l.k * l.k
	insz, outsz := l.c*l.hw, l.f*l.hw
	z := l.dcol[w]
	if l.chunk > 1 {
		for i0 := lo; i0 < hi; i0 += l.chunk {
			nc := min(l.chunk, hi-i0)
			cols := nc * l.hw
			xs := l.gather(w, x, i0, nc)
			Sgemm(false, false, fkk, cols, l.c, 1, l.wflip, l.c, xs, cols, 0, z, cols)
			for j := 0; j < nc; j++ {
				d := y[(i0+j)*outsz : (i0+j+1)*outsz]
				clear(d)
				col2im(z, cols, j*l.hw, l.f, l.h, l.w, l.k, 1, l.p, l.h, l.w, d)
			}
		}
		return
	}
	for i := lo; i < hi; i++ {
		d := y[i*outsz : (i+1)*outsz]
		clear(d)
		// Z of input rows [r0, r1) scatters into output rows around them.
		for r0 := 0; r0 < l.h; r0 += l.rb {
			r1 := min(r0+l.rb, l.h)
			cols := (r1 - r0) * l.w
			Sgemm(false, false, fkk, cols, l.c, 1, l.wflip, l.c, x[i*insz+r0*l.w:], l.hw, 0, z, cols)
			col2imRows(z, cols, 0, l.f, l.h, l.w, l.k, 1, l.p, l.h, l.w, r0, r1, d)
		}
	}
}

func (l *convLayer) backwardStackedRange(w, lo, hi int) {
	n := l.n
	x, dy, dx := n.act[l.in], n.grad[l.id], n.grad[l.in]
	fkk := l.f * l.k * l.k
	insz, outsz := l.c*l.hw, l.f*l.hw
	needDx := l.in != 0
	beta := float32(0)
	if l.add {
		beta = 1
	}
	g := l.dwst[w] // G = D x^T, [F*k*k, C]
	clear(g)
	d := l.dcol[w]
	if l.chunk > 1 {
		for i0 := lo; i0 < hi; i0 += l.chunk {
			nc := min(l.chunk, hi-i0)
			cols := nc * l.hw
			for j := 0; j < nc; j++ {
				im2col(dy[(i0+j)*outsz:], l.f, l.h, l.w, l.k, 1, l.p, l.h, l.w, d, cols, j*l.hw)
			}
			xs := l.gather(w, x, i0, nc)
			Sgemm(false, true, fkk, l.c, cols, 1, d, cols, xs, cols, 1, g, l.c)
			if !needDx {
				continue
			}
			t := l.dxt[w]
			Sgemm(true, false, l.c, cols, fkk, 1, l.wflip, l.c, d, cols, 0, t, cols)
			for j := 0; j < nc; j++ { // [C, nc*HW] -> nc x [C, HW]
				dst := dx[(i0+j)*insz:]
				for c := 0; c < l.c; c++ {
					src := t[c*cols+j*l.hw : c*cols+(j+1)*l.hw]
					if l.add {
						addTo(dst[c*l.hw:(c+1)*l.hw], src)
					} else {
						copy(dst[c*l.hw:(c+1)*l.hw], src)
					}
				}
			}
		}
		return
	}
	for i := lo; i < hi; i++ {
		// D over rows [r0, r1) (gathered from dy around them), then the
		// band's rows of x and dx in place (leading dimension HW).
		for r0 := 0; r0 < l.h; r0 += l.rb {
			r1 := min(r0+l.rb, l.h)
			cols := (r1 - r0) * l.w
			im2colRows(dy[i*outsz:], l.f, l.h, l.w, l.k, 1, l.p, l.h, l.w, r0, r1, d, cols, 0)
			Sgemm(false, true, fkk, l.c, cols, 1, d, cols, x[i*insz+r0*l.w:], l.hw, 1, g, l.c)
			if needDx {
				Sgemm(true, false, l.c, cols, fkk, 1, l.wflip, l.c, d, cols, beta, dx[i*insz+r0*l.w:], l.hw)
			}
		}
	}
}

// unstackGrad sums the per-worker partials in a fixed order, then
// unstacks them: dW[f, c, t] = G[(f, flip t), c].
func (l *convLayer) unstackGrad() {
	n := l.n
	sum := l.dwst[0]
	for w := 1; w < min(n.workers, n.batch); w++ {
		addTo(sum, l.dwst[w])
	}
	gw := n.grads[l.wName]
	kk := l.k * l.k
	for f := 0; f < l.f; f++ {
		for c := 0; c < l.c; c++ {
			dst := gw[f*l.ckk+c*kk : f*l.ckk+(c+1)*kk]
			for t := range dst {
				dst[t] = sum[(f*kk+kk-1-t)*l.c+c]
			}
		}
	}
}
