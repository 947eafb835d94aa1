package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
)

// Format is the value of the "format" metadata entry written by Save.
// eas-2: "sha256" covers the whole header (metadata and tensor entries) and
// the data; eas-1 (older files, still read): it covers only the data.
const Format = "eas-2"

// formatV1 is the previous format, read for compatibility.
const formatV1 = "eas-1"

// maxHeader bounds the JSON header (100 MB), so a corrupt length cannot make
// us allocate absurd amounts.
const maxHeader = 100 << 20

// MaxEpoch bounds the "epoch" entry: far beyond any schedule eas runs (the
// paper's longest is 300), small enough that a corrupt value is caught.
const MaxEpoch = 100000

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

// reserved metadata keys are written by Save itself.
var reserved = []string{"format", "arch", "input", "sha256"}

// MetaChecks validates known metadata entries, on Save and on Load; the
// error says what is wrong with the value (the caller adds the key). Other
// keys are the caller's and are only checked for size. Packages adding a
// key with a meaning (normalisation, training state) add its check here.
var MetaChecks = map[string]func(v string) error{
	"format": func(v string) error {
		if v != Format && v != formatV1 {
			return fmt.Errorf("format %q is not one this easrun reads (%s, %s): written by a newer version?", v, Format, formatV1)
		}
		return nil
	},
	"arch": func(v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("is empty")
		}
		return nil
	},
	"input": func(v string) error { _, err := ir.ParseShape(v); return err },
	"sha256": func(v string) error {
		if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%q is not a SHA-256 in hex", v)
		}
		return nil
	},
	"epoch":    intIn(0, MaxEpoch),
	"seed":     intIn(math.MinInt64, math.MaxInt64),
	"val_acc":  floatIn(0, 1),
	"test_acc": floatIn(0, 1),
	"lr":       floatIn(0, 100),
}

func intIn(lo, hi int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
		}
		return nil
	}
}

func floatIn(lo, hi float64) func(string) error {
	return func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || f < lo || f > hi {
			return fmt.Errorf("%s is outside [%g, %g]", v, lo, hi)
		}
		return nil
	}
}

// maxMetaValue bounds one metadata value (an architecture string of
// thousands of layers fits easily).
const maxMetaValue = 1 << 20

func checkMeta(meta map[string]string) error {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := meta[k]
		if len(v) > maxMetaValue {
			return fmt.Errorf("metadata %q: value of %d bytes (limit %d)", k, len(v), maxMetaValue)
		}
		if check, ok := MetaChecks[k]; ok {
			if err := check(v); err != nil {
				return fmt.Errorf("metadata %q: %v", k, err)
			}
		}
	}
	return nil
}

// checkTensor rejects values no trained network holds: NaN or infinities
// anywhere, negative BN running variances.
func checkTensor(name string, t *tensor.Tensor) error {
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("tensor %s: value %d is %v", name, i, v)
		}
	}
	if strings.HasSuffix(name, "running_var") {
		for i, v := range t.Data {
			if v < 0 {
				return fmt.Errorf("tensor %s: variance %d is negative (%g)", name, i, v)
			}
		}
	}
	return nil
}

// digest is the eas-2 checksum: SHA-256 of the header without the sha256
// entry as canonical JSON (keys sorted at every level, no whitespace, UTF-8
// and <>& unescaped), then of the data. Any language reproduces it; in
// Python: json.dumps(header, sort_keys=True, separators=(',', ':'),
// ensure_ascii=False).encode() + data.
func digest(entries map[string]entry, meta map[string]string, data []byte) (string, error) {
	header := map[string]any{}
	for n, e := range entries {
		header[n] = map[string]any{"dtype": e.Dtype, "shape": e.Shape, "data_offsets": e.Offsets}
	}
	md := map[string]string{}
	for k, v := range meta {
		if k != "sha256" {
			md[k] = v
		}
	}
	header["__metadata__"] = md
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Save writes arch, input and params (plus meta) to path atomically
// (temporary file, fsync, rename). It refuses what Load would reject
// (non-finite values, a negative variance, an invalid metadata entry), so a
// run never writes a checkpoint it cannot read back.
func Save(path string, arch ir.Arch, input ir.Shape, params tensor.Map, meta map[string]string) error {
	buf, err := Encode(arch, input, params, meta)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return store.WriteFileAtomic(path, buf)
}

// Encode returns the checkpoint file's bytes (what Save writes and Parse
// reads), for sending weights over the network.
func Encode(arch ir.Arch, input ir.Shape, params tensor.Map, meta map[string]string) ([]byte, error) {
	names := params.Names()
	entries := map[string]entry{}
	var off int64
	total := 0
	for _, n := range names {
		total += 4 * len(params[n].Data)
	}
	data := make([]byte, 0, total)
	for _, n := range names {
		t := params[n]
		if len(t.Data) != tensor.Numel(t.Shape) {
			return nil, fmt.Errorf("tensor %s has %d values for shape %v", n, len(t.Data), t.Shape)
		}
		if err := checkTensor(n, t); err != nil {
			return nil, err
		}
		size := int64(4 * len(t.Data))
		entries[n] = entry{Dtype: "F32", Shape: append([]int{}, t.Shape...), Offsets: [2]int64{off, off + size}}
		for _, v := range t.Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		off += size
	}
	md := map[string]string{}
	for k, v := range meta {
		if slices.Contains(reserved, k) {
			return nil, fmt.Errorf("metadata %q is written by Save itself", k)
		}
		md[k] = v
	}
	md["format"] = Format
	md["arch"] = arch.String()
	md["input"] = fmt.Sprintf("%dx%dx%d", input.H, input.W, input.C)
	if err := checkMeta(md); err != nil {
		return nil, err
	}
	sum, err := digest(entries, md, data)
	if err != nil {
		return nil, err
	}
	md["sha256"] = sum
	header := map[string]any{"__metadata__": md}
	for n, e := range entries {
		header[n] = e
	}
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
// saying what is wrong and naming the tensor or metadata key. Tensors are
// examined in name order, so the same file always gives the same error.
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
	m, ok := raw["__metadata__"]
	if !ok {
		return nil, fmt.Errorf("no __metadata__: not an eas checkpoint (eas writes format, arch, input and sha256 there)")
	}
	if err := json.Unmarshal(m, &c.Meta); err != nil {
		return nil, fmt.Errorf("__metadata__ must map strings to strings: %v", err)
	}
	delete(raw, "__metadata__")
	for _, k := range reserved {
		if _, ok := c.Meta[k]; !ok {
			return nil, fmt.Errorf("metadata %q is missing: not an eas checkpoint, or a damaged one", k)
		}
	}
	if err := checkMeta(c.Meta); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	entries := map[string]entry{}
	for _, name := range names {
		var e entry
		if err := json.Unmarshal(raw[name], &e); err != nil {
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
		entries[name] = e
	}
	type span struct {
		name   string
		lo, hi int64
	}
	spans := make([]span, 0, len(names))
	for _, name := range names {
		spans = append(spans, span{name, entries[name].Offsets[0], entries[name].Offsets[1]})
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
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
	want := c.Meta["sha256"]
	var got string
	if c.Meta["format"] == formatV1 {
		sum := sha256.Sum256(data)
		got = hex.EncodeToString(sum[:])
	} else {
		var err error
		if got, err = digest(entries, c.Meta, data); err != nil {
			return nil, err
		}
	}
	if got != want {
		what := "header or data"
		if c.Meta["format"] == formatV1 {
			what = "data"
		}
		return nil, fmt.Errorf("checksum mismatch: the %s was modified or corrupted", what)
	}
	for _, name := range names {
		e := entries[name]
		t := tensor.New(e.Shape...)
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[e.Offsets[0]+4*int64(i):]))
		}
		if err := checkTensor(name, t); err != nil {
			return nil, err
		}
		c.Params[name] = t
	}
	c.ArchString = c.Meta["arch"]
	c.Input, _ = ir.ParseShape(c.Meta["input"]) // checked by checkMeta
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
