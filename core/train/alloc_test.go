package train

import (
	"context"
	"runtime"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/internal/racemode"
)

// mallocSource is a MemSource that records the heap allocations made over
// batches [5, 15) of each epoch: ten training steps, or ten evaluation
// batches, after warm-up.
type mallocSource struct {
	*MemSource
	allocs []uint64
}

func (s *mallocSource) Epoch(e int, fn func(x *tensor.Tensor, y []int32) error) error {
	var ms runtime.MemStats
	var start uint64
	i := 0
	return s.MemSource.Epoch(e, func(x *tensor.Tensor, y []int32) error {
		switch i {
		case 3:
			// Collect now: a GC cycle during the measurement would empty
			// runtime caches that are then refilled by allocating.
			runtime.GC()
		case 5:
			runtime.ReadMemStats(&ms)
			start = ms.Mallocs
		case 15:
			runtime.ReadMemStats(&ms)
			s.allocs = append(s.allocs, ms.Mallocs-start)
		}
		i++
		return fn(x, y)
	})
}

// Steady-state training steps (data, forward, loss, backward, SGD, through
// the engine) and evaluation batches, also split into several forward
// passes, allocate nothing for a network without convolutions.
func TestTrainStepsAllocNothing(t *testing.T) {
	if racemode.Enabled {
		t.Skip("the race detector allocates: counts are checked without it")
	}
	// One P, as testing.AllocsPerRun does: with several, the runtime's
	// per-P caches of blocked-goroutine records (sudogs) rebalance for a
	// while and occasionally allocate one.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	g, err := ir.Lower(ir.Arch{Layers: []ir.Layer{{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max},
		{Kind: ir.FC, Units: 16}, {Kind: ir.Dropout, Rate: 0.2}, {Kind: ir.Softmax, Units: 4}}}, ir.Shape{C: 1, H: 8, W: 8})
	if err != nil {
		t.Fatal(err)
	}
	b, err := engine.Open("cpu", engine.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	src := &mallocSource{MemSource: synthetic(20*8, 1)}
	src.Batch = 8
	val := &mallocSource{MemSource: synthetic(20*16, 2)}
	cfg := paper(2)
	cfg.Batch, cfg.Backend = 8, b
	p := nn.InitParams(g, 1)
	if _, err := Train(context.Background(), g, p, src, val, cfg, nil); err != nil {
		t.Fatal(err)
	}
	// The net takes 7 images at a time: each batch of 16 is three passes.
	if _, _, err := Evaluate(context.Background(), g, p, val, 7, b); err != nil {
		t.Fatal(err)
	}
	if len(src.allocs) != 2 || len(val.allocs) != 2 {
		t.Fatalf("measured %d training and %d evaluation epochs, want 2 and 2", len(src.allocs), len(val.allocs))
	}
	for e, n := range src.allocs {
		if n != 0 {
			t.Errorf("epoch %d: %d allocations in 10 training steps, want 0", e+1, n)
		}
	}
	for i, n := range val.allocs {
		if n != 0 {
			t.Errorf("evaluation %d: %d allocations in 10 batches, want 0", i+1, n)
		}
	}
}
