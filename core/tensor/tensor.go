package tensor

import (
	"fmt"
	"math"
	"sort"
)

// Tensor is a dense row-major float32 array.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New allocates a zero tensor.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// FromData wraps data (not copied); it panics if the size does not match,
// which is a programmer error.
func FromData(data []float32, shape ...int) *Tensor {
	if Numel(shape) != len(data) {
		panic(fmt.Sprintf("tensor: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Numel is the product of the dimensions.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Clone deep-copies t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// SameShape reports whether t has exactly shape s.
func (t *Tensor) SameShape(s []int) bool {
	if len(t.Shape) != len(s) {
		return false
	}
	for i := range s {
		if t.Shape[i] != s[i] {
			return false
		}
	}
	return true
}

// HasNonFinite reports whether any value is NaN or infinite.
func (t *Tensor) HasNonFinite() bool {
	for _, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return true
		}
	}
	return false
}

// Map is a named set of tensors: a network's parameters and BN statistics,
// keyed by the names ir.Graph.Params gives.
type Map map[string]*Tensor

// Names returns the keys sorted.
func (m Map) Names() []string {
	ns := make([]string, 0, len(m))
	for k := range m {
		ns = append(ns, k)
	}
	sort.Strings(ns)
	return ns
}

// Clone deep-copies every tensor.
func (m Map) Clone() Map {
	c := make(Map, len(m))
	for k, v := range m {
		c[k] = v.Clone()
	}
	return c
}

// MaxRelDiff is max|a-b| / max|a| over two equal-length slices (0 when a is all zero and equal).
func MaxRelDiff(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > num || math.IsNaN(d) {
			num = d
		}
		if m := math.Abs(float64(a[i])); m > den {
			den = m
		}
	}
	if den == 0 {
		return num
	}
	return num / den
}
