package nn

// Winograd F(2x2, 3x3) convolution (Lavin & Gray 2016) for 3x3 stride-1
// "same" convolutions: each 2x2 output tile costs 16 multiplies per (f, c)
// pair instead of 36, at the price of transforming inputs, weights and
// outputs.
//
//	forward   V = B^T d B      per channel and 4x4 input tile (stride 2, the pad included)
//	          U = G g G^T      per (f, c)
//	          M[xi] = U[xi] V[xi]    16 GEMMs, [F, C] x [C, T]
//	          y = A^T M A      per filter and tile (2x2; outputs outside an odd map dropped)
//	backward  DY = A dy A^T                          per filter and tile
//	          dU[xi] = DY[xi] V[xi]^T, dg = G^T dU G  16 GEMMs, [F, T] x [T, C]
//	          X[xi] = U[xi]^T DY[xi], dx += B X B^T   16 GEMMs, [C, F] x [F, T]; tiles overlap
//
// Layout: the transforms run on 8 images at once (a "group"), one per
// vector lane, so every tile is the same few vector adds whatever the map
// size (4x4 maps have 4 tiles per image, too few to vectorise within one
// image). Activations are transposed between NCHW and [c][row][col][lane]
// bands of tile rows; a chunk (several groups times a band of tile rows)
// sizes V and M to stay in L2 between the transforms and the GEMMs. The
// columns of the GEMMs are t = ((group*rows + row)*tw + tx)*8 + lane; lanes
// without an image hold zeros.

import (
	"github.com/eas-go/eas/core/ir"
)

const lanes = 8 // images per group: one AVX2 vector

// winoPad floats (a cache line) separate the 16 matrices of V, M, U and
// their gradients: the transforms write (or read) all 16 at once, and at a
// power-of-two distance those streams would fall into one L1 set.
const winoPad = 16

// winoBudget bounds one worker's transformed tiles of a chunk, in floats
// (16 * max(C, F) * columns): V and M then fit in L2 together.
// On this 2-core host (2 MB L2 per core) 1<<17 was ~5% faster than 1<<16
// and 1<<18 over the child network's layers (BenchmarkConv3x3).
var winoBudget = 1 << 17

// noWinograd disables the Winograd path (tests compare both; the engine
// option NoWinograd sets it per net).
var noWinograd bool

// winoMinC and winoMinF are the narrowest convolutions Winograd runs: below
// them the GEMMs (K = C, M = F) are too thin to gain from fewer multiplies.
var winoMinC, winoMinF = 12, 12

// winoMinImages is the smallest share of a batch per worker Winograd runs
// on (see winoOK).
var winoMinImages = lanes

// winoOK says whether a convolution with input in runs as Winograd
// F(2x2,3x3). Measured on 2 cores (BenchmarkConv3x3, forward+backward,
// batch 64, CPU time): 1.6-2x faster than im2col for the child network's
// layers (C, F >= 32, maps 4x4 to 32x32), 1.25-1.7x for DenseNet's growth
// convolutions (C = 48, F = 12; against the stacked-tap path) and at
// C = F = 12; with 8 or fewer channels or filters it lost as often as it
// won. A 1-pixel map would spend 16 multiplies where im2col spends 9.
// Each worker's images fill groups of 8 lanes, so a worker's share of a
// full batch must be at least winoMinImages: with 4 images per worker (a
// batch of 64 on 16 cores) half the GEMM columns would be empty lanes and
// the multiplies saved would be spent again.
func winoOK(nd ir.Node, in ir.Shape, maxBatch, workers int) bool {
	return nd.Kernel == 3 && nd.Stride == 1 && nd.Pad == 1 && nd.Out.H == in.H && nd.Out.W == in.W &&
		in.C >= winoMinC && nd.Filters >= winoMinF && in.H >= 2 && in.W >= 2 &&
		maxBatch >= winoMinImages*max(1, workers)
}

// wino is the state of a Winograd convolution.
type wino struct {
	th, tw   int // tiles per image: ceil(H/2) x ceil(W/2)
	wp       int // padded band width: 2*tw + 2 columns
	rows     int // tile rows per chunk
	groups   int // groups of 8 images per chunk
	u        []float32
	in, v, m [][]float32         // per worker: padded input band, V (then X), M (then DY)
	out      [][]float32         // per worker: output band (forward y, backward dy)
	dx       [][]float32         // per worker: padded input-gradient band
	mw       [][]float32         // per worker: [16][F][C] weight gradient, transformed
	fwd, bwd func(w, lo, hi int) // range functions, made once (no allocation per step)
	trainU   bool                // u is from a training forward (the weights backward sees)
}

func (l *convLayer) initWino(maxBatch, workers int) {
	wn := &wino{th: (l.h + 1) / 2, tw: (l.w + 1) / 2}
	wn.wp = 2*wn.tw + 2
	wide := 16 * max(l.c, l.f) * lanes // floats per tile of a group
	perRow := wide * wn.tw
	maxGroups := (maxBatch + lanes - 1) / lanes
	budget := winoBudget
	if perRow*wn.th <= budget {
		wn.rows = wn.th
		wn.groups = max(1, min(maxGroups, budget/(perRow*wn.th)))
	} else {
		wn.rows = max(1, budget/perRow)
		wn.groups = 1
	}
	cols := wn.groups * wn.rows * wn.tw * lanes
	wn.u = make([]float32, 16*(l.f*l.c+winoPad))
	for w := 0; w < workers; w++ {
		wn.in = append(wn.in, make([]float32, wn.groups*l.c*wn.bandIn()))
		wn.v = append(wn.v, make([]float32, 16*(l.c*cols+winoPad)))
		wn.m = append(wn.m, make([]float32, 16*(l.f*cols+winoPad)))
		wn.out = append(wn.out, make([]float32, wn.groups*l.f*wn.bandOut()))
		wn.dx = append(wn.dx, make([]float32, wn.groups*l.c*wn.bandIn()))
		wn.mw = append(wn.mw, make([]float32, 16*(l.f*l.c+winoPad)))
	}
	wn.fwd, wn.bwd = l.forwardWinoRange, l.backwardWinoRange
	l.wino = wn
}

// bandIn is the size of one channel's padded input band: 2*rows+2 padded
// rows of wp columns of 8 lanes. Padded row r of the band starting at tile
// row ty0 is image row 2*ty0 + r - 1; padded column j is image column j-1.
func (wn *wino) bandIn() int { return (2*wn.rows + 2) * wn.wp * lanes }

// bandOut is the size of one filter's output band: 2*rows rows of 2*tw.
func (wn *wino) bandOut() int { return 2 * wn.rows * 2 * wn.tw * lanes }

// transformWeights sets U[xi][f][c] = (G g G^T)[xi] for g = W[f, c].
func (l *convLayer) transformWeights(wt []float32) {
	u := l.wino.u
	fc := l.f*l.c + winoPad
	for f := 0; f < l.f; f++ {
		for c := 0; c < l.c; c++ {
			g := wt[(f*l.c+c)*9 : (f*l.c+c)*9+9]
			var t [4][3]float32 // G g
			for j := 0; j < 3; j++ {
				g0, g1, g2 := g[j], g[3+j], g[6+j]
				t[0][j] = g0
				t[1][j] = 0.5 * (g0 + g1 + g2)
				t[2][j] = 0.5 * (g0 - g1 + g2)
				t[3][j] = g2
			}
			o := f*l.c + c
			for i := 0; i < 4; i++ { // (G g) G^T
				r0, r1, r2 := t[i][0], t[i][1], t[i][2]
				u[(i*4+0)*fc+o] = r0
				u[(i*4+1)*fc+o] = 0.5 * (r0 + r1 + r2)
				u[(i*4+2)*fc+o] = 0.5 * (r0 - r1 + r2)
				u[(i*4+3)*fc+o] = r2
			}
		}
	}
}

// untransformWeightGrad sets dW[f, c] = G^T dU[f, c] G, the gradient of g
// through U = G g G^T.
func (l *convLayer) untransformWeightGrad(dw, mw []float32) {
	fc := l.f*l.c + winoPad
	for f := 0; f < l.f; f++ {
		for c := 0; c < l.c; c++ {
			o := f*l.c + c
			var t [4][3]float32 // dU G
			for i := 0; i < 4; i++ {
				m0, m1, m2, m3 := mw[(i*4+0)*fc+o], mw[(i*4+1)*fc+o], mw[(i*4+2)*fc+o], mw[(i*4+3)*fc+o]
				t[i][0] = m0 + 0.5*(m1+m2)
				t[i][1] = 0.5 * (m1 - m2)
				t[i][2] = 0.5*(m1+m2) + m3
			}
			g := dw[o*9 : o*9+9]
			for j := 0; j < 3; j++ { // G^T (dU G)
				t0, t1, t2, t3 := t[0][j], t[1][j], t[2][j], t[3][j]
				g[j] = t0 + 0.5*(t1+t2)
				g[3+j] = 0.5 * (t1 - t2)
				g[6+j] = 0.5*(t1+t2) + t3
			}
		}
	}
}

// A chunk is images [i0, i0+ng*8) (clipped at hi) and tile rows [ty0, ty0+nr).
type winoChunk struct {
	i0, hi, ng, ty0, nr int
}

func (ch winoChunk) cols(tw int) int { return ch.ng * ch.nr * tw * lanes }

// chunks calls f for the chunks of images [lo, hi), in a fixed order.
func (wn *wino) chunks(lo, hi int, f func(ch winoChunk)) {
	for i0 := lo; i0 < hi; i0 += wn.groups * lanes {
		ng := min(wn.groups, (hi-i0+lanes-1)/lanes)
		for ty0 := 0; ty0 < wn.th; ty0 += wn.rows {
			f(winoChunk{i0: i0, hi: hi, ng: ng, ty0: ty0, nr: min(wn.rows, wn.th-ty0)})
		}
	}
}

// loadBand transposes the rows of src (NCHW, nch channels of h x w) under
// chunk ch's padded band into dst ([group][nch][2*nr+2][wp][8], groups
// bandIn apart per channel), zeros outside the images.
func (l *convLayer) loadBand(dst, src []float32, ch winoChunk, nch int) {
	wn := l.wino
	rowLen := wn.wp * lanes
	hw := l.h * l.w
	for g := 0; g < ch.ng; g++ {
		img := ch.i0 + g*lanes
		nimg := min(lanes, ch.hi-img)
		for c := 0; c < nch; c++ {
			b := dst[(g*nch+c)*wn.bandIn():][:(2*ch.nr+2)*rowLen]
			if nimg < lanes {
				clear(b)
			}
			for r := 0; r < 2*ch.nr+2; r++ {
				row := b[r*rowLen : (r+1)*rowLen]
				y := 2*ch.ty0 + r - 1
				if y < 0 || y >= l.h {
					clear(row)
					continue
				}
				clear(row[:lanes])
				clear(row[(l.w+1)*lanes:])
				laneIn(row[lanes:], src[(img*nch+c)*hw+y*l.w:], l.w, nch*hw, nimg)
			}
		}
	}
}

// forwardWino is the forward pass (see the file comment).
func (l *convLayer) forwardWino() {
	l.transformWeights(l.n.param(l.wName))
	l.wino.trainU = l.n.train
	l.n.parallelFor(l.n.batch, l.wino.fwd)
}

func (l *convLayer) forwardWinoRange(w, lo, hi int) {
	n, wn := l.n, l.wino
	x, y := n.act[l.in], n.act[l.id]
	var bias []float32
	if l.bName != "" {
		bias = n.param(l.bName)
	}
	wn.chunks(lo, hi, func(ch winoChunk) {
		l.transformInput(w, x, ch)
		cols := ch.cols(wn.tw)
		v, m := wn.v[w], wn.m[w]
		vs, ms, us := l.c*cols+winoPad, l.f*cols+winoPad, l.f*l.c+winoPad
		for xi := 0; xi < 16; xi++ {
			Sgemm(false, false, l.f, cols, l.c, 1, wn.u[xi*us:], l.c, v[xi*vs:], cols, 0, m[xi*ms:], cols)
		}
		out := wn.out[w]
		rowLen := 2 * wn.tw * lanes
		for g := 0; g < ch.ng; g++ {
			for f := 0; f < l.f; f++ {
				ob := out[(g*l.f+f)*wn.bandOut():]
				for r := 0; r < ch.nr; r++ {
					t := ((g*ch.nr + r) * wn.tw) * lanes
					winoOutput(ob[2*r*rowLen:], m[f*cols+t:], wn.tw, rowLen, ms)
				}
			}
		}
		l.storeBand(y, out, ch, bias)
	})
}

// transformInput fills worker w's V with chunk ch of x.
func (l *convLayer) transformInput(w int, x []float32, ch winoChunk) {
	wn := l.wino
	in, v := wn.in[w], wn.v[w]
	l.loadBand(in, x, ch, l.c)
	cols := ch.cols(wn.tw)
	vs := l.c*cols + winoPad
	rowLen := wn.wp * lanes
	for g := 0; g < ch.ng; g++ {
		for c := 0; c < l.c; c++ {
			b := in[(g*l.c+c)*wn.bandIn():]
			for r := 0; r < ch.nr; r++ {
				t := ((g*ch.nr + r) * wn.tw) * lanes
				winoInput(v[c*cols+t:], b[2*r*rowLen:], wn.tw, rowLen, vs)
			}
		}
	}
}

// storeBand writes the output band of chunk ch into y (NCHW), adding bias
// when there is one; outputs past an odd map's edge are dropped.
func (l *convLayer) storeBand(y, out []float32, ch winoChunk, bias []float32) {
	wn := l.wino
	rowLen := 2 * wn.tw * lanes
	for g := 0; g < ch.ng; g++ {
		img := ch.i0 + g*lanes
		nimg := min(lanes, ch.hi-img)
		for f := 0; f < l.f; f++ {
			ob := out[(g*l.f+f)*wn.bandOut():]
			for r := 0; r < 2*ch.nr; r++ {
				yy := 2*ch.ty0 + r
				if yy >= l.h {
					break
				}
				laneOut(y[(img*l.f+f)*l.hw+yy*l.w:], ob[r*rowLen:], l.w, l.f*l.hw, nimg, false)
				if bias == nil {
					continue
				}
				for k := 0; k < nimg; k++ {
					d := y[((img+k)*l.f+f)*l.hw+yy*l.w:][:l.w]
					for xx := range d {
						d[xx] += bias[f]
					}
				}
			}
		}
	}
}

// loadGradBand transposes the output-gradient rows of chunk ch into the
// output band layout, zeros outside the images.
func (l *convLayer) loadGradBand(dst, dy []float32, ch winoChunk) {
	wn := l.wino
	rowLen := 2 * wn.tw * lanes
	for g := 0; g < ch.ng; g++ {
		img := ch.i0 + g*lanes
		nimg := min(lanes, ch.hi-img)
		for f := 0; f < l.f; f++ {
			b := dst[(g*l.f+f)*wn.bandOut():][:2*ch.nr*rowLen]
			if nimg < lanes {
				clear(b)
			}
			for r := 0; r < 2*ch.nr; r++ {
				row := b[r*rowLen : (r+1)*rowLen]
				yy := 2*ch.ty0 + r
				if yy >= l.h {
					clear(row)
					continue
				}
				clear(row[l.w*lanes:])
				laneIn(row, dy[(img*l.f+f)*l.hw+yy*l.w:], l.w, l.f*l.hw, nimg)
			}
		}
	}
}

// backwardWino is the backward pass (see the file comment).
func (l *convLayer) backwardWino() {
	n, wn := l.n, l.wino
	if !wn.trainU { // backward follows a training forward with the same weights
		l.transformWeights(n.param(l.wName))
	}
	n.parallelFor(n.batch, wn.bwd)
	// Sum the per-worker partials in a fixed order, then untransform.
	sum := wn.mw[0]
	for w := 1; w < min(n.workers, n.batch); w++ {
		addTo(sum, wn.mw[w])
	}
	l.untransformWeightGrad(n.grads[l.wName], sum)
	if l.bName != "" {
		l.biasGrad(n.grad[l.id])
	}
}

func (l *convLayer) backwardWinoRange(w, lo, hi int) {
	n, wn := l.n, l.wino
	x, dy, dx := n.act[l.in], n.grad[l.id], n.grad[l.in]
	needDx := l.in != 0
	mw := wn.mw[w]
	clear(mw)
	wn.chunks(lo, hi, func(ch winoChunk) {
		cols := ch.cols(wn.tw)
		v, m := wn.v[w], wn.m[w]
		vs, ms, us := l.c*cols+winoPad, l.f*cols+winoPad, l.f*l.c+winoPad
		l.transformInput(w, x, ch)
		// DY into m.
		ob := wn.out[w]
		l.loadGradBand(ob, dy, ch)
		rowLen := 2 * wn.tw * lanes
		for g := 0; g < ch.ng; g++ {
			for f := 0; f < l.f; f++ {
				b := ob[(g*l.f+f)*wn.bandOut():]
				for r := 0; r < ch.nr; r++ {
					t := ((g*ch.nr + r) * wn.tw) * lanes
					winoGradOutput(m[f*cols+t:], b[2*r*rowLen:], wn.tw, rowLen, ms)
				}
			}
		}
		for xi := 0; xi < 16; xi++ {
			Sgemm(false, true, l.f, l.c, cols, 1, m[xi*ms:], cols, v[xi*vs:], cols, 1, mw[xi*us:], l.c)
		}
		if !needDx {
			return
		}
		for xi := 0; xi < 16; xi++ { // X overwrites V
			Sgemm(true, false, l.c, cols, l.f, 1, wn.u[xi*us:], l.c, m[xi*ms:], cols, 0, v[xi*vs:], cols)
		}
		l.scatterGradInput(w, dx, ch)
	})
}

// scatterGradInput adds B X B^T of chunk ch's tiles into the padded
// input-gradient band and writes (or, with l.add, adds) its finished rows
// to dx. Tiles of neighbouring tile rows overlap by two padded rows: the
// last two rows of a band carry over to the next band of the same images.
func (l *convLayer) scatterGradInput(w int, dx []float32, ch winoChunk) {
	wn := l.wino
	band, v := wn.dx[w], wn.v[w]
	cols := ch.cols(wn.tw)
	vs := l.c*cols + winoPad
	rowLen := wn.wp * lanes
	nrow := 2*ch.nr + 2
	last := ch.ty0+ch.nr == wn.th
	hw := l.h * l.w
	for g := 0; g < ch.ng; g++ {
		img := ch.i0 + g*lanes
		nimg := min(lanes, ch.hi-img)
		for c := 0; c < l.c; c++ {
			b := band[(g*l.c+c)*wn.bandIn():][:nrow*rowLen]
			if ch.ty0 == 0 {
				clear(b)
			}
			for r := 0; r < ch.nr; r++ {
				t := ((g*ch.nr + r) * wn.tw) * lanes
				winoGradInput(b[2*r*rowLen:], v[c*cols+t:], wn.tw, rowLen, vs)
			}
			// Rows before padded row 2*nr are final; at the last band, all.
			done := 2 * ch.nr
			if last {
				done = nrow
			}
			for r := 0; r < done; r++ {
				y := 2*ch.ty0 + r - 1
				if y < 0 || y >= l.h {
					continue
				}
				laneOut(dx[(img*l.c+c)*hw+y*l.w:], b[r*rowLen+lanes:], l.w, l.c*hw, nimg, l.add)
			}
			if !last { // carry the two unfinished rows; the rest starts at zero
				copy(b[:2*rowLen], b[2*ch.nr*rowLen:nrow*rowLen])
				clear(b[2*rowLen:])
			}
		}
	}
}
