package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Errorf("error %v, want one containing %q", err, substr)
	}
}

func cifarBytes(n int, label func(i int) byte) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, label(i))
		for p := 0; p < 3072; p++ {
			b = append(b, byte(i+p))
		}
	}
	return b
}

func TestCIFAR(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 5; i++ {
		os.WriteFile(filepath.Join(dir, "data_batch_"+string(rune('0'+i))+".bin"), cifarBytes(3, func(i int) byte { return byte(i) }), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), cifarBytes(2, func(i int) byte { return 9 }), 0o644)
	src, err := Open(dir) // detected as cifar10
	if err != nil {
		t.Fatal(err)
	}
	if src.Train.N != 15 || src.Test.N != 2 || src.Train.Labels[4] != 1 || src.Train.Pixels[3072+5] != 6 {
		t.Fatalf("decoded wrongly: %d %d", src.Train.N, src.Test.N)
	}
	_, err = ParseCIFAR("b.bin", cifarBytes(2, func(int) byte { return 0 })[:5000])
	wantErr(t, err, "b.bin: 5000 bytes is not a whole number")
	_, err = ParseCIFAR("b.bin", cifarBytes(2, func(int) byte { return 12 }))
	wantErr(t, err, "label 12")
}

func idxImages(magic uint32, n, h, w int) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint32(b, uint32(h))
	b = binary.BigEndian.AppendUint32(b, uint32(w))
	for i := 0; i < n*h*w; i++ {
		b = append(b, byte(i))
	}
	return b
}

func idxLabels(n int, l byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x801)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for i := 0; i < n; i++ {
		b = append(b, l)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestIDX(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte.gz"), gz(idxImages(0x803, 4, 5, 6)), 0o644)
	os.WriteFile(filepath.Join(dir, "train-labels-idx1-ubyte.gz"), gz(idxLabels(4, 3)), 0o644)
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), idxImages(0x803, 2, 5, 6), 0o644) // raw, not gzip
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), idxLabels(2, 1), 0o644)
	src, err := Open("idx:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	if src.Train.N != 4 || src.Train.Shape != (ir.Shape{C: 1, H: 5, W: 6}) || src.Test.Labels[1] != 1 {
		t.Fatalf("decoded wrongly: %+v", src.Train.Shape)
	}
	_, _, _, _, err = ParseIDXImages("x", idxImages(0x804, 1, 2, 2))
	wantErr(t, err, "wrong magic number")
	_, _, _, _, err = ParseIDXImages("x", idxImages(0x803, 3, 2, 2)[:20])
	wantErr(t, err, "but the file has")
	_, err = ParseIDXLabels("y", idxLabels(3, 1)[:9])
	wantErr(t, err, "3 labels")
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), idxLabels(2, 10), 0o644)
	_, err = Open("idx:" + dir)
	wantErr(t, err, "label 10")
}

func pngBytes(w, h int, v uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: v, G: uint8(x), B: uint8(y), A: 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func writeTree(t *testing.T, root string, files map[string][]byte) {
	for name, b := range files {
		p := filepath.Join(root, name)
		if b == nil { // an empty folder
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
	}
}

func tgz(t *testing.T, files map[string][]byte) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, b := range files {
		tw.WriteHeader(&tar.Header{Name: "top/" + name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	p := filepath.Join(t.TempDir(), "imgs.tar.gz")
	os.WriteFile(p, buf.Bytes(), 0o644)
	return p
}

func TestImages(t *testing.T) {
	files := map[string][]byte{
		"train/cat/1.png": pngBytes(4, 3, 10), "train/cat/2.png": pngBytes(4, 3, 20), "train/dog/1.png": pngBytes(4, 3, 30),
		"test/cat/1.png": pngBytes(4, 3, 40), "test/dog/9.png": pngBytes(4, 3, 50),
	}
	root := t.TempDir()
	writeTree(t, root, files)
	for _, spec := range []string{"images:" + root, tgz(t, files)} {
		src, err := Open(spec)
		if err != nil {
			t.Fatal(err)
		}
		if src.Train.N != 3 || src.Train.Shape != (ir.Shape{C: 3, H: 3, W: 4}) || strings.Join(src.Train.ClassNames, ",") != "cat,dog" {
			t.Fatalf("%s: %+v %v", spec, src.Train.Shape, src.Train.ClassNames)
		}
		if src.Train.Labels[2] != 1 || src.Train.Pixels[12*3*2] != 30 || src.Test.Pixels[12*3+12+1] != 1 {
			t.Errorf("%s: labels or pixels wrong: %v", spec, src.Train.Labels)
		}
	}
	bad := map[string]map[string][]byte{
		"mixed sizes":     {"train/a/1.png": pngBytes(4, 3, 1), "train/a/2.png": pngBytes(5, 3, 1), "test/a/1.png": pngBytes(4, 3, 1)},
		"holds no images": {"train/a/1.png": pngBytes(4, 3, 1), "train/b/": nil, "test/a/1.png": pngBytes(4, 3, 1), "test/b/1.png": pngBytes(4, 3, 1)},
		"cannot decode":   {"train/a/1.png": []byte("not a png"), "test/a/1.png": pngBytes(4, 3, 1)},
	}
	for want, fs := range bad {
		root := t.TempDir()
		writeTree(t, root, fs)
		_, err := Open("images:" + root)
		wantErr(t, err, want)
	}
}

// matElement encodes one MATLAB v5 element with padding.
func matElement(typ uint32, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func matMatrix(name string, dims []int32, typ uint32, data []byte) []byte {
	flags := binary.LittleEndian.AppendUint32(nil, 6) // mxDOUBLE_CLASS (class is not checked)
	flags = binary.LittleEndian.AppendUint32(flags, 0)
	var d []byte
	for _, v := range dims {
		d = binary.LittleEndian.AppendUint32(d, uint32(v))
	}
	body := append(matElement(miUINT32, flags), matElement(miINT32, d)...)
	body = append(body, matElement(miINT8, []byte(name))...)
	body = append(body, matElement(typ, data)...)
	return matElement(miMATRIX, body)
}

func svhnMat(n int, label float64, compress bool) []byte {
	hdr := make([]byte, 128)
	copy(hdr, "MATLAB 5.0 MAT-file, eas test")
	hdr[124], hdr[125] = 0, 1
	copy(hdr[126:], "IM")
	x := make([]byte, 32*32*3*n)
	for i := range x {
		x[i] = byte(i % 251)
	}
	var y []byte
	for i := 0; i < n; i++ {
		v := label
		if i == 0 {
			v = 10
		}
		y = binary.LittleEndian.AppendUint64(y, math.Float64bits(v))
	}
	vars := append(matMatrix("X", []int32{32, 32, 3, int32(n)}, miUINT8, x), matMatrix("y", []int32{int32(n), 1}, miDOUBLE, y)...)
	if compress {
		var zb bytes.Buffer
		zw := zlib.NewWriter(&zb)
		zw.Write(vars)
		zw.Close()
		c := binary.LittleEndian.AppendUint32(nil, miCOMPRESSED)
		c = binary.LittleEndian.AppendUint32(c, uint32(zb.Len()))
		vars = append(c, zb.Bytes()...)
	}
	return append(hdr, vars...)
}

func TestSVHN(t *testing.T) {
	for _, compress := range []bool{false, true} {
		s, err := ParseSVHN("t.mat", svhnMat(3, 7, compress))
		if err != nil {
			t.Fatal(err)
		}
		// image 1, channel 2, row 5, column 9 sits at r + 32*(c + 32*(ch + 3*n)) in MATLAB order
		want := byte((5 + 32*(9+32*(2+3*1))) % 251)
		if s.N != 3 || s.Labels[0] != 0 || s.Labels[1] != 7 || s.Pixels[3072+(2*32+5)*32+9] != want {
			t.Errorf("compress=%v: decoded wrongly (labels %v)", compress, s.Labels)
		}
	}
	_, err := ParseSVHN("t.mat", svhnMat(3, 11, false))
	wantErr(t, err, "label 11")
	_, err = ParseSVHN("t.mat", svhnMat(3, 1, false)[:3000])
	wantErr(t, err, "truncated")
	_, err = ParseSVHN("t.mat", make([]byte, 50))
	wantErr(t, err, "truncated MAT")
}

func TestSplitAndNorm(t *testing.T) {
	s := &Set{N: 100, Shape: ir.Shape{C: 2, H: 1, W: 1}, Classes: 10}
	for i := 0; i < 100; i++ {
		s.Pixels = append(s.Pixels, byte(i), 255)
		s.Labels = append(s.Labels, byte(i%10))
	}
	tr, va := s.Split(20, 5)
	tr2, va2 := s.Split(20, 5)
	if tr.N != 80 || va.N != 20 || !bytes.Equal(va.Pixels, va2.Pixels) || !bytes.Equal(tr.Pixels, tr2.Pixels) {
		t.Fatal("split not deterministic")
	}
	seen := map[byte]bool{}
	for _, p := range append(tr.Pixels, va.Pixels...) {
		seen[p] = true
	}
	if len(seen) != 101 {
		t.Errorf("split lost or duplicated images")
	}
	n := ComputeNorm(s)
	if math.Abs(float64(n.Mean[0])-49.5/255) > 1e-6 || n.Mean[1] != 1 || n.Std[1] > 1e-5 {
		t.Errorf("norm %+v", n)
	}
}

func TestLoaderDeterministicAndAugments(t *testing.T) {
	s := &Set{N: 10, Shape: ir.Shape{C: 1, H: 4, W: 4}, Classes: 10}
	for i := 0; i < 10; i++ {
		for p := 0; p < 16; p++ {
			s.Pixels = append(s.Pixels, byte(10*i+p))
		}
		s.Labels = append(s.Labels, byte(i))
	}
	run := func(aug bool) ([]float32, []int32) {
		l := NewLoader(s, LoaderOptions{Batch: 4, Shuffle: true, Augment: aug, Seed: 3, Norm: ScaleNorm(1), Prefetch: 2})
		var xs []float32
		var ys []int32
		if err := l.Epoch(1, func(x *tensor.Tensor, y []int32) error {
			xs = append(xs, x.Data...)
			ys = append(ys, y...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return xs, ys
	}
	x1, y1 := run(false)
	x2, y2 := run(false)
	if len(y1) != 10 || len(x1) != 160 {
		t.Fatalf("epoch gave %d labels", len(y1))
	}
	for i := range x1 {
		if x1[i] != x2[i] {
			t.Fatal("loader not deterministic")
		}
	}
	for k, y := range y1 { // pixels follow their labels
		if y != y2[k] || x1[k*16] != float32(10*y)/255 {
			t.Fatalf("image %d does not match label %d", k, y)
		}
	}
	xa, _ := run(true)
	xb, _ := run(true)
	diff := 0
	for i := range xa {
		if xa[i] != xb[i] {
			t.Fatal("augmentation not deterministic")
		}
		if xa[i] != x1[i] {
			diff++
		}
	}
	if diff == 0 {
		t.Error("augmentation changed nothing")
	}
}

func FuzzIDX(f *testing.F) {
	f.Add(idxImages(0x803, 1, 2, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseIDXImages("f", b)
		ParseIDXLabels("f", b)
		ParseCIFAR("f", b)
		ParseSVHN("f", b)
	})
}

func FuzzMAT(f *testing.F) {
	f.Add(svhnMat(1, 3, false))
	f.Add(svhnMat(1, 3, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseSVHN("f", b)
	})
}

func TestSampleIsNotThePrefix(t *testing.T) {
	s := &Set{N: 100, Shape: ir.Shape{C: 1, H: 1, W: 1}, Classes: 10}
	for i := 0; i < 100; i++ {
		s.Pixels = append(s.Pixels, byte(i))
		s.Labels = append(s.Labels, byte(i/10)) // sorted by class, as folders are
	}
	sub := s.Sample(30, 1)
	classes := map[byte]bool{}
	for _, l := range sub.Labels {
		classes[l] = true
	}
	if sub.N != 30 || len(classes) < 7 {
		t.Errorf("sample of 30 covers %d classes", len(classes))
	}
	if again := s.Sample(30, 1); !bytes.Equal(again.Pixels, sub.Pixels) {
		t.Error("sample not deterministic")
	}
}

// TestUnknownKindListsKinds: "bogus:PATH" names the kinds instead of
// reporting a missing file called "bogus:PATH".
func TestUnknownKindListsKinds(t *testing.T) {
	_, err := Open("bogus:" + t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `unknown kind "bogus"`) || !strings.Contains(err.Error(), "cifar10, images, idx, svhn") {
		t.Fatalf("got %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "a:b")); err == nil || strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("a path with a colon: %v", err)
	}
}

func TestClassesProbe(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []string{"a", "b", "c"} {
		os.MkdirAll(filepath.Join(dir, "train", c), 0o755)
	}
	if n, err := Classes("images", dir); n != 3 || err != nil {
		t.Errorf("folder: %d %v", n, err)
	}
	if n, err := Classes("cifar10", dir); n != 10 || err != nil {
		t.Errorf("cifar10: %d %v", n, err)
	}
	if _, err := Classes("images", filepath.Join(dir, "none")); err == nil {
		t.Error("missing folder accepted")
	}
}
