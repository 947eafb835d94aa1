package report

import (
	"math"
	"math/rand"
	"sort"
)

// Ranks gives each value its 1-based rank in ascending order; tied values
// share the mean of the ranks they span ({5, 1, 5} -> {2.5, 1, 2.5}).
func Ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// Pearson is the correlation coefficient of x and y (same length); NaN when
// either has no spread or fewer than two values.
func Pearson(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	mx, _, _ := MeanSD(x)
	my, _, _ := MeanSD(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Spearman is the rank correlation of x and y: Pearson's correlation of
// their ranks, ties given mean ranks. NaN when a side is constant.
func Spearman(x, y []float64) float64 { return Pearson(Ranks(x), Ranks(y)) }

// Kendall is Kendall's tau-b of x and y: (concordant - discordant pairs)
// over the geometric mean of the pairs untied in x and untied in y, so
// ties count in neither. NaN when a side is constant.
func Kendall(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	var conc, disc, tx, ty float64 // tx: pairs untied in x; ty: untied in y
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			sx, sy := sign(x[i]-x[j]), sign(y[i]-y[j])
			if sx != 0 {
				tx++
			}
			if sy != 0 {
				ty++
			}
			switch p := sx * sy; {
			case p > 0:
				conc++
			case p < 0:
				disc++
			}
		}
	}
	if tx == 0 || ty == 0 {
		return math.NaN()
	}
	return (conc - disc) / math.Sqrt(tx*ty)
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// CorrInterval is a statistic over n items and its percentile bootstrap
// interval, the items (not the values) resampled with replacement.
type CorrInterval struct {
	Value  float64
	Lo, Hi float64 // NaN when no replicate was defined
	Level  float64
	N      int
}

// BootstrapItems resamples n items with replacement reps times and returns
// the nearest-rank percentile interval of stat over the replicates. stat
// gets the indices of a replicate; replicates where it is NaN (all items
// tied, say) are left out. Deterministic for (n, reps, level, seed).
func BootstrapItems(n int, stat func(idx []int) float64, reps int, level float64, seed int64) CorrInterval {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	ci := CorrInterval{Value: stat(all), Lo: math.NaN(), Hi: math.NaN(), Level: level, N: n}
	if n < 2 || reps < 1 {
		return ci
	}
	r := rand.New(rand.NewSource(seed))
	idx := make([]int, n)
	var vals []float64
	for k := 0; k < reps; k++ {
		for i := range idx {
			idx[i] = r.Intn(n)
		}
		if v := stat(idx); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return ci
	}
	sort.Float64s(vals)
	alpha := (1 - level) / 2
	ci.Lo, ci.Hi = quantile(vals, alpha), quantile(vals, 1-alpha)
	return ci
}

// Pick returns xs at the indices idx (a bootstrap replicate).
func Pick(xs []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, k := range idx {
		out[i] = xs[k]
	}
	return out
}
