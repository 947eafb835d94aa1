package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Text writes the normalisation as two comma-separated lists (mean, std)
// with every float32 digit kept, so ParseNorm gives back the same values and
// a network evaluated later sees bit-identical inputs.
func (n Norm) Text() (mean, std string) {
	f := func(v []float32) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
		return strings.Join(s, ",")
	}
	return f(n.Mean), f(n.Std)
}

// ParseNorm reads what Text wrote; channels > 0 demands that many entries.
// Standard deviations must be positive and finite.
func ParseNorm(mean, std string, channels int) (Norm, error) {
	f := func(what, s string) ([]float32, error) {
		var out []float32
		for i, p := range strings.Split(s, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s entry %d %q is not a finite number", what, i+1, p)
			}
			out = append(out, float32(v))
		}
		return out, nil
	}
	m, err := f("mean", mean)
	if err != nil {
		return Norm{}, err
	}
	s, err := f("std", std)
	if err != nil {
		return Norm{}, err
	}
	if len(m) != len(s) {
		return Norm{}, fmt.Errorf("%d means but %d standard deviations", len(m), len(s))
	}
	if channels > 0 && len(m) != channels {
		return Norm{}, fmt.Errorf("%d channels, the images have %d", len(m), channels)
	}
	for i, v := range s {
		if !(v > 0) {
			return Norm{}, fmt.Errorf("std entry %d is %g: must be positive", i+1, v)
		}
	}
	return Norm{Mean: m, Std: s}, nil
}

// Fingerprint identifies a set's contents (shape, pixels and labels) by the
// first 16 hex digits of their SHA-256: a checkpoint records it, so
// evaluating on other data than the network was trained with can be noticed.
func (s *Set) Fingerprint() string {
	h := sha256.New()
	var hdr [40]byte
	for i, v := range []int{s.N, s.Shape.C, s.Shape.H, s.Shape.W, s.Classes} {
		binary.LittleEndian.PutUint64(hdr[8*i:], uint64(v))
	}
	h.Write(hdr[:])
	h.Write(s.Pixels)
	h.Write(s.Labels)
	return hex.EncodeToString(h.Sum(nil))[:16]
}
