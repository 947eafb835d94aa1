package dist

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/ir"
)

// Dataset is a split data set as a search uses it (it implements
// search.Data).
type Dataset = data.Split

const bundleMagic = "EASDATA1"

type bundleSet struct {
	Role       string   `json:"role"`
	N          int      `json:"n"`
	Shape      ir.Shape `json:"shape"`
	Classes    int      `json:"classes"`
	ClassNames []string `json:"class_names,omitempty"`
}

type bundleHeader struct {
	Sets    []bundleSet `json:"sets"`
	Mean    []float32   `json:"mean"`
	Std     []float32   `json:"std"`
	Augment bool        `json:"augment"`
}

// EncodeDataset serialises d: magic, header length, JSON header, then each
// set's pixels and labels. The same split gives the same bytes, so their
// SHA-256 is the data fingerprint.
func EncodeDataset(d *Dataset) ([]byte, error) {
	h := bundleHeader{Mean: d.Norm.Mean, Std: d.Norm.Std, Augment: d.Augment}
	size := 0
	for _, s := range []struct {
		role string
		set  *data.Set
	}{{"train", d.TrainSet}, {"val", d.ValSet}, {"test", d.TestSet}} {
		if s.set == nil {
			continue
		}
		if len(s.set.Pixels) != s.set.N*s.set.Shape.Size() || len(s.set.Labels) != s.set.N {
			return nil, fmt.Errorf("dataset bundle: %s set of %d images has %d pixel bytes and %d labels", s.role, s.set.N, len(s.set.Pixels), len(s.set.Labels))
		}
		h.Sets = append(h.Sets, bundleSet{Role: s.role, N: s.set.N, Shape: s.set.Shape, Classes: s.set.Classes, ClassNames: s.set.ClassNames})
		size += len(s.set.Pixels) + len(s.set.Labels)
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(bundleMagic) + 4 + len(hb) + size)
	buf.WriteString(bundleMagic)
	binary.Write(&buf, binary.LittleEndian, uint32(len(hb)))
	buf.Write(hb)
	for _, s := range []*data.Set{d.TrainSet, d.ValSet, d.TestSet} {
		if s != nil {
			buf.Write(s.Pixels)
			buf.Write(s.Labels)
		}
	}
	return buf.Bytes(), nil
}

// DecodeDataset parses a bundle, checking every size against the bytes
// present before allocating.
func DecodeDataset(b []byte) (*Dataset, error) {
	if len(b) < len(bundleMagic)+4 || string(b[:len(bundleMagic)]) != bundleMagic {
		return nil, fmt.Errorf("dataset bundle: not an eas data bundle (bad magic)")
	}
	b = b[len(bundleMagic):]
	hl := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(hl) > uint64(len(b)) {
		return nil, fmt.Errorf("dataset bundle: header length %d exceeds the %d bytes left", hl, len(b))
	}
	var h bundleHeader
	if err := json.Unmarshal(b[:hl], &h); err != nil {
		return nil, fmt.Errorf("dataset bundle: header: %v", err)
	}
	b = b[hl:]
	d := &Dataset{Norm: data.Norm{Mean: h.Mean, Std: h.Std}, Augment: h.Augment}
	for _, s := range h.Sets {
		c := s.Shape
		if s.N < 0 || c.C < 1 || c.H < 1 || c.W < 1 || c.C > 64 || c.H > 8192 || c.W > 8192 || s.Classes < 1 || s.Classes > 256 {
			return nil, fmt.Errorf("dataset bundle: %s set: %d images of %v, %d classes: out of range", s.Role, s.N, c, s.Classes)
		}
		if len(d.Norm.Mean) != c.C || len(d.Norm.Std) != c.C {
			return nil, fmt.Errorf("dataset bundle: normalisation has %d/%d channels, images %d", len(d.Norm.Mean), len(d.Norm.Std), c.C)
		}
		need := uint64(s.N) * uint64(c.Size()+1)
		if need > uint64(len(b)) {
			return nil, fmt.Errorf("dataset bundle: %s set needs %d bytes, %d left: truncated", s.Role, need, len(b))
		}
		px := s.N * c.Size()
		set := &data.Set{N: s.N, Shape: c, Classes: s.Classes, ClassNames: s.ClassNames, Pixels: b[:px:px], Labels: b[px : px+s.N : px+s.N]}
		for i, l := range set.Labels {
			if int(l) >= s.Classes {
				return nil, fmt.Errorf("dataset bundle: %s image %d has label %d of %d classes", s.Role, i, l, s.Classes)
			}
		}
		b = b[px+s.N:]
		switch s.Role {
		case "train":
			d.TrainSet = set
		case "val":
			d.ValSet = set
		case "test":
			d.TestSet = set
		default:
			return nil, fmt.Errorf("dataset bundle: unknown set %q", s.Role)
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("dataset bundle: %d trailing bytes", len(b))
	}
	if d.TrainSet == nil || d.TestSet == nil {
		return nil, fmt.Errorf("dataset bundle: no training or no test set")
	}
	return d, nil
}

// SplitDataset divides src as the driver does (data.NewSplit), so a
// worker's local copy has the driver's fingerprint when its files are equal.
func SplitDataset(src *data.Source, o SplitSpec) (*Dataset, error) {
	return data.NewSplit(src, o.Options())
}

// Options converts the wire form to data.SplitOptions.
func (o SplitSpec) Options() data.SplitOptions {
	return data.SplitOptions{Validation: o.Validation, Seed: o.Seed, Limit: o.Limit, Normalize: o.Normalize, Augment: o.Augment}
}

// SpecOf is the wire form of o.
func SpecOf(o data.SplitOptions) SplitSpec {
	return SplitSpec{Validation: o.Validation, Seed: o.Seed, Limit: o.Limit, Normalize: o.Normalize, Augment: o.Augment}
}
