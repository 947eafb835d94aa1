package nn

import "github.com/eas-go/eas/core/ir"

// colBudget bounds the im2col buffer of one worker (floats); several small
// images are batched into one GEMM up to this size. 128 KB keeps the patch
// matrix in L2 between im2col writing it and sgemm packing it: at 8 MB
// (the old budget) training ran 20-35% slower, and keeping the batch's
// patches from forward for backward was slower than recomputing them.
var colBudget = 1 << 15

// bandBudget bounds the patches of one band of output rows (floats), for
// images whose patch matrix exceeds colBudget.
var bandBudget = 1 << 17

// minCols is the fewest GEMM columns worth a call: 4x4 maps with many
// channels (1152 patch rows) ran 15-25% faster gathering 7 images per GEMM
// than 1 (measured per layer: BenchmarkConv3x3's im2col path).
var minCols = 128

// directMinHW is the smallest map a 1x1 convolution multiplies per image,
// straight from the activations; smaller maps (DenseNet bottlenecks in
// later blocks: 16x16, 8x8) gather several images into one wider GEMM
// through the im2col path instead, since per-image products of 64-256
// columns run far below the sgemm rate.
var directMinHW = 1024

// noFlipDx disables the flipped-weights input gradient (tests compare both).
var noFlipDx bool

// convLayer is a 2-D convolution with same padding: im2col + sgemm, per
// worker. Images whose patch matrix is small are gathered several to a
// GEMM; larger ones are split into bands of output rows, so the patches a
// GEMM reads stay within colBudget (in L2) either way.
type convLayer struct {
	n                    *Net
	id, in               int
	add                  bool
	c, h, w              int
	f, k, s, p, ho, wo   int
	ckk, hw              int
	chunk                int // images per GEMM; 1: one image in bands of rb output rows
	rb                   int
	direct               bool
	stacked              bool        // stacked-tap convolution (conv_stacked.go)
	wino                 *wino       // Winograd F(2x2,3x3) state (winograd.go), or nil
	flipDx               bool        // input gradient as a convolution of dy (see newConv)
	wflip                []float32   // [C, F*k*k]: W transposed and rotated 180 degrees, for flipDx
	dxt                  [][]float32 // per worker [C, chunk*HW] for flipDx with several images
	wName, bName         string
	col, dcol, tmp, dwst [][]float32 // per worker
	// The per-range functions, made once as method values: a closure
	// built per call would be a heap allocation per layer and step.
	fwd, bwd func(w, lo, hi int)
}

func newConv(n *Net, nd ir.Node, in ir.Shape, add bool) *convLayer {
	l := &convLayer{n: n, id: nd.ID, in: nd.Inputs[0], add: add, c: in.C, h: in.H, w: in.W,
		f: nd.Filters, k: nd.Kernel, s: nd.Stride, p: nd.Pad, ho: nd.Out.H, wo: nd.Out.W,
		wName: nd.Name + ".weight"}
	if nd.Bias {
		l.bName = nd.Name + ".bias"
	}
	l.ckk = l.c * l.k * l.k
	l.hw = l.ho * l.wo
	l.direct = l.k == 1 && l.s == 1 && l.p == 0 && l.hw >= directMinHW
	if !noWinograd && !n.opts.NoWinograd && winoOK(nd, in, n.MaxBatch, n.workers) {
		l.initWino(n.MaxBatch, n.workers)
		return l
	}
	if l.stacked = l.stackedOK(); l.stacked {
		l.initStacked(n.MaxBatch, n.workers)
		l.fwd, l.bwd = l.forwardStackedRange, l.backwardStackedRange
		return l
	}
	l.fwd, l.bwd = l.forwardRange, l.backwardRange
	var cols int
	if l.direct {
		l.chunk, l.rb, cols = 1, l.ho, l.hw
	} else {
		cols = l.plan(l.ckk, n.MaxBatch)
	}
	// A stride-1 "same" convolution's input gradient is itself such a
	// convolution, of dy with the weights transposed and rotated. Through
	// im2col of dy it writes and reads a [F*k*k, N] matrix instead of the
	// [C*k*k, N] one col2im reads and scatters back: less memory traffic
	// when F <= C (DenseNet's 3x3 growth convs: F=k, C=4k). Same GEMM flops.
	l.flipDx = !l.direct && !noFlipDx && l.s == 1 && l.ho == l.h && l.wo == l.w && 2*l.p == l.k-1 && l.f <= l.c
	if l.flipDx {
		l.wflip = make([]float32, l.c*l.f*l.k*l.k)
	}
	for w := 0; w < n.workers; w++ {
		if !l.direct {
			l.col = append(l.col, make([]float32, l.ckk*cols))
			l.dcol = append(l.dcol, make([]float32, l.ckk*cols))
		}
		if l.chunk > 1 {
			l.tmp = append(l.tmp, make([]float32, l.f*cols))
		}
		l.dwst = append(l.dwst, make([]float32, l.f*l.ckk))
		if l.flipDx && l.chunk > 1 {
			l.dxt = append(l.dxt, make([]float32, l.c*cols))
		}
	}
	return l
}

// plan chooses how a worker's images are cut for GEMMs whose patch (or
// stacked) matrix has rows rows: several images per GEMM when two or more
// fit in colBudget, else one image in bands of rb output rows (at least
// one row). It returns the columns of the widest GEMM.
func (l *convLayer) plan(rows, maxBatch int) int {
	c := colBudget / (rows * l.hw)
	if l.hw < minCols {
		// Tiny maps: enough images for minCols columns, within bandBudget.
		c = max(c, min((minCols+l.hw-1)/l.hw, bandBudget/(rows*l.hw)))
	}
	if c = min(c, maxBatch); c >= 2 {
		l.chunk, l.rb = c, l.ho
		return c * l.hw
	}
	l.chunk = 1
	rb := max(1, min(l.ho, bandBudget/(rows*l.wo)))
	nb := (l.ho + rb - 1) / rb
	l.rb = (l.ho + nb - 1) / nb // bands of (nearly) equal height
	return l.rb * l.wo
}

func (l *convLayer) forward(bool) {
	if l.wino != nil {
		l.forwardWino()
		return
	}
	if l.stacked {
		l.stackWeights(l.n.param(l.wName))
	}
	l.n.parallelFor(l.n.batch, l.fwd)
}

func (l *convLayer) forwardRange(w, lo, hi int) {
	n := l.n
	x, y := n.act[l.in], n.act[l.id]
	wt := n.param(l.wName)
	insz, outsz := l.c*l.h*l.w, l.f*l.hw
	if l.chunk > 1 {
		for i0 := lo; i0 < hi; i0 += l.chunk {
			nc := min(l.chunk, hi-i0)
			cols := nc * l.hw
			col := l.patches(w, x, i0, nc)
			t := l.tmp[w]
			Sgemm(false, false, l.f, cols, l.ckk, 1, wt, l.ckk, col, cols, 0, t, cols)
			for j := 0; j < nc; j++ { // [F, nc*HW] -> nc x [F, HW]
				dst := y[(i0+j)*outsz:]
				for f := 0; f < l.f; f++ {
					copy(dst[f*l.hw:(f+1)*l.hw], t[f*cols+j*l.hw:])
				}
			}
		}
	} else {
		for i := lo; i < hi; i++ {
			if l.direct {
				Sgemm(false, false, l.f, l.hw, l.c, 1, wt, l.c, x[i*insz:], l.hw, 0, y[i*outsz:], l.hw)
				continue
			}
			// Band [r0, r1) of output rows: its patches, then the rows of
			// every output channel (leading dimension HW) in place.
			for r0 := 0; r0 < l.ho; r0 += l.rb {
				r1 := min(r0+l.rb, l.ho)
				cols := (r1 - r0) * l.wo
				col := l.col[w]
				im2colRows(x[i*insz:], l.c, l.h, l.w, l.k, l.s, l.p, l.ho, l.wo, r0, r1, col, cols, 0)
				Sgemm(false, false, l.f, cols, l.ckk, 1, wt, l.ckk, col, cols, 0, y[i*outsz+r0*l.wo:], l.hw)
			}
		}
	}
	if l.bName != "" {
		b := n.param(l.bName)
		for i := lo; i < hi; i++ {
			for f := 0; f < l.f; f++ {
				row := y[i*outsz+f*l.hw : i*outsz+(f+1)*l.hw]
				for p := range row {
					row[p] += b[f]
				}
			}
		}
	}
}

func (l *convLayer) backward() {
	if l.wino != nil {
		l.backwardWino()
		return
	}
	n := l.n
	if l.stacked {
		l.stackWeights(n.param(l.wName))
		n.parallelFor(n.batch, l.bwd)
		l.unstackGrad()
		return
	}
	if l.in != 0 && l.flipDx {
		l.flipWeights(n.param(l.wName))
	}
	n.parallelFor(n.batch, l.bwd)
	// Sum the per-worker partial weight gradients in a fixed order.
	gw := n.grads[l.wName]
	copy(gw, l.dwst[0])
	nw := min(n.workers, n.batch)
	for w := 1; w < nw; w++ {
		addTo(gw, l.dwst[w])
	}
	if l.bName != "" {
		l.biasGrad(n.grad[l.id])
	}
}

func (l *convLayer) backwardRange(w, lo, hi int) {
	n := l.n
	x, dy, dx := n.act[l.in], n.grad[l.id], n.grad[l.in]
	wt := n.param(l.wName)
	insz, outsz := l.c*l.h*l.w, l.f*l.hw
	needDx := l.in != 0
	beta := float32(0)
	if l.add {
		beta = 1
	}
	dw := l.dwst[w]
	clear(dw)
	if l.chunk > 1 {
		for i0 := lo; i0 < hi; i0 += l.chunk {
			nc := min(l.chunk, hi-i0)
			cols := nc * l.hw
			col := l.patches(w, x, i0, nc)
			g := l.tmp[w]
			for j := 0; j < nc; j++ { // nc x [F, HW] -> [F, nc*HW]
				src := dy[(i0+j)*outsz:]
				for f := 0; f < l.f; f++ {
					copy(g[f*cols+j*l.hw:f*cols+(j+1)*l.hw], src[f*l.hw:])
				}
			}
			Sgemm(false, true, l.f, l.ckk, cols, 1, g, cols, col, cols, 1, dw, l.ckk)
			if needDx && l.flipDx {
				l.backwardDataFlipped(w, i0, nc, dy, dx)
			} else if needDx {
				Sgemm(true, false, l.ckk, cols, l.f, 1, wt, l.ckk, g, cols, 0, l.dcol[w], cols)
				for j := 0; j < nc; j++ {
					d := dx[(i0+j)*insz : (i0+j+1)*insz]
					if !l.add {
						clear(d)
					}
					col2im(l.dcol[w], cols, j*l.hw, l.c, l.h, l.w, l.k, l.s, l.p, l.ho, l.wo, d)
				}
			}
		}
		return
	}
	for i := lo; i < hi; i++ {
		if l.direct {
			g := dy[i*outsz:]
			Sgemm(false, true, l.f, l.c, l.hw, 1, g, l.hw, x[i*insz:], l.hw, 1, dw, l.c)
			if needDx {
				Sgemm(true, false, l.c, l.hw, l.f, 1, wt, l.c, g, l.hw, beta, dx[i*insz:], l.hw)
			}
			continue
		}
		d := dx[i*insz : (i+1)*insz]
		if needDx && !l.flipDx && !l.add {
			clear(d) // col2im adds every band's share
		}
		for r0 := 0; r0 < l.ho; r0 += l.rb {
			r1 := min(r0+l.rb, l.ho)
			cols := (r1 - r0) * l.wo
			col := l.col[w]
			im2colRows(x[i*insz:], l.c, l.h, l.w, l.k, l.s, l.p, l.ho, l.wo, r0, r1, col, cols, 0)
			g := dy[i*outsz+r0*l.wo:] // the band's rows of every channel, leading dimension HW
			Sgemm(false, true, l.f, l.ckk, cols, 1, g, l.hw, col, cols, 1, dw, l.ckk)
			switch {
			case needDx && l.flipDx:
				// dx rows [r0, r1) = wflip x im2col(dy) over the band
				// (stride 1, same size: input and output rows coincide).
				fkk := l.f * l.k * l.k
				dc := l.dcol[w]
				im2colRows(dy[i*outsz:], l.f, l.h, l.w, l.k, 1, l.p, l.h, l.w, r0, r1, dc, cols, 0)
				Sgemm(false, false, l.c, cols, fkk, 1, l.wflip, fkk, dc, cols, beta, d[r0*l.w:], l.hw)
			case needDx:
				Sgemm(true, false, l.ckk, cols, l.f, 1, wt, l.ckk, g, l.hw, 0, l.dcol[w], cols)
				col2imRows(l.dcol[w], cols, 0, l.c, l.h, l.w, l.k, l.s, l.p, l.ho, l.wo, r0, r1, d)
			}
		}
	}
}

// biasGrad sets the bias gradient: the sum of dy over images and positions.
func (l *convLayer) biasGrad(dy []float32) {
	n := l.n
	gb := n.grads[l.bName]
	clear(gb)
	outsz := l.f * l.hw
	for i := 0; i < n.batch; i++ {
		for f := 0; f < l.f; f++ {
			var s float32
			for _, v := range dy[i*outsz+f*l.hw : i*outsz+(f+1)*l.hw] {
				s += v
			}
			gb[f] += s
		}
	}
}

// patches writes the im2col matrices of images [i0, i0+nc) of x side by
// side into worker w's buffer, a [C*k*k, nc*HW] matrix, and returns it.
func (l *convLayer) patches(w int, x []float32, i0, nc int) []float32 {
	insz, cols, col := l.c*l.h*l.w, nc*l.hw, l.col[w]
	for j := 0; j < nc; j++ {
		im2col(x[(i0+j)*insz:], l.c, l.h, l.w, l.k, l.s, l.p, l.ho, l.wo, col, cols, j*l.hw)
	}
	return col
}

// flipWeights sets wflip[c, f, k-1-i, k-1-j] = W[f, c, i, j].
func (l *convLayer) flipWeights(wt []float32) {
	kk := l.k * l.k
	fkk := l.f * kk
	for f := 0; f < l.f; f++ {
		for c := 0; c < l.c; c++ {
			src := wt[f*l.ckk+c*kk : f*l.ckk+(c+1)*kk]
			dst := l.wflip[c*fkk+f*kk : c*fkk+(f+1)*kk]
			for t, v := range src {
				dst[kk-1-t] = v
			}
		}
	}
}

// backwardDataFlipped writes (or adds) the input gradient of images
// [i0, i0+nc) as the convolution of dy with wflip (same padding, stride 1).
func (l *convLayer) backwardDataFlipped(w, i0, nc int, dy, dx []float32) {
	insz, outsz := l.c*l.hw, l.f*l.hw
	cols := nc * l.hw
	fkk := l.f * l.k * l.k
	col := l.dcol[w] // F*k*k <= C*k*k rows fit
	for j := 0; j < nc; j++ {
		im2col(dy[(i0+j)*outsz:], l.f, l.h, l.w, l.k, 1, l.p, l.h, l.w, col, cols, j*l.hw)
	}
	t := l.dxt[w]
	Sgemm(false, false, l.c, cols, fkk, 1, l.wflip, fkk, col, cols, 0, t, cols)
	for j := 0; j < nc; j++ { // [C, nc*HW] -> nc x [C, HW]
		d := dx[(i0+j)*insz:]
		for c := 0; c < l.c; c++ {
			src := t[c*cols+j*l.hw : c*cols+(j+1)*l.hw]
			if l.add {
				addTo(d[c*l.hw:(c+1)*l.hw], src)
			} else {
				copy(d[c*l.hw:(c+1)*l.hw], src)
			}
		}
	}
}

// im2col writes one image's patches into columns [off, off+ho*wo) of col,
// a [c*k*k, ld] row-major matrix; out-of-image taps are zero.
func im2col(src []float32, c, h, w, k, s, p, ho, wo int, col []float32, ld, off int) {
	im2colRows(src, c, h, w, k, s, p, ho, wo, 0, ho, col, ld, off)
}

// im2colRows is im2col for output rows [r0, r1) only: their (r1-r0)*wo
// patches go to columns [off, off+(r1-r0)*wo).
func im2colRows(src []float32, c, h, w, k, s, p, ho, wo, r0, r1 int, col []float32, ld, off int) {
	if s == 1 && ho == h && wo == w {
		im2colSame(src, c, h, w, k, p, r0, r1, col, ld, off)
		return
	}
	im2colGeneric(src, c, h, w, k, s, p, ho, wo, r0, r1, col, ld, off)
}

// im2colSame is im2colRows for stride 1 with same-size output. A tap's
// output rows then read consecutive input rows at a fixed shift, so the
// tap is one contiguous copy; only the few entries whose column falls
// outside the image (they wrapped to the neighbouring row) are zeroed
// afterwards. Row-by-row copies of 4- to 32-float rows cost more in call
// overhead.
func im2colSame(src []float32, c, h, w, k, p, r0, r1 int, col []float32, ld, off int) {
	hw, n, base := h*w, (r1-r0)*w, r0*w
	for ci := 0; ci < c; ci++ {
		img := src[ci*hw : (ci+1)*hw]
		for ki := 0; ki < k; ki++ {
			oyLo, oyHi := tapRange(ki, 1, p, h, h)
			oyLo, oyHi = max(oyLo, r0), min(oyHi, r1)
			for kj := 0; kj < k; kj++ {
				row := col[((ci*k+ki)*k+kj)*ld+off:][:n]
				oxLo, oxHi := tapRange(kj, 1, p, w, w)
				if oyLo >= oyHi || oxLo >= oxHi {
					clear(row)
					continue
				}
				clear(row[:oyLo*w-base])
				clear(row[oyHi*w-base:])
				a, b, start := sameSpan(oyLo, oyHi, ki, kj, p, w, hw)
				copy(row[a-base:b-base], img[start:])
				zeroEdges(row, oyLo-r0, oyHi-r0, oxLo, oxHi, w)
			}
		}
	}
}

// sameSpan maps rows [oyLo, oyHi) of a stride-1 same-size tap to one flat
// range: output entries [a, b) read img[start : start+b-a]. Entries cut off
// at either end lie in invalid columns.
func sameSpan(oyLo, oyHi, ki, kj, p, w, hw int) (a, b, start int) {
	a, b = oyLo*w, oyHi*w
	start = (oyLo-p+ki)*w + kj - p
	if start < 0 {
		a -= start
		start = 0
	}
	if end := start + b - a; end > hw {
		b -= end - hw
	}
	return a, b, start
}

// zeroEdges clears the out-of-image columns [0, oxLo) and [oxHi, w) of rows
// [oyLo, oyHi) of a tap's row; there are at most k-1 per row.
func zeroEdges(row []float32, oyLo, oyHi, oxLo, oxHi, w int) {
	if oxLo == 0 && oxHi == w {
		return
	}
	row = row[:oyHi*w]
	for base := oyLo * w; base < len(row); base += w {
		for j := base; j < base+oxLo; j++ {
			row[j] = 0
		}
		for j := base + oxHi; j < base+w; j++ {
			row[j] = 0
		}
	}
}

func im2colGeneric(src []float32, c, h, w, k, s, p, ho, wo, r0, r1 int, col []float32, ld, off int) {
	for ci := 0; ci < c; ci++ {
		img := src[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < k; ki++ {
			for kj := 0; kj < k; kj++ {
				row := col[((ci*k+ki)*k+kj)*ld+off:]
				// valid output columns for this tap: ox*s - p + kj in [0, w)
				oxLo, oxHi := tapRange(kj, s, p, w, wo)
				for oy := r0; oy < r1; oy++ {
					d := row[(oy-r0)*wo : (oy-r0+1)*wo]
					iy := oy*s - p + ki
					if iy < 0 || iy >= h || oxLo >= oxHi {
						clear(d)
						continue
					}
					clear(d[:oxLo])
					clear(d[oxHi:])
					line := img[iy*w:]
					if s == 1 {
						copy(d[oxLo:oxHi], line[oxLo-p+kj:])
					} else {
						for ox := oxLo; ox < oxHi; ox++ {
							d[ox] = line[ox*s-p+kj]
						}
					}
				}
			}
		}
	}
}

// col2im adds columns [off, off+ho*wo) of col back into one image's
// gradient. The stride-1 same-size path zeroes the invalid entries of col
// (it is scratch) so each tap becomes one contiguous vector add.
func col2im(col []float32, ld, off int, c, h, w, k, s, p, ho, wo int, dst []float32) {
	col2imRows(col, ld, off, c, h, w, k, s, p, ho, wo, 0, ho, dst)
}

// col2imRows is col2im for the patches of output rows [r0, r1), held in
// columns [off, off+(r1-r0)*wo); they add into input rows around the band.
func col2imRows(col []float32, ld, off int, c, h, w, k, s, p, ho, wo, r0, r1 int, dst []float32) {
	if s == 1 && ho == h && wo == w {
		col2imSame(col, ld, off, c, h, w, k, p, r0, r1, dst)
		return
	}
	col2imGeneric(col, ld, off, c, h, w, k, s, p, ho, wo, r0, r1, dst)
}

func col2imSame(col []float32, ld, off int, c, h, w, k, p, r0, r1 int, dst []float32) {
	hw, n, base := h*w, (r1-r0)*w, r0*w
	for ci := 0; ci < c; ci++ {
		img := dst[ci*hw : (ci+1)*hw]
		for ki := 0; ki < k; ki++ {
			oyLo, oyHi := tapRange(ki, 1, p, h, h)
			oyLo, oyHi = max(oyLo, r0), min(oyHi, r1)
			for kj := 0; kj < k; kj++ {
				oxLo, oxHi := tapRange(kj, 1, p, w, w)
				if oyLo >= oyHi || oxLo >= oxHi {
					continue
				}
				row := col[((ci*k+ki)*k+kj)*ld+off:][:n]
				zeroEdges(row, oyLo-r0, oyHi-r0, oxLo, oxHi, w)
				a, b, start := sameSpan(oyLo, oyHi, ki, kj, p, w, hw)
				addTo(img[start:start+b-a], row[a-base:b-base])
			}
		}
	}
}

func col2imGeneric(col []float32, ld, off int, c, h, w, k, s, p, ho, wo, r0, r1 int, dst []float32) {
	for ci := 0; ci < c; ci++ {
		img := dst[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < k; ki++ {
			for kj := 0; kj < k; kj++ {
				row := col[((ci*k+ki)*k+kj)*ld+off:]
				oxLo, oxHi := tapRange(kj, s, p, w, wo)
				for oy := r0; oy < r1; oy++ {
					iy := oy*s - p + ki
					if iy < 0 || iy >= h || oxLo >= oxHi {
						continue
					}
					d := row[(oy-r0)*wo:]
					line := img[iy*w:]
					if s == 1 {
						seg := line[oxLo-p+kj : oxHi-p+kj]
						for j, v := range d[oxLo:oxHi] {
							seg[j] += v
						}
					} else {
						for ox := oxLo; ox < oxHi; ox++ {
							line[ox*s-p+kj] += d[ox]
						}
					}
				}
			}
		}
	}
}

// tapRange is the range of output columns [lo, hi) whose input column
// ox*s - p + kj lies inside the image for kernel column kj.
func tapRange(kj, s, p, w, wo int) (lo, hi int) {
	if p > kj {
		lo = (p - kj + s - 1) / s
	}
	hi = wo
	if r := w - 1 + p - kj; r < 0 {
		hi = 0
	} else if r/s+1 < hi {
		hi = r/s + 1
	}
	return lo, hi
}
