package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The vector kernels must agree with their Go bodies on every length (the
// assembly prefix plus the Go tail) to rounding. Sums are compared with a
// tolerance relative to the sum of magnitudes, since lane-wise partial sums
// round differently from a sequential loop.
func TestVecKernelsMatchGo(t *testing.T) {
	if !useSIMD {
		t.Log("no AVX2+FMA here: the wrappers run the Go bodies")
	}
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(n int, pos bool) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
			if pos {
				v[i] = max(v[i], 0) // a ReLU output: many exact zeros
			}
		}
		return v
	}
	const tol = 1e-5
	close := func(a, b, scale float32) bool { return math.Abs(float64(a-b)) <= tol*(1+float64(scale)) }
	for n := 0; n <= 70; n++ {
		x, y, dy := fill(n, false), fill(n, true), fill(n, false)
		var mag float32
		for i := range x {
			mag += float32(math.Abs(float64(x[i]))) + x[i]*x[i] + float32(math.Abs(float64(dy[i])))
		}

		got, want := make([]float32, n), make([]float32, n)
		scaleShiftRelu(got, x, 1.3, -0.2)
		scaleShiftReluGo(want, x, 1.3, -0.2)
		for i := range got {
			if !close(got[i], want[i], 0) || math.Signbit(float64(got[i])) {
				t.Fatalf("scaleShiftRelu n=%d [%d]: %v, want %v", n, i, got[i], want[i])
			}
		}

		s, ss := sumShift(x, 0.3)
		ws, wss := sumShiftGo(x, 0.3)
		if !close(s, ws, mag) || !close(ss, wss, mag) {
			t.Fatalf("sumShift n=%d: %v %v, want %v %v", n, s, ss, ws, wss)
		}

		s1, s2 := reluGradSums(x, y, dy, 0.1)
		w1, w2 := reluGradSumsGo(x, y, dy, 0.1)
		if !close(s1, w1, mag) || !close(s2, w2, mag) {
			t.Fatalf("reluGradSums n=%d: %v %v, want %v %v", n, s1, s2, w1, w2)
		}

		for _, add := range []bool{false, true} {
			base := fill(n, false)
			copy(got, base)
			copy(want, base)
			bnReluBack(got, x, y, dy, 0.7, 0.05, -0.3, 0.1, add)
			bnReluBackGo(want, x, y, dy, 0.7, 0.05, -0.3, 0.1, add)
			for i := range got {
				if !close(got[i], want[i], 1) {
					t.Fatalf("bnReluBack add=%v n=%d [%d]: %v, want %v", add, n, i, got[i], want[i])
				}
			}
		}

		copy(got, y)
		copy(want, y)
		addTo(got, x)
		addToGo(want, x)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("addTo n=%d [%d]: %v, want %v", n, i, got[i], want[i])
			}
		}
	}
}

// A NaN must survive the fused BN+ReLU forward (so divergence is detected)
// and pass its gradient, like the scalar reluGrad.
func TestVecKernelsNaN(t *testing.T) {
	nan := float32(math.NaN())
	x := make([]float32, 16)
	x[3], x[11] = nan, nan
	y := make([]float32, 16)
	scaleShiftRelu(y, x, 1, 0)
	for i, v := range y {
		isNaN := v != v
		if isNaN != (i == 3 || i == 11) {
			t.Fatalf("scaleShiftRelu[%d] = %v", i, v)
		}
	}
	dy := make([]float32, 16)
	for i := range dy {
		dy[i] = 1
	}
	s1, _ := reluGradSums(make([]float32, 16), y, dy, 0)
	if s1 != 2 {
		t.Fatalf("reluGradSums passes %v gradients, want the 2 at NaN outputs", s1)
	}
}

// The contiguous stride-1 paths of im2col and col2im must equal the
// row-by-row ones exactly, on every kernel size and padding, including
// kernels larger than the image.
func TestIm2colSameMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 300; trial++ {
		c, h, w := 1+r.IntN(3), 1+r.IntN(9), 1+r.IntN(9)
		k := 1 + 2*r.IntN(4)
		p := (k - 1) / 2
		hw := h * w
		img := make([]float32, c*hw)
		for i := range img {
			img[i] = float32(r.NormFloat64())
		}
		ld, off := 2*hw+r.IntN(3), r.IntN(hw+1)
		got := make([]float32, c*k*k*ld)
		want := make([]float32, c*k*k*ld)
		for i := range got {
			got[i], want[i] = -7, -7 // untouched columns must stay
		}
		im2col(img, c, h, w, k, 1, p, h, w, got, ld, off)
		im2colGeneric(img, c, h, w, k, 1, p, h, w, 0, h, want, ld, off)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("im2col c=%d h=%d w=%d k=%d: [%d] %v, want %v", c, h, w, k, i, got[i], want[i])
			}
		}
		// col2im: scratch columns with random values everywhere.
		for i := range got {
			got[i] = float32(r.NormFloat64())
		}
		copy(want, got)
		dg, dw := make([]float32, c*hw), make([]float32, c*hw)
		for i := range dg {
			dg[i] = float32(i)
			dw[i] = float32(i)
		}
		col2im(got, ld, off, c, h, w, k, 1, p, h, w, dg)
		col2imGeneric(want, ld, off, c, h, w, k, 1, p, h, w, 0, h, dw)
		for i := range dg {
			if math.Abs(float64(dg[i]-dw[i])) > 1e-5*(1+math.Abs(float64(dw[i]))) {
				t.Fatalf("col2im c=%d h=%d w=%d k=%d: [%d] %v, want %v", c, h, w, k, i, dg[i], dw[i])
			}
		}
	}
}

// The vector 2x2 pooling must pick the same winner as the scalar code,
// including ties (many equal values) and rows whose width is not a multiple
// of 8.
func TestMax22MatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, wo := range []int{1, 4, 8, 9, 16, 23, 32} {
		w := 2 * wo
		src := make([]float32, 2*w+3)
		for i := range src {
			src[i] = float32(r.IntN(4)) // ties are common
		}
		i0 := 2 * w * r.IntN(5)
		got, want := make([]float32, wo), make([]float32, wo)
		ga, wa := make([]int32, wo), make([]int32, wo)
		n8 := 0
		if useSIMD {
			n8 = wo &^ 7
			if n8 > 0 {
				max22AVX2(&src[0], &src[w], &got[0], &ga[0], n8, i0, w, &pool22Ramp[0])
			}
		}
		max22Go(src, src[w:], got, ga, n8, i0, w)
		max22Go(src, src[w:], want, wa, 0, i0, w)
		for i := range got {
			if got[i] != want[i] || ga[i] != wa[i] {
				t.Fatalf("wo=%d out %d: %v@%d, want %v@%d", wo, i, got[i], ga[i], want[i], wa[i])
			}
		}
	}
}

// parallelRange must cover [0, n) exactly once with the fixed partition, also
// when called from many goroutines at once and when nested (the pool then
// runs ranges on the caller rather than deadlocking).
func TestParallelForConcurrentAndNested(t *testing.T) {
	const workers = 3
	errs := make(chan string, 16)
	for g := 0; g < 16; g++ {
		go func() {
			for rep := 0; rep < 50; rep++ {
				n := 1 + rep%17
				hits := make([]int32, n*n)
				parallelRange(workers, n, func(w, lo, hi int) {
					if lo != w*n/min(workers, n) {
						errs <- "range does not match its worker index"
					}
					for i := lo; i < hi; i++ {
						parallelRange(workers, n, func(_, lo2, hi2 int) {
							for j := lo2; j < hi2; j++ {
								hits[i*n+j]++
							}
						})
					}
				})
				for _, h := range hits {
					if h != 1 {
						errs <- "an index was not visited exactly once"
						return
					}
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 16; g++ {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}

// im2colRows over a band of output rows must equal those rows' columns of
// the whole image's im2col, and col2imRows over bands that cover the image
// must add up to col2im of the whole, for stride 1 and 2 and every kernel
// and padding, bands of any height.
func TestIm2colRowsMatchWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 400; trial++ {
		c, h, w := 1+r.IntN(3), 1+r.IntN(9), 1+r.IntN(9)
		k, s := 1+2*r.IntN(3), 1+r.IntN(2)
		p := r.IntN((k-1)/2 + 1)
		if s == 1 && r.IntN(2) == 0 {
			p = (k - 1) / 2 // same size: the contiguous path
		}
		ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
		if ho < 1 || wo < 1 {
			continue
		}
		img := make([]float32, c*h*w)
		for i := range img {
			img[i] = float32(r.NormFloat64())
		}
		rows := c * k * k
		whole := make([]float32, rows*ho*wo)
		im2col(img, c, h, w, k, s, p, ho, wo, whole, ho*wo, 0)
		dWhole := make([]float32, c*h*w)
		scratch := append([]float32(nil), whole...)
		col2im(scratch, ho*wo, 0, c, h, w, k, s, p, ho, wo, dWhole)
		rb := 1 + r.IntN(ho)
		dBands := make([]float32, c*h*w)
		for r0 := 0; r0 < ho; r0 += rb {
			r1 := min(r0+rb, ho)
			n := (r1 - r0) * wo
			off := r.IntN(2)
			ld := n + off + r.IntN(3)
			band := make([]float32, rows*ld)
			for i := range band {
				band[i] = -7
			}
			im2colRows(img, c, h, w, k, s, p, ho, wo, r0, r1, band, ld, off)
			for row := 0; row < rows; row++ {
				for j := 0; j < n; j++ {
					if got, want := band[row*ld+off+j], whole[row*ho*wo+r0*wo+j]; got != want {
						t.Fatalf("im2colRows c=%d h=%d w=%d k=%d s=%d p=%d rows [%d,%d): patch row %d col %d = %v, want %v",
							c, h, w, k, s, p, r0, r1, row, j, got, want)
					}
				}
			}
			col2imRows(band, ld, off, c, h, w, k, s, p, ho, wo, r0, r1, dBands)
		}
		for i := range dBands {
			if math.Abs(float64(dBands[i]-dWhole[i])) > 1e-5*(1+math.Abs(float64(dWhole[i]))) {
				t.Fatalf("col2imRows in bands of %d rows, c=%d h=%d w=%d k=%d s=%d p=%d: [%d] %v, want %v", rb, c, h, w, k, s, p, i, dBands[i], dWhole[i])
			}
		}
	}
}
