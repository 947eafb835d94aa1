package nn

import (
	"math"
	"math/rand"
	"runtime"
	"time"
)

// PeakGFLOPS measures this machine's sgemm rate on n x n x n products with
// BLAS using all CPUs (OpenBLAS's own threads): the rate of the fastest of
// `reps` repetitions after a warm-up, in GFLOP/s. It restores the engine's
// BLAS thread count.
func PeakGFLOPS(n, reps int) float64 {
	loadBLAS()
	r := rand.New(rand.NewSource(1))
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	prev := blasThreads
	SetBLASThreads(runtime.NumCPU()) // gonum parallelises internally regardless
	defer SetBLASThreads(prev)
	Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
	// The fastest repetition: on a shared machine the mean mixes in other
	// tenants' bursts, and a peak that is too low flatters every ratio.
	sec := math.Inf(1)
	for i := 0; i < reps; i++ {
		start := time.Now()
		Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		sec = min(sec, time.Since(start).Seconds())
	}
	return 2 * float64(n) * float64(n) * float64(n) / sec / 1e9
}
