package data

import (
	"runtime"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/internal/racemode"
)

// A loader's steady-state batches (augmented, prepared in the background)
// allocate nothing: the training step they feed allocates nothing either.
func TestLoaderBatchesAllocNothing(t *testing.T) {
	if racemode.Enabled {
		t.Skip("the race detector allocates: counts are checked without it")
	}
	// One P, as testing.AllocsPerRun does: with several, the runtime's
	// per-P caches of blocked-goroutine records rebalance for a while and
	// occasionally allocate one.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := &Set{N: 30 * 4, Shape: ir.Shape{C: 3, H: 8, W: 8}, Classes: 10}
	for i := 0; i < s.N; i++ {
		for p := 0; p < s.Shape.Size(); p++ {
			s.Pixels = append(s.Pixels, byte(7*i+13*p))
		}
		s.Labels = append(s.Labels, byte(i%10))
	}
	l := NewLoader(s, LoaderOptions{Batch: 4, Shuffle: true, Augment: true, Seed: 3, Norm: ScaleNorm(3)})
	var ms runtime.MemStats
	var start, got uint64
	k := 0
	err := l.Epoch(0, func(x *tensor.Tensor, y []int32) error {
		switch k {
		case 3:
			runtime.GC() // no GC cycle during the measurement (it empties runtime caches)
		case 5:
			runtime.ReadMemStats(&ms)
			start = ms.Mallocs
		case 25:
			runtime.ReadMemStats(&ms)
			got = ms.Mallocs - start
		}
		k++
		return nil
	})
	if err != nil || k != 30 {
		t.Fatalf("epoch: %d batches, %v", k, err)
	}
	if got != 0 {
		t.Errorf("%d allocations in 20 batches, want 0", got)
	}
}
