package report

import (
	"math"
	"slices"
	"testing"
)

func TestRanks(t *testing.T) {
	for _, c := range []struct{ xs, want []float64 }{
		{[]float64{5, 1, 5}, []float64{2.5, 1, 2.5}},
		{[]float64{3, 2, 1}, []float64{3, 2, 1}},
		{[]float64{7, 7, 7, 7}, []float64{2.5, 2.5, 2.5, 2.5}},
		{[]float64{0.1, 0.3, 0.3, 0.3, 0.2}, []float64{1, 4, 4, 4, 2}},
	} {
		if got := Ranks(c.xs); !slices.Equal(got, c.want) {
			t.Errorf("Ranks(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

// Hand-computed: for x = 1..5, y = 2 1 4 3 5 the rank differences are
// -1 1 -1 1 0, so rho = 1 - 6*4/(5*24) = 0.8, and 2 of the 10 pairs are
// discordant, so tau = (8-2)/10 = 0.6. With y = 1 2 2 3 (one tie) the
// ranks of y are 1 2.5 2.5 4: rho = 4.5/sqrt(5*4.5); tau-b has 5 concordant
// pairs, 6 untied in x and 5 in y: 5/sqrt(30).
func TestRankCorrelations(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name          string
		x, y          []float64
		spear, kendal float64
	}{
		{"perfect", []float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1, 1},
		{"monotone not linear", []float64{1, 2, 3, 4}, []float64{1, 10, 100, 1000}, 1, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{0.9, 0.8, 0.7, 0.6}, -1, -1},
		{"two swaps", []float64{1, 2, 3, 4, 5}, []float64{2, 1, 4, 3, 5}, 0.8, 0.6},
		{"tie", []float64{1, 2, 3, 4}, []float64{1, 2, 2, 3}, 4.5 / math.Sqrt(22.5), 5 / math.Sqrt(30)},
		{"tie in x", []float64{1, 1, 2, 3}, []float64{1, 2, 3, 4}, 4.5 / math.Sqrt(22.5), 5 / math.Sqrt(30)},
		{"constant", []float64{1, 2, 3}, []float64{5, 5, 5}, nan, nan},
		{"one value", []float64{1}, []float64{2}, nan, nan},
	} {
		s, k := Spearman(c.x, c.y), Kendall(c.x, c.y)
		if !closeOrNaN(s, c.spear) || !closeOrNaN(k, c.kendal) {
			t.Errorf("%s: Spearman %v Kendall %v, want %v %v", c.name, s, k, c.spear, c.kendal)
		}
	}
}

func closeOrNaN(a, b float64) bool {
	if math.IsNaN(b) {
		return math.IsNaN(a)
	}
	return math.Abs(a-b) < 1e-12
}

func TestBootstrapItems(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	y := []float64{2, 1, 4, 3, 6, 5, 8, 7}
	stat := func(idx []int) float64 { return Spearman(Pick(x, idx), Pick(y, idx)) }
	a := BootstrapItems(len(x), stat, 2000, 0.95, 7)
	b := BootstrapItems(len(x), stat, 2000, 0.95, 7)
	if a != b && !(math.IsNaN(a.Lo) && math.IsNaN(b.Lo)) {
		t.Errorf("same seed, different intervals: %+v %+v", a, b)
	}
	if math.Abs(a.Value-Spearman(x, y)) > 1e-12 || !(a.Lo <= a.Value && a.Value <= a.Hi) || a.Hi > 1 || a.Lo < 0 {
		t.Errorf("interval %+v around %v", a, Spearman(x, y))
	}
	if c := BootstrapItems(len(x), stat, 2000, 0.95, 8); c.Lo == a.Lo && c.Hi == a.Hi && c.Lo == c.Hi {
		t.Errorf("another seed gave the same degenerate interval %+v", c)
	}
	// A perfect ranking stays perfect in every replicate that has two
	// distinct items (the others are NaN and left out).
	p := BootstrapItems(len(x), func(idx []int) float64 { return Spearman(Pick(x, idx), Pick(x, idx)) }, 500, 0.9, 1)
	if p.Lo != 1 || p.Hi != 1 || p.Value != 1 || p.N != 8 {
		t.Errorf("perfect: %+v", p)
	}
	// Reversed: every replicate is -1.
	r := BootstrapItems(3, func(idx []int) float64 {
		return Kendall(Pick([]float64{1, 2, 3}, idx), Pick([]float64{3, 2, 1}, idx))
	}, 500, 0.95, 1)
	if r.Lo != -1 || r.Hi != -1 || r.Value != -1 {
		t.Errorf("reversed: %+v", r)
	}
}
