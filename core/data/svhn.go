package data

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/eas-go/eas/core/ir"
)

// MATLAB v5 data types used by SVHN's files.
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miMATRIX     = 14
	miCOMPRESSED = 15
)

// matArray is one numeric variable of a .mat file.
type matArray struct {
	dims []int
	data []float64 // column-major
	u8   []uint8   // when stored as uint8 (kept to avoid a copy for images)
}

// ParseMAT reads the numeric matrices of a MATLAB v5 file, by name.
func ParseMAT(name string, b []byte) (map[string]*matArray, error) {
	if len(b) < 128 {
		return nil, fmt.Errorf("%s: truncated MAT file (%d bytes; the header alone is 128)", name, len(b))
	}
	if string(b[126:128]) != "IM" {
		return nil, fmt.Errorf("%s: not a little-endian MATLAB v5 file (endian mark %q; v7.3/HDF5 files are not supported)", name, b[126:128])
	}
	out := map[string]*matArray{}
	if err := parseElements(name, b[128:], out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func parseElements(name string, b []byte, out map[string]*matArray, depth int) error {
	if depth > 4 {
		return fmt.Errorf("%s: MAT elements nested too deeply", name)
	}
	for len(b) >= 8 {
		typ, _, data, rest, err := element(name, b)
		if err != nil {
			return err
		}
		switch typ {
		case miCOMPRESSED:
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("%s: bad compressed element: %v", name, err)
			}
			inner, err := io.ReadAll(io.LimitReader(zr, 1<<32))
			if err != nil {
				return fmt.Errorf("%s: corrupt or truncated compressed element: %v", name, err)
			}
			if err := parseElements(name, inner, out, depth+1); err != nil {
				return err
			}
		case miMATRIX:
			if err := parseMatrix(name, data, out); err != nil {
				return err
			}
		}
		b = rest
	}
	return nil
}

// element splits off one data element (handling the small-element format and 8-byte padding).
func element(name string, b []byte) (typ, n uint32, data, rest []byte, err error) {
	typ = binary.LittleEndian.Uint32(b)
	if typ>>16 != 0 { // small data element: 2-byte size, 2-byte type, 4 bytes of data
		n = typ >> 16
		typ &= 0xffff
		if n > 4 {
			return 0, 0, nil, nil, fmt.Errorf("%s: malformed small data element", name)
		}
		return typ, n, b[4 : 4+n], b[8:], nil
	}
	n = binary.LittleEndian.Uint32(b[4:])
	if uint64(n) > uint64(len(b)-8) {
		return 0, 0, nil, nil, fmt.Errorf("%s: element of %d bytes runs past the end of the file (truncated?)", name, n)
	}
	end := 8 + int(n)
	next := end
	if typ != miCOMPRESSED {
		next = (end + 7) &^ 7
	}
	if next > len(b) {
		next = len(b)
	}
	return typ, n, b[8:end], b[next:], nil
}

func parseMatrix(name string, b []byte, out map[string]*matArray) error {
	var sub [][]byte
	var types []uint32
	for len(b) >= 8 {
		typ, _, data, rest, err := element(name, b)
		if err != nil {
			return err
		}
		sub, types = append(sub, data), append(types, typ)
		b = rest
	}
	if len(sub) < 4 {
		return nil // not a numeric matrix (cell, struct...): ignore
	}
	var dims []int
	total := 1
	for i := 0; i+4 <= len(sub[1]); i += 4 {
		d := int(int32(binary.LittleEndian.Uint32(sub[1][i:])))
		if d < 0 {
			return fmt.Errorf("%s: negative matrix dimension", name)
		}
		dims = append(dims, d)
		total *= d
	}
	arr := &matArray{dims: dims}
	data, typ := sub[3], types[3]
	size := map[uint32]int{miINT8: 1, miUINT8: 1, miINT16: 2, miUINT16: 2, miINT32: 4, miUINT32: 4, miSINGLE: 4, miDOUBLE: 8}[typ]
	if size == 0 {
		return fmt.Errorf("%s: variable %q has unsupported data type %d", name, sub[2], typ)
	}
	if len(data) != total*size {
		return fmt.Errorf("%s: variable %q has %d bytes for %v elements of %d bytes", name, sub[2], len(data), dims, size)
	}
	if typ == miUINT8 {
		arr.u8 = data
	} else {
		arr.data = make([]float64, total)
		for i := range arr.data {
			p := data[i*size:]
			switch typ {
			case miINT8:
				arr.data[i] = float64(int8(p[0]))
			case miINT16:
				arr.data[i] = float64(int16(binary.LittleEndian.Uint16(p)))
			case miUINT16:
				arr.data[i] = float64(binary.LittleEndian.Uint16(p))
			case miINT32:
				arr.data[i] = float64(int32(binary.LittleEndian.Uint32(p)))
			case miUINT32:
				arr.data[i] = float64(binary.LittleEndian.Uint32(p))
			case miSINGLE:
				arr.data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(p)))
			case miDOUBLE:
				arr.data[i] = math.Float64frombits(binary.LittleEndian.Uint64(p))
			}
		}
	}
	out[string(sub[2])] = arr
	return nil
}

func (a *matArray) at(i int) float64 {
	if a.u8 != nil {
		return float64(a.u8[i])
	}
	return a.data[i]
}

// ParseSVHN decodes an SVHN format-2 file: X uint8 32x32x3xN (MATLAB
// column-major), y Nx1 with label 10 meaning the digit 0.
func ParseSVHN(name string, b []byte) (*Set, error) {
	vars, err := ParseMAT(name, b)
	if err != nil {
		return nil, err
	}
	x, y := vars["X"], vars["y"]
	if x == nil || y == nil {
		return nil, fmt.Errorf("%s: expected variables X and y", name)
	}
	if len(x.dims) != 4 || x.dims[2] != 3 {
		return nil, fmt.Errorf("%s: X has dimensions %v, want H x W x 3 x N", name, x.dims)
	}
	h, w, n := x.dims[0], x.dims[1], x.dims[3]
	if len(y.dims) < 1 || y.dims[0]*max(1, prod(y.dims[1:])) != n {
		return nil, fmt.Errorf("%s: y has dimensions %v for %d images", name, y.dims, n)
	}
	s := &Set{N: n, Shape: ir.Shape{C: 3, H: h, W: w}, Classes: 10, Pixels: make([]uint8, n*3*h*w), Labels: make([]uint8, n)}
	for i := 0; i < n; i++ {
		l := y.at(i)
		if l == 10 {
			l = 0
		}
		if l < 0 || l > 9 || l != math.Trunc(l) {
			return nil, fmt.Errorf("%s: image %d has label %v (want 1..10)", name, i, y.at(i))
		}
		s.Labels[i] = uint8(l)
		dst := s.Pixels[i*3*h*w:]
		for c := 0; c < 3; c++ {
			for r := 0; r < h; r++ {
				for col := 0; col < w; col++ {
					dst[(c*h+r)*w+col] = uint8(x.at(r + h*(col+w*(c+3*i))))
				}
			}
		}
	}
	s.ClassNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	return s, s.check(name)
}

func prod(d []int) int {
	p := 1
	for _, v := range d {
		p *= v
	}
	return p
}

// LoadSVHN reads train_32x32.mat and test_32x32.mat from dir.
func LoadSVHN(dir string) (*Source, error) {
	read := func(f string) (*Set, error) {
		p := filepath.Join(dir, f)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		return ParseSVHN(p, b)
	}
	tr, err := read("train_32x32.mat")
	if err != nil {
		return nil, err
	}
	te, err := read("test_32x32.mat")
	if err != nil {
		return nil, err
	}
	return &Source{Name: "svhn:" + dir, Train: tr, Test: te}, nil
}
