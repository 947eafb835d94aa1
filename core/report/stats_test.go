package report

import (
	"math"
	"math/rand"
	"testing"
)

func TestMeanSD(t *testing.T) {
	for _, c := range []struct {
		xs       []float64
		mean, sd float64
		n        int
	}{
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7), 8},
		{[]float64{0.87, 0.88, 0.89}, 0.88, 0.01, 3},
		{[]float64{3}, 3, 0, 1},
		{[]float64{1, math.NaN(), 3}, 2, math.Sqrt2, 2},
	} {
		m, s, n := MeanSD(c.xs)
		if math.Abs(m-c.mean) > 1e-12 || math.Abs(s-c.sd) > 1e-12 || n != c.n {
			t.Errorf("MeanSD(%v) = %v, %v, %d; want %v, %v, %d", c.xs, m, s, n, c.mean, c.sd, c.n)
		}
	}
	if m, s, n := MeanSD(nil); !math.IsNaN(m) || !math.IsNaN(s) || n != 0 {
		t.Errorf("MeanSD(nil) = %v, %v, %d", m, s, n)
	}
}

func TestBootstrapKnownValues(t *testing.T) {
	// Constant groups: no spread, the interval is the point.
	iv := BootstrapDiff([]float64{0.9, 0.9, 0.9}, []float64{0.8, 0.8}, 1000, 0.95, 1)
	if math.Abs(iv.Diff-0.1) > 1e-12 || math.Abs(iv.Lo-0.1) > 1e-12 || math.Abs(iv.Hi-0.1) > 1e-12 || !iv.ExcludesZero() || !iv.Defined() {
		t.Errorf("constant groups: %+v", iv)
	}
	// a = {0, 1}: resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2,
	// 1/4, so the 95% interval is [0, 1] and the 50% interval [0.5, 0.5].
	iv = BootstrapDiff([]float64{0, 1}, nil, 20000, 0.95, 3)
	if iv.Lo != 0 || iv.Hi != 1 || iv.Diff != 0.5 || iv.ExcludesZero() {
		t.Errorf("{0,1} at 95%%: %+v, want [0, 1]", iv)
	}
	iv = BootstrapDiff([]float64{0, 1}, nil, 20000, 0.4, 3)
	if iv.Lo != 0.5 || iv.Hi != 0.5 {
		t.Errorf("{0,1} at 40%%: %+v, want [0.5, 0.5]", iv)
	}
	// A large normal sample: the interval approaches mean ± 1.96 sd/sqrt(n).
	r := rand.New(rand.NewSource(5))
	xs := make([]float64, 400)
	for i := range xs {
		xs[i] = 2 + r.NormFloat64()
	}
	m, sd, n := MeanSD(xs)
	half := 1.96 * sd / math.Sqrt(float64(n))
	iv = BootstrapDiff(xs, nil, 20000, 0.95, 7)
	if math.Abs(iv.Lo-(m-half)) > 0.1*half || math.Abs(iv.Hi-(m+half)) > 0.1*half {
		t.Errorf("normal sample: [%.4f, %.4f], want about [%.4f, %.4f]", iv.Lo, iv.Hi, m-half, m+half)
	}
	// Deterministic for a seed.
	a, b := []float64{0.86, 0.87, 0.875}, []float64{0.865, 0.868, 0.871}
	if BootstrapDiff(a, b, 5000, 0.95, 1) != BootstrapDiff(a, b, 5000, 0.95, 1) {
		t.Error("the same seed gave different intervals")
	}
	// One run: no interval.
	if iv := BootstrapDiff([]float64{0.9}, []float64{0.8, 0.85}, 1000, 0.95, 1); iv.Defined() {
		t.Errorf("a single run gave an interval: %+v", iv)
	}
}

func TestWelchT(t *testing.T) {
	// One sample {1,2,3}: mean 2, sd 1, t(2, 0.975) = 4.302653.
	lo, hi := WelchT([]float64{1, 2, 3}, nil, 0.95)
	half := 4.302653 / math.Sqrt(3)
	if math.Abs(lo-(2-half)) > 1e-5 || math.Abs(hi-(2+half)) > 1e-5 {
		t.Errorf("one sample: [%v, %v], want [%v, %v]", lo, hi, 2-half, 2+half)
	}
	// Equal variances and sizes: Welch's df is 2(n-1) = 4, t(4, 0.975) =
	// 2.776445, se = sqrt(2/3).
	lo, hi = WelchT([]float64{4, 5, 6}, []float64{1, 2, 3}, 0.95)
	half = 2.776445 * math.Sqrt(2.0/3)
	if math.Abs(lo-(3-half)) > 1e-5 || math.Abs(hi-(3+half)) > 1e-5 {
		t.Errorf("two samples: [%v, %v], want [%v, %v]", lo, hi, 3-half, 3+half)
	}
	if lo, _ := WelchT([]float64{1}, nil, 0.95); !math.IsNaN(lo) {
		t.Errorf("one value gave an interval")
	}
	// Three positive gains: the bootstrap interval lies above zero, the t
	// interval does not, so no difference is claimed.
	iv := BootstrapDiff([]float64{0.0115, 0.002, 0.0005}, nil, 10000, 0.95, 1)
	if iv.Lo <= 0 || iv.TLo >= 0 || iv.ExcludesZero() {
		t.Errorf("three small positive gains: %+v", iv)
	}
}
