package report

import (
	"math"
	"math/rand"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// MeanSD is the mean and the sample standard deviation (n-1 in the
// denominator; 0 for a single value) of xs, skipping NaNs. n counts the
// values used; mean and sd are NaN when there are none.
func MeanSD(xs []float64) (mean, sd float64, n int) {
	var sum float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	mean = sum / float64(n)
	if n == 1 {
		return mean, 0, 1
	}
	var ss float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			ss += (x - mean) * (x - mean)
		}
	}
	return mean, math.Sqrt(ss / float64(n-1)), n
}

// Interval is a confidence interval for a difference of means: the
// percentile bootstrap, and beside it Welch's t interval.
type Interval struct {
	Diff     float64 // the observed difference mean(a) - mean(b)
	Lo, Hi   float64 // percentile bootstrap interval at Level
	TLo, THi float64 // Welch t interval at Level (one-sample t when b is empty)
	Level    float64 // e.g. 0.95
	NA, NB   int     // values in each group
}

// ExcludesZero says whether both intervals lie wholly above, or both wholly
// below, zero. With a handful of seeds the percentile bootstrap is too
// narrow (it cannot reach past the values seen: three positive gains give
// an interval above zero one time in eight by chance), so a difference
// counts as shown only when the t interval agrees.
func (iv Interval) ExcludesZero() bool {
	return (iv.Lo > 0 && iv.TLo > 0) || (iv.Hi < 0 && iv.THi < 0)
}

// WelchT is the Welch t interval of mean(a) - mean(b) at level (the
// one-sample t interval of mean(a) when b is empty). NaNs when a side has
// fewer than two values.
func WelchT(a, b []float64, level float64) (lo, hi float64) {
	a, b = finite(a), finite(b)
	ma, sa, na := MeanSD(a)
	if na < 2 || len(b) == 1 {
		return math.NaN(), math.NaN()
	}
	diff, va, df := ma, sa*sa/float64(na), float64(na-1)
	se2 := va
	if len(b) > 0 {
		mb, sb, nb := MeanSD(b)
		vb := sb * sb / float64(nb)
		diff, se2 = ma-mb, va+vb
		if se2 > 0 { // Welch-Satterthwaite degrees of freedom
			df = se2 * se2 / (va*va/float64(na-1) + vb*vb/float64(nb-1))
		}
	}
	if se2 == 0 {
		return diff, diff
	}
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(1 - (1-level)/2)
	half := q * math.Sqrt(se2)
	return diff - half, diff + half
}

// Defined is false when a group has fewer than two values: one run has no
// spread to resample, so it supports no interval.
func (iv Interval) Defined() bool {
	return iv.NA >= 2 && (iv.NB >= 2 || iv.NB == 0) && !math.IsNaN(iv.Lo)
}

// Bootstrap reps and seed used by the reports: fixed, so a report is the same
// every time it is written from the same records.
const (
	BootstrapReps = 10000
	BootstrapSeed = 1
)

// BootstrapDiff is the percentile bootstrap interval of mean(a) - mean(b):
// each replicate resamples a and b independently with replacement (the
// groups are separate searches). With b empty it is the interval of mean(a).
// Quantiles are nearest-rank; the result depends only on the inputs, reps,
// level and seed. NaNs are dropped first.
func BootstrapDiff(a, b []float64, reps int, level float64, seed int64) Interval {
	a, b = finite(a), finite(b)
	ma, _, _ := MeanSD(a)
	mb := 0.0
	if len(b) > 0 {
		mb, _, _ = MeanSD(b)
	}
	iv := Interval{Diff: ma - mb, Level: level, NA: len(a), NB: len(b), Lo: math.NaN(), Hi: math.NaN()}
	iv.TLo, iv.THi = WelchT(a, b, level)
	if len(a) == 0 || reps < 1 {
		return iv
	}
	r := rand.New(rand.NewSource(seed))
	stats := make([]float64, reps)
	for k := range stats {
		stats[k] = resampledMean(r, a)
		if len(b) > 0 {
			stats[k] -= resampledMean(r, b)
		}
	}
	sort.Float64s(stats)
	alpha := (1 - level) / 2
	iv.Lo, iv.Hi = quantile(stats, alpha), quantile(stats, 1-alpha)
	return iv
}

func resampledMean(r *rand.Rand, xs []float64) float64 {
	var s float64
	for range xs {
		s += xs[r.Intn(len(xs))]
	}
	return s / float64(len(xs))
}

// quantile is the nearest-rank p-quantile of sorted xs.
func quantile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

func finite(xs []float64) []float64 {
	var out []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}
