package nn

// Vector kernels for the memory-bound layers. Each has a portable Go body
// (the reference, and the path on CPUs or architectures without AVX2+FMA)
// and, on amd64, an assembly body over 8 floats at a time. Go does not
// vectorise loops itself, and these loops are most of a training step that
// is not GEMM. The wrappers run the assembly on the multiple-of-8 prefix and
// Go on the tail. Results differ from the Go bodies only by rounding (fused
// multiply-add, lane-wise partial sums); tests bound the difference.

// scaleShiftRelu sets dst[i] = max(src[i]*a + b, 0); NaN propagates.
func scaleShiftRelu(dst, src []float32, a, b float32) {
	src = src[:len(dst)]
	n8 := 0
	if useSIMD {
		n8 = len(dst) &^ 7
		if n8 > 0 {
			scaleShiftReluAVX2(&dst[0], &src[0], n8, a, b)
		}
	}
	scaleShiftReluGo(dst[n8:], src[n8:], a, b)
}

func scaleShiftReluGo(dst, src []float32, a, b float32) {
	src = src[:len(dst)]
	for j := range dst {
		dst[j] = max(src[j]*a+b, 0)
	}
}

// sumShift returns the sums of x[i]-shift and of its square.
func sumShift(x []float32, shift float32) (s, ss float32) {
	n8 := 0
	if useSIMD {
		n8 = len(x) &^ 7
		if n8 > 0 {
			s, ss = sumShiftAVX2(&x[0], n8, shift)
		}
	}
	s2, ss2 := sumShiftGo(x[n8:], shift)
	return s + s2, ss + ss2
}

func sumShiftGo(x []float32, shift float32) (s, ss float32) {
	for _, v := range x {
		d := v - shift
		s += d
		ss += d * d
	}
	return s, ss
}

// reluGradSums returns the sums of g and of g*(x[i]-mean), where g is dy[i]
// masked by the ReLU output y[i] (see reluGrad).
func reluGradSums(x, y, dy []float32, mean float32) (s1, s2 float32) {
	y, dy = y[:len(x)], dy[:len(x)]
	n8 := 0
	if useSIMD {
		n8 = len(x) &^ 7
		if n8 > 0 {
			s1, s2 = reluGradSumsAVX2(&x[0], &y[0], &dy[0], n8, mean)
		}
	}
	t1, t2 := reluGradSumsGo(x[n8:], y[n8:], dy[n8:], mean)
	return s1 + t1, s2 + t2
}

func reluGradSumsGo(x, y, dy []float32, mean float32) (s1, s2 float32) {
	y, dy = y[:len(x)], dy[:len(x)]
	for j := range x {
		g := reluGrad(dy[j], y[j])
		s1 += g
		s2 += g * (x[j] - mean)
	}
	return s1, s2
}

// bnReluBack sets (add: adds to) d[i] = k*(g - a - (x[i]-mean)*bb) with g
// the ReLU-masked dy[i]: the input gradient of fused BN+ReLU.
func bnReluBack(d, x, y, dy []float32, k, a, bb, mean float32, add bool) {
	x, y, dy = x[:len(d)], y[:len(d)], dy[:len(d)]
	n8 := 0
	if useSIMD {
		n8 = len(d) &^ 7
		if n8 > 0 {
			f := 0
			if add {
				f = 1
			}
			bnReluBackAVX2(&d[0], &x[0], &y[0], &dy[0], n8, k, a, bb, mean, f)
		}
	}
	bnReluBackGo(d[n8:], x[n8:], y[n8:], dy[n8:], k, a, bb, mean, add)
}

func bnReluBackGo(d, x, y, dy []float32, k, a, bb, mean float32, add bool) {
	x, y, dy = x[:len(d)], y[:len(d)], dy[:len(d)]
	if add {
		for j := range d {
			d[j] += k * (reluGrad(dy[j], y[j]) - a - (x[j]-mean)*bb)
		}
		return
	}
	for j := range d {
		d[j] = k * (reluGrad(dy[j], y[j]) - a - (x[j]-mean)*bb)
	}
}

// addTo sets dst[i] += src[i].
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	n8 := 0
	if useSIMD {
		n8 = len(dst) &^ 7
		if n8 > 0 {
			addToAVX2(&dst[0], &src[0], n8)
		}
	}
	addToGo(dst[n8:], src[n8:])
}

func addToGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// SetSIMD chooses the vector kernels of every net in the process: on selects
// the AVX2+FMA assembly where the CPU has it, off the portable Go bodies.
// Results differ between the two by rounding. Call it before nets run.
func SetSIMD(on bool) { useSIMD = on && hasSIMD }

// KernelsName says which bodies the vector kernels run: "avx2+fma" or "go".
func KernelsName() string {
	if useSIMD {
		return "avx2+fma"
	}
	return "go"
}
