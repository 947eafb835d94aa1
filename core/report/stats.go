package report

import (
	"math"
	"math/rand"
	"sort"
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

// Interval is a bootstrap confidence interval for a difference of means.
type Interval struct {
	Diff   float64 // the observed difference mean(a) - mean(b)
	Lo, Hi float64 // percentile interval at Level
	Level  float64 // e.g. 0.95
	NA, NB int     // values in each group
}

// ExcludesZero says whether the interval lies wholly above or below zero.
func (iv Interval) ExcludesZero() bool { return iv.Lo > 0 || iv.Hi < 0 }

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
