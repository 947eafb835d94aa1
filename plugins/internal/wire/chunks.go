package wire

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/eas-go/eas/core/tensor"
)

// ChunkBytes is the payload size of one chunk message (1 MiB).
const ChunkBytes = 1 << 20

// SendTensors streams m in name order, ChunkBytes of float32 data per chunk.
func SendTensors(m tensor.Map, send func(*TensorChunk) error) error {
	per := ChunkBytes / 4
	for _, name := range m.Names() {
		t := m[name]
		if t == nil {
			return fmt.Errorf("tensor %s is nil", name)
		}
		if tensor.Numel(t.Shape) != len(t.Data) {
			return fmt.Errorf("tensor %s: %d values for shape %v", name, len(t.Data), t.Shape)
		}
		shape := Ints64(t.Shape)
		if len(t.Data) == 0 {
			if err := send(&TensorChunk{Name: name, Shape: shape}); err != nil {
				return err
			}
			continue
		}
		for off := 0; off < len(t.Data); off += per {
			end := min(off+per, len(t.Data))
			buf := make([]byte, 4*(end-off))
			for i, v := range t.Data[off:end] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			c := &TensorChunk{Name: name, Offset: int64(off), Data: buf}
			if off == 0 {
				c.Shape = shape
			}
			if err := send(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// Assembler rebuilds a tensor.Map from chunks, checking that each tensor's
// chunks arrive in order, contiguous and complete.
type Assembler struct {
	m    tensor.Map
	cur  string
	fill int
	// MaxElems bounds the total number of values accepted (0: 1<<31).
	MaxElems int
	total    int
}

// Add takes one chunk.
func (a *Assembler) Add(c *TensorChunk) error {
	if a.m == nil {
		a.m = tensor.Map{}
	}
	name := c.GetName()
	if len(c.GetData())%4 != 0 {
		return fmt.Errorf("tensor %s: chunk of %d bytes is not whole float32 values", name, len(c.GetData()))
	}
	n := len(c.GetData()) / 4
	if name == "" {
		return fmt.Errorf("tensor with an empty name")
	}
	if name != a.cur {
		if err := a.finishCurrent(); err != nil {
			return err
		}
		if c.GetOffset() != 0 {
			return fmt.Errorf("tensor %s: first chunk at offset %d", name, c.GetOffset())
		}
		if _, dup := a.m[name]; dup {
			return fmt.Errorf("tensor %s sent twice", name)
		}
		shape, err := Ints(c.GetShape())
		if err != nil {
			return fmt.Errorf("tensor %s: %v", name, err)
		}
		size := 1
		for _, d := range shape {
			if d < 0 || d > MaxDim || (d > 0 && size > MaxDim/d) {
				return fmt.Errorf("tensor %s: bad shape %v", name, shape)
			}
			size *= d
		}
		limit := a.MaxElems
		if limit <= 0 {
			limit = 1 << 31
		}
		if a.total+size > limit {
			return fmt.Errorf("tensor %s: more than %d values in all", name, limit)
		}
		a.total += size
		a.m[name] = &tensor.Tensor{Shape: shape, Data: make([]float32, size)}
		a.cur, a.fill = name, 0
	} else if name != a.cur || int(c.GetOffset()) != a.fill {
		return fmt.Errorf("tensor %s: chunk at offset %d out of order (expected %s at %d)", name, c.GetOffset(), a.cur, a.fill)
	}
	t := a.m[name]
	if a.fill+n > len(t.Data) {
		return fmt.Errorf("tensor %s: more values than its shape %v holds", name, t.Shape)
	}
	d := c.GetData()
	for i := 0; i < n; i++ {
		t.Data[a.fill+i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
	}
	a.fill += n
	return nil
}

func (a *Assembler) finishCurrent() error {
	if a.cur == "" {
		return nil
	}
	if t := a.m[a.cur]; a.fill != len(t.Data) {
		return fmt.Errorf("tensor %s: %d of %d values received", a.cur, a.fill, len(t.Data))
	}
	return nil
}

// Map returns the assembled tensors after checking the last one is complete.
func (a *Assembler) Map() (tensor.Map, error) {
	if err := a.finishCurrent(); err != nil {
		return nil, err
	}
	if a.m == nil {
		return tensor.Map{}, nil
	}
	return a.m, nil
}

// SendBytes streams b in ChunkBytes pieces (at least one, possibly empty).
func SendBytes(b []byte, send func(*Bytes) error) error {
	for off := 0; ; off += ChunkBytes {
		end := min(off+ChunkBytes, len(b))
		if err := send(&Bytes{Data: b[off:end]}); err != nil {
			return err
		}
		if end == len(b) {
			return nil
		}
	}
}
