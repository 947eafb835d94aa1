package dist

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/train"
)

// lease keeps a delivery's job with progress acknowledgements every
// quarter of the ack wait. When this process was silent longer than the
// ack wait (paused, its machine asleep, the server unreachable), the
// server has redelivered the job: the lease is lost and ctx is cancelled,
// so the training stops rather than race the other delivery.
type lease struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	gone   bool
	done   chan struct{}
	once   sync.Once
}

func keepLease(parent context.Context, msg jetstream.Msg, ackWait time.Duration) *lease {
	l := &lease{done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(parent)
	every := max(ackWait/4, 50*time.Millisecond)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-l.done:
				return
			case <-l.ctx.Done():
				return
			case now := <-t.C:
				if now.Sub(last) > ackWait*3/4 {
					l.mu.Lock()
					l.gone = true
					l.mu.Unlock()
					l.cancel()
					return
				}
				if msg.InProgress() == nil {
					last = now
				}
			}
		}
	}()
	return l
}

// lost reports whether the lease lapsed.
func (l *lease) lost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gone
}

func (l *lease) stop() {
	l.once.Do(func() {
		close(l.done)
		l.cancel()
	})
}

// errTooBig: the network needs more memory than this worker has at all.
var errTooBig = errors.New("too big for this worker")

// reserve books the job's estimated training memory against what this
// worker's other slots hold; the caller releases it.
func (w *Worker) reserve(arch ir.Arch, job JobMsg) (int64, error) {
	g, err := ir.Lower(arch, job.Input)
	if err != nil {
		return 0, err
	}
	m := train.Estimate(g, job.Training.Batch)
	free := int64(0)
	if w.Backend != nil {
		bm := w.Backend.Memory(g, job.Training.Batch)
		m, free = bm.Memory, bm.Free
	}
	need := m.Total()
	w.mu.Lock()
	defer w.mu.Unlock()
	limit, source := w.MemoryLimit, "the worker's memory limit"
	switch {
	case limit > 0:
	case free > 0: // a device: what its other slots hold is no longer free
		limit, source = free+w.inUse, "device memory"
	default:
		l, src, ok, err := train.MemoryLimit()
		if err != nil || !ok {
			return 0, nil // unknown: train.Train's own check decides
		}
		limit, source = l, src
	}
	if need > limit {
		return 0, fmt.Errorf("%w: training needs about %s, %s is %s", errTooBig, ir.Bytes(need), source, ir.Bytes(limit))
	}
	if w.inUse+need > limit {
		return 0, fmt.Errorf("training needs about %s; the other slots hold %s of %s (%s)", ir.Bytes(need), ir.Bytes(w.inUse), ir.Bytes(limit), source)
	}
	w.inUse += need
	return need, nil
}

func (w *Worker) release(n int64) {
	w.mu.Lock()
	w.inUse -= n
	w.mu.Unlock()
}

// CheckSource is the driver's check sample: the first n images of the set
// a job is scored on (validation, or test for final trainings), in order.
func CheckSource(ds *Dataset, full bool, n int) data.Batches {
	s := ds.ValSet
	if full || s == nil {
		s = ds.TestSet
	}
	n = min(n, s.N)
	sz := s.Shape.Size()
	sub := &data.Set{N: n, Shape: s.Shape, Classes: s.Classes, ClassNames: s.ClassNames, Pixels: s.Pixels[:n*sz], Labels: s.Labels[:n]}
	return data.NewLoader(sub, data.LoaderOptions{Batch: 256, Norm: ds.Norm})
}
