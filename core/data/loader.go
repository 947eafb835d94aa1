package data

import (
	"math/rand"

	"github.com/eas-go/eas/core/tensor"
)

// LoaderOptions configure a Loader.
type LoaderOptions struct {
	Batch    int
	Shuffle  bool
	Augment  bool // pad 4 (with black), random crop back to HxW, random horizontal flip
	Norm     Norm
	Seed     int64
	DropLast bool
	Prefetch int // batches prepared ahead (default 3)
}

// Loader turns a Set into normalised float32 batches, prepared by a
// background goroutine into a ring of reused buffers. The order and the
// augmentation of epoch e depend only on (Seed, e), never on timing.
type Loader struct {
	set   *Set
	o     LoaderOptions
	table [][256]float32
	free  chan *batch
}

type batch struct {
	x *tensor.Tensor
	y []int32
	n int
	// view is the x handed to Epoch's fn (the first n images), reused so
	// a batch allocates nothing.
	view  tensor.Tensor
	shape [4]int
}

// NewLoader prepares a loader; Norm must have one entry per channel.
func NewLoader(s *Set, o LoaderOptions) *Loader {
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 3
	}
	if len(o.Norm.Mean) != s.Shape.C {
		o.Norm = ScaleNorm(s.Shape.C)
	}
	l := &Loader{set: s, o: o, table: o.Norm.table(), free: make(chan *batch, o.Prefetch+1)}
	for i := 0; i < o.Prefetch+1; i++ {
		l.free <- &batch{x: tensor.New(o.Batch, s.Shape.C, s.Shape.H, s.Shape.W), y: make([]int32, o.Batch)}
	}
	return l
}

// Len is the number of images per epoch.
func (l *Loader) Len() int {
	if l.o.DropLast {
		return l.set.N / l.o.Batch * l.o.Batch
	}
	return l.set.N
}

// Epoch calls fn with every batch of epoch e while the next ones are
// prepared. The batch's tensor and labels are reused: valid until fn returns.
func (l *Loader) Epoch(e int, fn func(x *tensor.Tensor, y []int32) error) error {
	n := l.set.N
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if l.o.Shuffle {
		rand.New(rand.NewSource(l.o.Seed*7919+int64(e))).Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	nb := (n + l.o.Batch - 1) / l.o.Batch
	if l.o.DropLast {
		nb = n / l.o.Batch
	}
	ready := make(chan *batch, l.o.Prefetch)
	stop := make(chan struct{})
	go func() {
		defer close(ready)
		// One generator re-seeded per batch: the same numbers as a fresh
		// rand.New per batch, without allocating its ~5 KB state each time.
		r := rand.New(rand.NewSource(0))
		for k := 0; k < nb; k++ {
			var b *batch
			select {
			case b = <-l.free:
			case <-stop:
				return
			}
			lo, hi := k*l.o.Batch, min(n, (k+1)*l.o.Batch)
			r.Seed(l.o.Seed*1000003 + int64(e)*10007 + int64(k))
			l.fill(b, order[lo:hi], r)
			select {
			case ready <- b:
			case <-stop:
				l.free <- b
				return
			}
		}
	}()
	var err error
	for b := range ready {
		if err == nil {
			sh := l.set.Shape
			b.shape = [4]int{b.n, sh.C, sh.H, sh.W}
			b.view = tensor.Tensor{Shape: b.shape[:], Data: b.x.Data[:b.n*sh.Size()]}
			err = fn(&b.view, b.y[:b.n])
			if err != nil {
				close(stop)
			}
		}
		l.free <- b
	}
	return err
}

func (l *Loader) fill(b *batch, idx []int, r *rand.Rand) {
	s := l.set
	c, h, w := s.Shape.C, s.Shape.H, s.Shape.W
	sz := c * h * w
	b.n = len(idx)
	for k, i := range idx {
		src := s.Pixels[i*sz : (i+1)*sz]
		dst := b.x.Data[k*sz : (k+1)*sz]
		b.y[k] = int32(s.Labels[i])
		if !l.o.Augment {
			for ch := 0; ch < c; ch++ {
				t := &l.table[ch]
				for j, p := range src[ch*h*w : (ch+1)*h*w] {
					dst[ch*h*w+j] = t[p]
				}
			}
			continue
		}
		dy, dx := r.Intn(9)-4, r.Intn(9)-4 // crop offset in the 4-padded image
		flip := r.Intn(2) == 1
		for ch := 0; ch < c; ch++ {
			t := &l.table[ch]
			pad := t[0]
			plane := src[ch*h*w : (ch+1)*h*w]
			out := dst[ch*h*w : (ch+1)*h*w]
			for y := 0; y < h; y++ {
				sy := y + dy
				row := out[y*w : (y+1)*w]
				if sy < 0 || sy >= h {
					for x := range row {
						row[x] = pad
					}
					continue
				}
				for x := 0; x < w; x++ {
					sx := x + dx
					if flip {
						sx = w - 1 - x + dx
					}
					if sx < 0 || sx >= w {
						row[x] = pad
					} else {
						row[x] = t[plane[sy*w+sx]]
					}
				}
			}
		}
	}
}

// RandomBatch returns n normalised images drawn (without augmentation) with seed.
func RandomBatch(s *Set, n int, norm Norm, seed int64) *tensor.Tensor {
	n = min(n, s.N)
	idx := rand.New(rand.NewSource(seed)).Perm(s.N)[:n]
	l := NewLoader(s, LoaderOptions{Batch: n, Norm: norm, Prefetch: 1})
	b := &batch{x: tensor.New(n, s.Shape.C, s.Shape.H, s.Shape.W), y: make([]int32, n)}
	l.fill(b, idx, nil)
	return b.x
}
