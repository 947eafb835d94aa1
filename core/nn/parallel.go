package nn

import (
	"runtime"
	"sync"
)

// A job is one range of a parallelFor call, run by a pooled goroutine.
type job struct {
	f         func(w, lo, hi int)
	w, lo, hi int
	done      *sync.WaitGroup
}

// Pooled goroutines receive jobs from an unbuffered channel, so a send
// succeeds only when one is idle; otherwise a new one is started (up to
// maxPooled) or the range runs on the caller. Reusing goroutines instead of
// starting workers-1 per call keeps a training step (two or three calls per
// layer) nearly allocation-free, and running on the caller when the pool is
// exhausted means nested or concurrent calls (several networks trained at
// once) can never wait on each other.
var (
	jobs      = make(chan job)
	poolMu    sync.Mutex
	pooled    int
	maxPooled = 4*runtime.NumCPU() + 16
	waitPool  = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

func worker(j job) {
	for {
		j.f(j.w, j.lo, j.hi)
		j.done.Done()
		j = <-jobs
	}
}

// dispatch hands j to an idle pooled goroutine, a new one, or runs it here.
func dispatch(j job) {
	select {
	case jobs <- j:
		return
	default:
	}
	poolMu.Lock()
	spawn := pooled < maxPooled
	if spawn {
		pooled++
	}
	poolMu.Unlock()
	if spawn {
		go worker(j)
		return
	}
	j.f(j.w, j.lo, j.hi)
	j.done.Done()
}

// parallelFor runs f(w, lo, hi) over [0, count) split into at most the
// net's worker count of contiguous ranges (see parallelRange).
func (n *Net) parallelFor(count int, f func(w, lo, hi int)) { parallelRange(n.workers, count, f) }

// parallelRange runs f(w, lo, hi) over [0, n) split into at most workers
// contiguous ranges; range w always gets the same indices for a given n and
// workers, so per-worker partial sums are deterministic whichever goroutine
// runs them.
func parallelRange(workers, n int, f func(w, lo, hi int)) {
	nw := min(workers, n)
	if nw <= 1 {
		if n > 0 {
			f(0, 0, n)
		}
		return
	}
	wg := waitPool.Get().(*sync.WaitGroup)
	wg.Add(nw - 1)
	for w := 1; w < nw; w++ {
		dispatch(job{f: f, w: w, lo: w * n / nw, hi: (w + 1) * n / nw, done: wg})
	}
	f(0, 0, n/nw)
	wg.Wait()
	waitPool.Put(wg)
}
