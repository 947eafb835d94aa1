package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
)

// Format is the value of the "format" metadata entry.
const Format = "eas-1"

// maxHeader bounds the JSON header (100 MB), so a corrupt length cannot make
// us allocate absurd amounts.
const maxHeader = 100 << 20

// Checkpoint is a loaded file.
type Checkpoint struct {
	ArchString string
	Input      ir.Shape
	Params     tensor.Map
	Meta       map[string]string
}

type entry struct {
	Dtype   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Save writes arch, input and params (plus meta) to path atomically
// (temporary file, fsync, rename).
func Save(path string, arch ir.Arch, input ir.Shape, params tensor.Map, meta map[string]string) error {
	buf, err := Encode(arch, input, params, meta)
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(path, buf)
}

// Encode returns the checkpoint file's bytes (what Save writes and Parse
// reads), for sending weights over the network.
func Encode(arch ir.Arch, input ir.Shape, params tensor.Map, meta map[string]string) ([]byte, error) {
	names := params.Names()
	header := map[string]any{}
	var off int64
	total := 0
	for _, n := range names {
		total += 4 * len(params[n].Data)
	}
	data := make([]byte, 0, total)
	for _, n := range names {
		t := params[n]
		if len(t.Data) != tensor.Numel(t.Shape) {
			return nil, fmt.Errorf("checkpoint: tensor %s has %d values for shape %v", n, len(t.Data), t.Shape)
		}
		size := int64(4 * len(t.Data))
		header[n] = entry{Dtype: "F32", Shape: append([]int{}, t.Shape...), Offsets: [2]int64{off, off + size}}
		for _, v := range t.Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		off += size
	}
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	sum := sha256.Sum256(data)
	md["format"] = Format
	md["arch"] = arch.String()
	md["input"] = fmt.Sprintf("%dx%dx%d", input.H, input.W, input.C)
	md["sha256"] = hex.EncodeToString(sum[:])
	header["__metadata__"] = md
	hb, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	for len(hb)%8 != 0 { // keep the data 8-byte aligned, as the reference writer does
		hb = append(hb, ' ')
	}
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	buf = append(buf, hb...)
	buf = append(buf, data...)
	return buf, nil
}

// Load reads and checks a checkpoint file.
func Load(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a checkpoint from memory; every inconsistency is an error
// saying what is wrong.
func Parse(b []byte) (*Checkpoint, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("truncated: %d bytes, not even the 8-byte header length", len(b))
	}
	hl := binary.LittleEndian.Uint64(b[:8])
	if hl > maxHeader || hl > uint64(len(b)-8) {
		return nil, fmt.Errorf("header length %d exceeds the file (%d bytes): truncated or not a safetensors file", hl, len(b))
	}
	hb := b[8 : 8+hl]
	data := b[8+hl:]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	c := &Checkpoint{Params: tensor.Map{}, Meta: map[string]string{}}
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &c.Meta); err != nil {
			return nil, fmt.Errorf("__metadata__ must map strings to strings: %v", err)
		}
		delete(raw, "__metadata__")
	}
	type span struct {
		name   string
		lo, hi int64
	}
	var spans []span
	for name, r := range raw {
		var e entry
		if err := json.Unmarshal(r, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: bad header entry: %v", name, err)
		}
		if e.Dtype != "F32" {
			return nil, fmt.Errorf("tensor %q: dtype %q is not supported (eas stores F32)", name, e.Dtype)
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && n > math.MaxInt32/int64(d)) {
				return nil, fmt.Errorf("tensor %q: invalid shape %v", name, e.Shape)
			}
			n *= int64(d)
		}
		lo, hi := e.Offsets[0], e.Offsets[1]
		if lo < 0 || hi < lo || hi > int64(len(data)) {
			return nil, fmt.Errorf("tensor %q: byte range [%d,%d) is outside the data section (%d bytes): truncated file?", name, lo, hi, len(data))
		}
		if hi-lo != 4*n {
			return nil, fmt.Errorf("tensor %q: shape %v needs %d bytes, the header gives %d", name, e.Shape, 4*n, hi-lo)
		}
		t := tensor.New(e.Shape...)
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[lo+4*int64(i):]))
		}
		c.Params[name] = t
		spans = append(spans, span{name, lo, hi})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	var at int64
	for _, s := range spans {
		if s.lo != at {
			return nil, fmt.Errorf("tensor %q: data starts at byte %d, expected %d (overlapping or gapped tensors)", s.name, s.lo, at)
		}
		at = s.hi
	}
	if at != int64(len(data)) {
		return nil, fmt.Errorf("data section has %d bytes, the tensors cover %d: trailing garbage or truncation", len(data), at)
	}
	if want, ok := c.Meta["sha256"]; ok {
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != want {
			return nil, fmt.Errorf("data checksum mismatch: the file was modified or corrupted")
		}
	}
	c.ArchString = c.Meta["arch"]
	if in, ok := c.Meta["input"]; ok {
		s, err := ir.ParseShape(in)
		if err != nil {
			return nil, fmt.Errorf("metadata input: %v", err)
		}
		c.Input = s
	}
	return c, nil
}

// Verify checks that every parameter of g is present with the right shape
// and finite values, naming the first problem.
func (c *Checkpoint) Verify(g *ir.Graph) error {
	for _, p := range g.Params() {
		t, ok := c.Params[p.Name]
		if !ok {
			return fmt.Errorf("checkpoint lacks tensor %s (%v) needed by %s", p.Name, p.Shape, g.Arch)
		}
		if !t.SameShape(p.Shape) {
			return fmt.Errorf("tensor %s has shape %v, the architecture needs %v", p.Name, t.Shape, p.Shape)
		}
		if t.HasNonFinite() {
			return fmt.Errorf("tensor %s holds NaN or infinite values", p.Name)
		}
	}
	return nil
}

// Weights returns only the tensors that are network parameters (not
// optimiser state).
func (c *Checkpoint) Weights() tensor.Map {
	m := tensor.Map{}
	for k, v := range c.Params {
		if !strings.HasPrefix(k, "momentum.") {
			m[k] = v
		}
	}
	return m
}
