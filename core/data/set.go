package data

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"

	"github.com/eas-go/eas/core/ir"
)

// Set is a labelled image set, images stored as uint8 CHW one after another.
type Set struct {
	N          int
	Shape      ir.Shape
	Classes    int
	ClassNames []string
	Pixels     []uint8 // N*C*H*W
	Labels     []uint8
}

// Source is a data set's training and test sets.
type Source struct {
	Name        string
	Train, Test *Set
}

// check verifies internal consistency; errors name the origin.
func (s *Set) check(origin string) error {
	if s.N == 0 {
		return fmt.Errorf("%s: no images", origin)
	}
	if len(s.Pixels) != s.N*s.Shape.Size() || len(s.Labels) != s.N {
		return fmt.Errorf("%s: %d images but %d pixel bytes and %d labels", origin, s.N, len(s.Pixels), len(s.Labels))
	}
	for i, l := range s.Labels {
		if int(l) >= s.Classes {
			return fmt.Errorf("%s: image %d has label %d, outside the %d classes", origin, i, l, s.Classes)
		}
	}
	return nil
}

// Subset returns the images at idx, in that order (pixels copied).
func (s *Set) Subset(idx []int) *Set {
	sz := s.Shape.Size()
	out := &Set{N: len(idx), Shape: s.Shape, Classes: s.Classes, ClassNames: s.ClassNames,
		Pixels: make([]uint8, len(idx)*sz), Labels: make([]uint8, len(idx))}
	for k, i := range idx {
		copy(out.Pixels[k*sz:(k+1)*sz], s.Pixels[i*sz:(i+1)*sz])
		out.Labels[k] = s.Labels[i]
	}
	return out
}

// Split holds out nVal images chosen with seed as the validation set; the
// rest, in their original order, is the training set.
func (s *Set) Split(nVal int, seed int64) (train, val *Set) {
	if nVal <= 0 {
		return s, nil
	}
	if nVal >= s.N {
		nVal = s.N / 10
	}
	perm := rand.New(rand.NewSource(seed)).Perm(s.N)
	isVal := make([]bool, s.N)
	var vi []int
	for _, i := range perm[:nVal] {
		isVal[i] = true
	}
	var ti []int
	for i := 0; i < s.N; i++ {
		if isVal[i] {
			vi = append(vi, i)
		} else {
			ti = append(ti, i)
		}
	}
	return s.Subset(ti), s.Subset(vi)
}

// Sample returns n images chosen at random with seed, in their original
// order (all when n <= 0 or n >= N). Files are often sorted by class, so the
// first n images would not be a fair subset.
func (s *Set) Sample(n int, seed int64) *Set {
	if n <= 0 || n >= s.N {
		return s
	}
	idx := rand.New(rand.NewSource(seed)).Perm(s.N)[:n]
	sort.Ints(idx)
	return s.Subset(idx)
}

// Concat joins two sets of the same shape (training + validation for final training).
func Concat(a, b *Set) *Set {
	if b == nil {
		return a
	}
	out := *a
	out.N = a.N + b.N
	out.Pixels = append(append([]uint8(nil), a.Pixels...), b.Pixels...)
	out.Labels = append(append([]uint8(nil), a.Labels...), b.Labels...)
	return &out
}

// Norm maps a pixel p of channel c to (p/255 - Mean[c]) / Std[c].
type Norm struct {
	Mean, Std []float32
}

// ComputeNorm is the per-channel mean and standard deviation of pixels/255 over s.
func ComputeNorm(s *Set) Norm {
	c, hw := s.Shape.C, s.Shape.H*s.Shape.W
	n := Norm{Mean: make([]float32, c), Std: make([]float32, c)}
	for ch := 0; ch < c; ch++ {
		var sum, sq float64
		for i := 0; i < s.N; i++ {
			for _, p := range s.Pixels[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				v := float64(p) / 255
				sum += v
				sq += v * v
			}
		}
		cnt := float64(s.N * hw)
		m := sum / cnt
		n.Mean[ch] = float32(m)
		n.Std[ch] = float32(math.Sqrt(math.Max(sq/cnt-m*m, 1e-12)))
	}
	return n
}

// ScaleNorm is pixels/255 (mean 0, std 1 for every channel).
func ScaleNorm(c int) Norm {
	n := Norm{Mean: make([]float32, c), Std: make([]float32, c)}
	for i := range n.Std {
		n.Std[i] = 1
	}
	return n
}

// NormFor returns the normalisation named by kind ("channel", "scale", "none"),
// computed on the training set.
func NormFor(kind string, train *Set) (Norm, error) {
	switch strings.ToLower(kind) {
	case "", "channel":
		return ComputeNorm(train), nil
	case "scale":
		return ScaleNorm(train.Shape.C), nil
	case "none":
		n := ScaleNorm(train.Shape.C)
		for i := range n.Std {
			n.Std[i] = 1.0 / 255
		}
		return n, nil
	}
	return Norm{}, fmt.Errorf("unknown normalisation %q (channel, scale or none)", kind)
}

// table returns a 256-entry lookup per channel: pixel value -> normalised float.
func (n Norm) table() [][256]float32 {
	t := make([][256]float32, len(n.Mean))
	for c := range t {
		for p := 0; p < 256; p++ {
			t[c][p] = (float32(p)/255 - n.Mean[c]) / n.Std[c]
		}
	}
	return t
}
