package rng

import "math"

// R is a splitmix64 generator.
type R struct{ State uint64 }

// New seeds a generator.
func New(seed int64) *R { return &R{State: uint64(seed)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019} }

// Uint64 returns the next value.
func (r *R) Uint64() uint64 {
	r.State += 0x9e3779b97f4a7c15
	z := r.State
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float64 is uniform in [0, 1).
func (r *R) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Intn is uniform in [0, n).
func (r *R) Intn(n int) int { return int(r.Uint64() % uint64(n)) }

// Norm is a standard normal draw (Box-Muller).
func (r *R) Norm() float64 {
	u := r.Float64()
	for u == 0 {
		u = r.Float64()
	}
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.Float64())
}

// Categorical draws an index with probability p[i] (p sums to 1).
func (r *R) Categorical(p []float64) int {
	u := r.Float64()
	var c float64
	last := 0
	for i, v := range p {
		if v <= 0 {
			continue
		}
		c += v
		last = i
		if u < c {
			return i
		}
	}
	return last
}
