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
// succeeds only when one is idle; otherwise the range runs on the caller.
// The pool is started in full on first use: a pool grown on demand would
// keep starting goroutines (each an allocation) for as long as a worker
// finishing a range occasionally loses the race against the next dispatch.
// Running on the caller when every pooled goroutine is busy means nested or
// concurrent calls (several networks trained at once) never wait on each
// other. With the layers' range functions built once (method values made
// at Build), a training step allocates nothing here.
var (
	jobs      = make(chan job)
	poolOnce  sync.Once
	maxPooled = 4*runtime.NumCPU() + 16
	// waits recycles the WaitGroups of parallelRange calls. A sync.Pool
	// would do, but it drops its contents at every GC and then allocates
	// again; this free list keeps a step allocation-free whatever else the
	// process does.
	waits = make(freeList[sync.WaitGroup], maxPooled)
)

func worker() {
	for j := range jobs {
		j.f(j.w, j.lo, j.hi)
		j.done.Done()
	}
}

func startPool() {
	for range maxPooled {
		go worker()
	}
}

// dispatch hands j to an idle pooled goroutine or runs it here.
func dispatch(j job) {
	select {
	case jobs <- j:
	default:
		j.f(j.w, j.lo, j.hi)
		j.done.Done()
	}
}

// parallelFor runs f(w, lo, hi) over [0, count) split into at most the
// net's worker count of contiguous ranges (see parallelRange). Layers pass
// method values made once at Build: a closure literal capturing locals
// escapes through the job channel and costs an allocation per call.
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
	poolOnce.Do(startPool)
	wg := waits.get()
	wg.Add(nw - 1)
	for w := 1; w < nw; w++ {
		dispatch(job{f: f, w: w, lo: w * n / nw, hi: (w + 1) * n / nw, done: wg})
	}
	f(0, 0, n/nw)
	wg.Wait()
	waits.put(wg)
}

// freeList recycles *T values: get returns a kept one or a new one, put
// keeps v unless the list is full. Unlike sync.Pool it is not emptied by
// the garbage collector, so steady use allocates nothing.
type freeList[T any] chan *T

func (f freeList[T]) get() *T {
	select {
	case v := <-f:
		return v
	default:
		return new(T)
	}
}

func (f freeList[T]) put(v *T) {
	select {
	case f <- v:
	default:
	}
}
