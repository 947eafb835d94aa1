package train

import (
	"math/rand"

	"github.com/eas-go/eas/core/tensor"
)

// MemSource is an in-memory Source of already-normalised images, shuffled
// per epoch with a seed. It is for tests and small synthetic problems; real
// data sets come from core/data.
type MemSource struct {
	X       []float32 // N*C*H*W
	Y       []int32
	C, H, W int
	Batch   int
	Shuffle bool
	Seed    int64
	buf     []float32
	ybuf    []int32
	// view is the batch handed to fn, reused so a batch allocates nothing.
	view  tensor.Tensor
	shape [4]int
}

// Len is the number of examples.
func (m *MemSource) Len() int { return len(m.Y) }

// Epoch yields batches in a per-epoch seeded order. The batch tensor and
// labels are reused: they are valid until fn returns.
func (m *MemSource) Epoch(e int, fn func(x *tensor.Tensor, y []int32) error) error {
	n := len(m.Y)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if m.Shuffle {
		r := rand.New(rand.NewSource(m.Seed*1000003 + int64(e)))
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	sz := m.C * m.H * m.W
	if len(m.buf) < m.Batch*sz {
		m.buf, m.ybuf = make([]float32, m.Batch*sz), make([]int32, m.Batch)
	}
	for lo := 0; lo < n; lo += m.Batch {
		hi := min(n, lo+m.Batch)
		for k, idx := range order[lo:hi] {
			copy(m.buf[k*sz:(k+1)*sz], m.X[idx*sz:(idx+1)*sz])
			m.ybuf[k] = m.Y[idx]
		}
		b := hi - lo
		m.shape = [4]int{b, m.C, m.H, m.W}
		m.view = tensor.Tensor{Shape: m.shape[:], Data: m.buf[:b*sz]}
		if err := fn(&m.view, m.ybuf[:b]); err != nil {
			return err
		}
	}
	return nil
}
