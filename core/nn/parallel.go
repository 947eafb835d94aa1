package nn

import (
	"runtime"
	"sync"
)

// Workers is the number of goroutines layers split their work over.
var Workers = runtime.NumCPU()

// parallelFor runs f(w, lo, hi) over [0, n) split into at most Workers
// contiguous ranges; range w always gets the same indices for a given n and
// Workers, so per-worker partial sums are deterministic.
func parallelFor(n int, f func(w, lo, hi int)) {
	nw := Workers
	if nw > n {
		nw = n
	}
	if nw <= 1 {
		if n > 0 {
			f(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(nw - 1)
	for w := 1; w < nw; w++ {
		lo, hi := w*n/nw, (w+1)*n/nw
		go func(w, lo, hi int) {
			defer wg.Done()
			f(w, lo, hi)
		}(w, lo, hi)
	}
	f(0, 0, n/nw)
	wg.Wait()
}
