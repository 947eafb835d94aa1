package data

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
)

func TestNormTextRoundTripsExactly(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for trial := 0; trial < 200; trial++ {
		c := 1 + r.Intn(4)
		n := Norm{Mean: make([]float32, c), Std: make([]float32, c)}
		for i := range n.Mean {
			n.Mean[i] = float32(r.NormFloat64())
			n.Std[i] = float32(math.Exp(r.NormFloat64() * 3))
		}
		m, s := n.Text()
		got, err := ParseNorm(m, s, c)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n.Mean {
			if got.Mean[i] != n.Mean[i] || got.Std[i] != n.Std[i] {
				t.Fatalf("%q %q: channel %d %v/%v became %v/%v", m, s, i, n.Mean[i], n.Std[i], got.Mean[i], got.Std[i])
			}
		}
	}
}

func TestParseNormErrors(t *testing.T) {
	for _, tc := range []struct {
		mean, std string
		c         int
		want      string
	}{
		{"0.5", "0.2", 3, "1 channels, the images have 3"},
		{"0.5,x", "0.2,0.3", 0, `mean entry 2 "x"`},
		{"0.5", "NaN", 0, "std entry 1"},
		{"0.5,0.1", "0.2", 0, "2 means but 1 standard deviations"},
		{"0.5", "0", 1, "must be positive"},
		{"0.5", "-1", 1, "must be positive"},
		{"", "", 1, "mean entry 1"},
	} {
		_, err := ParseNorm(tc.mean, tc.std, tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseNorm(%q, %q, %d) = %v, want %q", tc.mean, tc.std, tc.c, err, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	s := &Set{N: 2, Shape: ir.Shape{C: 1, H: 1, W: 2}, Classes: 2, Pixels: []uint8{1, 2, 3, 4}, Labels: []uint8{0, 1}}
	a := s.Fingerprint()
	if len(a) != 16 || a != s.Fingerprint() {
		t.Fatalf("fingerprint %q not stable", a)
	}
	s.Labels[1] = 0
	if s.Fingerprint() == a {
		t.Error("a changed label kept the fingerprint")
	}
	s.Labels[1] = 1
	s.Shape = ir.Shape{C: 1, H: 2, W: 1}
	if s.Fingerprint() == a {
		t.Error("a changed shape kept the fingerprint")
	}
}

// ParseNorm reads checkpoint metadata: whatever it accepts must have
// positive finite stds and print back to values it parses identically.
func FuzzParseNorm(f *testing.F) {
	f.Add("0.5,0.25", "0.2,0.3", 2)
	f.Add("1e-3", "1e38", 0)
	f.Add("x", "", 1)
	f.Fuzz(func(t *testing.T, mean, std string, c int) {
		n, err := ParseNorm(mean, std, c%5)
		if err != nil {
			return
		}
		for _, s := range n.Std {
			if !(s > 0) || math.IsInf(float64(s), 0) {
				t.Fatalf("accepted std %v", s)
			}
		}
		m, s := n.Text()
		again, err := ParseNorm(m, s, 0)
		if err != nil || len(again.Mean) != len(n.Mean) {
			t.Fatalf("%q %q does not parse back: %v", m, s, err)
		}
		for i := range n.Mean {
			if again.Mean[i] != n.Mean[i] || again.Std[i] != n.Std[i] {
				t.Fatalf("channel %d changed", i)
			}
		}
	})
}
