package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/eas-go/eas/core/ir"
)

// readMaybeGzip reads path, or path.gz when path does not exist, and
// gunzips when the content is gzip.
func readMaybeGzip(path string) ([]byte, string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		path += ".gz"
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, path, err
	}
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, path, fmt.Errorf("%s: bad gzip data: %v", path, err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			return nil, path, fmt.Errorf("%s: truncated or corrupt gzip data: %v", path, err)
		}
		return out, path, nil
	}
	return b, path, nil
}

// ParseIDXImages decodes an IDX3 image file (magic 0x00000803).
func ParseIDXImages(name string, b []byte) (n, h, w int, pixels []uint8, err error) {
	if len(b) < 16 {
		return 0, 0, 0, nil, fmt.Errorf("%s: truncated IDX image file (%d bytes)", name, len(b))
	}
	if m := binary.BigEndian.Uint32(b); m != 0x803 {
		return 0, 0, 0, nil, fmt.Errorf("%s: wrong magic number 0x%08x for IDX images (want 0x00000803)", name, m)
	}
	n, h, w = int(binary.BigEndian.Uint32(b[4:])), int(binary.BigEndian.Uint32(b[8:])), int(binary.BigEndian.Uint32(b[12:]))
	if n <= 0 || h <= 0 || w <= 0 || h > 4096 || w > 4096 {
		return 0, 0, 0, nil, fmt.Errorf("%s: implausible IDX dimensions %d x %d x %d", name, n, h, w)
	}
	if want := 16 + n*h*w; len(b) != want {
		return 0, 0, 0, nil, fmt.Errorf("%s: IDX header says %d images of %dx%d (%d bytes) but the file has %d bytes", name, n, h, w, want, len(b))
	}
	return n, h, w, b[16:], nil
}

// ParseIDXLabels decodes an IDX1 label file (magic 0x00000801).
func ParseIDXLabels(name string, b []byte) ([]uint8, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: truncated IDX label file (%d bytes)", name, len(b))
	}
	if m := binary.BigEndian.Uint32(b); m != 0x801 {
		return nil, fmt.Errorf("%s: wrong magic number 0x%08x for IDX labels (want 0x00000801)", name, m)
	}
	n := int(binary.BigEndian.Uint32(b[4:]))
	if len(b) != 8+n {
		return nil, fmt.Errorf("%s: IDX header says %d labels but the file has %d", name, n, len(b)-8)
	}
	return b[8:], nil
}

func loadIDXPair(dir, images, labels string) (*Set, error) {
	ib, ipath, err := readMaybeGzip(filepath.Join(dir, images))
	if err != nil {
		return nil, err
	}
	n, h, w, px, err := ParseIDXImages(ipath, ib)
	if err != nil {
		return nil, err
	}
	lb, lpath, err := readMaybeGzip(filepath.Join(dir, labels))
	if err != nil {
		return nil, err
	}
	ls, err := ParseIDXLabels(lpath, lb)
	if err != nil {
		return nil, err
	}
	if len(ls) != n {
		return nil, fmt.Errorf("%s has %d images but %s has %d labels", ipath, n, lpath, len(ls))
	}
	s := &Set{N: n, Shape: ir.Shape{C: 1, H: h, W: w}, Classes: 10, Pixels: px, Labels: ls}
	return s, s.check(lpath)
}

// LoadIDX reads MNIST-style files from dir: train-images-idx3-ubyte[.gz],
// train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz].
func LoadIDX(dir string) (*Source, error) {
	tr, err := loadIDXPair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	te, err := loadIDXPair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	return &Source{Name: "idx:" + dir, Train: tr, Test: te}, nil
}
