package datatest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// Quadrants is an MNIST-style data set of 8x8 grey images in four classes:
// the class of image i is i%4, and that quadrant of the image is bright.
type Quadrants struct {
	Train, Test int // images in each split
	// Pixel gives pixel (y, x) of image i; bright says whether it lies in
	// the image's class quadrant.
	Pixel func(i, y, x int, bright bool) byte
	// Label gives image i's label from its quadrant class c; nil keeps c.
	Label func(i, c int) byte
}

// WriteIDX writes q into dir as the four files of the idx reader
// (train-images-idx3-ubyte, ...), creating dir.
func WriteIDX(t testing.TB, dir string, q Quadrants) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		prefix string
		n      int
	}{{"train", q.Train}, {"t10k", q.Test}} {
		im, lb := q.images(s.n)
		for name, b := range map[string][]byte{"images-idx3-ubyte": im, "labels-idx1-ubyte": lb} {
			if err := os.WriteFile(filepath.Join(dir, s.prefix+"-"+name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (q Quadrants) images(n int) (im, lb []byte) {
	im = binary.BigEndian.AppendUint32([]byte{0, 0, 8, 3}, uint32(n))
	im = append(im, 0, 0, 0, 8, 0, 0, 0, 8)
	lb = binary.BigEndian.AppendUint32([]byte{0, 0, 8, 1}, uint32(n))
	for i := 0; i < n; i++ {
		c := i % 4
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				im = append(im, q.Pixel(i, y, x, (y/4)*2+x/4 == c))
			}
		}
		l := byte(c)
		if q.Label != nil {
			l = q.Label(i, c)
		}
		lb = append(lb, l)
	}
	return im, lb
}
