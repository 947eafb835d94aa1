package cli

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/transforms/verify"
)

// writeSyntheticIDX writes a small MNIST-style data set of h x w images whose pixels
// depend on the class, so that a network learns something from it.
func writeSyntheticIDX(t *testing.T, dir string, nTrain, nTest, h, w int) string {
	t.Helper()
	r := rand.New(rand.NewSource(5))
	write := func(images, labels string, n int) {
		img := binary.BigEndian.AppendUint32(nil, 0x803)
		img = binary.BigEndian.AppendUint32(img, uint32(n))
		img = binary.BigEndian.AppendUint32(img, uint32(h))
		img = binary.BigEndian.AppendUint32(img, uint32(w))
		lab := binary.BigEndian.AppendUint32(nil, 0x801)
		lab = binary.BigEndian.AppendUint32(lab, uint32(n))
		for i := 0; i < n; i++ {
			c := r.Intn(10)
			lab = append(lab, byte(c))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					v := 20*c + 60*((x*(c+1)+y)%3) + r.Intn(40)
					img = append(img, byte(min(v, 255)))
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, images), img, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, labels), lab, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train-images-idx3-ubyte", "train-labels-idx1-ubyte", nTrain)
	write("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", nTest)
	return "idx:" + dir
}

// realOrSynthetic is Fashion-MNIST when installed, else a synthetic set of
// the same shape.
func realOrSynthetic(t *testing.T) string {
	const fm = "/usr/share/datasets/fashion-mnist"
	for _, f := range []string{"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"} {
		if _, err := os.Stat(filepath.Join(fm, f)); err == nil {
			return "idx:" + fm
		}
	}
	t.Logf("%s absent: synthetic 28x28 images", fm)
	return writeSyntheticIDX(t, t.TempDir(), 1500, 400, 28, 28)
}

// torchPython finds a python3 that imports torch ($EAS_PYTHON first; Debian's
// python3-torch lives in /usr/bin/python3, which a pyenv shim may hide).
func torchPython(t *testing.T) string {
	var cands []string
	if p := os.Getenv("EAS_PYTHON"); p != "" {
		cands = append(cands, p)
	}
	cands = append(cands, "python3", "/usr/bin/python3")
	for _, p := range cands {
		if exec.Command(p, "-c", "import torch").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with torch (Debian: apt-get install python3-torch)")
	return ""
}

func mustRun(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errs, code := run(t, args...)
	if code != 0 {
		t.Fatalf("easrun %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out, errs
}

// readNPY reads what npyFloat32 writes, checking the header.
func readNPY(t *testing.T, path string) ([]float32, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("%s: not a .npy 1.0 file", path)
	}
	hl := int(binary.LittleEndian.Uint16(b[8:]))
	if (10+hl)%64 != 0 || b[10+hl-1] != '\n' {
		t.Fatalf("%s: header of %d bytes not aligned or not newline-terminated", path, hl)
	}
	header := string(b[10 : 10+hl])
	var v []float32
	for i := 10 + hl; i+4 <= len(b); i += 4 {
		v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
	}
	return v, header
}

// The exported PyTorch module computes easrun eval's logits (to 1e-4) on
// real images, for a plain net, a DenseNet and a transformed child, with
// torch alone.
func TestExportPyTorchMatchesEval(t *testing.T) {
	py := torchPython(t)
	spec := realOrSynthetic(t)
	dir := t.TempDir()
	const n = 300
	// Trained-looking weights (BatchNorm statistics far from 0/1) with the
	// metadata easrun train writes, normalisation computed on the real data.
	o := data.SplitOptions{Validation: 300, Seed: 1, Limit: 600, Normalize: "channel"}
	d, err := data.LoadSplit(spec, o)
	if err != nil {
		t.Fatal(err)
	}
	save := func(name, arch string, seed int64) string {
		a, l := dsl.ParseArch("arch", arch)
		if err := l.Err(); err != nil {
			t.Fatal(err)
		}
		g, err := ir.Lower(a, d.TrainSet.Shape)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".safetensors")
		if err := checkpoint.Save(path, a, d.TrainSet.Shape, verify.RandomParams(g, rand.New(rand.NewSource(seed))), splitMeta(spec, o, d)); err != nil {
			t.Fatal(err)
		}
		return path
	}
	plain := save("plain", "C(8,3,1) P(3,2,AVG) C(12,5,2) FC(24) DO(0.3) SM(10)", 1)
	dense := save("dense", "C(8,3,1) P(2,2,MAX) DB(2x4,4:0) T(0.5) DB(4) GAP SM(10)", 2)
	graph := save("graph", "C(8,3,1) ADD(C(8,3,1) CAT(C(4,3,1) | C(4,1,1)) | ID) P(2,2,MAX) CAT(ADD(C(8,3,1) | ID | ID) | C(4,3,1) DO(0.3)) GAP SM(10)", 3)
	// A child of the plain net with the transforms' default noise; it keeps
	// its parent's normalisation.
	child := filepath.Join(dir, "child.safetensors")
	mustRun(t, "transform", "--weights", plain, "--apply", "wider(layer=1, to=12); deeper(after=3, kernel=3)", "--noise=-1", "--save", child)
	src, err := data.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	set := src.Test.Sample(n, 1) // what eval --limit n evaluates
	images := filepath.Join(dir, "images.u8")
	if err := os.WriteFile(images, set.Pixels, 0o644); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, ck := range []string{plain, dense, child, graph} {
		out := strings.TrimSuffix(ck, ".safetensors") + "-torch"
		mustRun(t, "export", ck, "--format", "pytorch", "--out", out)
		dirs = append(dirs, out)
		o, _ := mustRun(t, "eval", ck, "--data", spec, "--limit", strconv.Itoa(n), "--json", "--logits", filepath.Join(out, "eval.npy"))
		var rep struct {
			N        int
			Accuracy float64
			Loss     float64
			Norm     struct{ Source string } `json:"normalisation"`
		}
		if err := json.Unmarshal([]byte(o), &rep); err != nil {
			t.Fatalf("eval --json: %v\n%s", err, o)
		}
		if rep.N != n || rep.Accuracy < 0 || rep.Accuracy > 1 || !(rep.Loss > 0) || rep.Norm.Source != "checkpoint" {
			t.Errorf("%s: eval report %+v", ck, rep)
		}
	}
	// Each model.py is imported under its own name, as a user would from its folder.
	script := `
import importlib.util, sys, torch
from array import array
images, n, c, h, w = sys.argv[1], int(sys.argv[2]), 1, 28, 28
x = torch.frombuffer(bytearray(open(images, "rb").read()), dtype=torch.uint8).float().div(255).view(n, c, h, w)
for i, d in enumerate(sys.argv[3:]):
    spec = importlib.util.spec_from_file_location("model%d" % i, d + "/model.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    net = m.load()
    assert not net.training
    try:
        net(x[:, :, 1:])
        raise SystemExit("a wrong input shape was accepted")
    except ValueError:
        pass
    with torch.no_grad():
        y = net(x)
    open(d + "/torch.f32", "wb").write(array("f", y.flatten().tolist()).tobytes())  # no numpy needed
`
	cmd := exec.Command(py, append([]string{"-c", script, images, strconv.Itoa(n)}, dirs...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	for _, d := range dirs {
		want, header := readNPY(t, filepath.Join(d, "eval.npy"))
		if !strings.Contains(header, fmt.Sprintf("'shape': (%d, 10,)", n)) || !strings.Contains(header, "'<f4'") {
			t.Errorf("npy header %q", header)
		}
		b, err := os.ReadFile(filepath.Join(d, "torch.f32"))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 4*len(want) {
			t.Fatalf("%s: torch gave %d logits, eval %d", d, len(b)/4, len(want))
		}
		var maxDiff, maxAbs float64
		for i, w := range want {
			g := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			maxDiff = math.Max(maxDiff, math.Abs(float64(g-w)))
			maxAbs = math.Max(maxAbs, math.Abs(float64(w)))
		}
		t.Logf("%s: max |torch - eval| = %.3g over %d logits (largest |logit| %.3g)", filepath.Base(d), maxDiff, len(want), maxAbs)
		if maxDiff > 1e-4 || maxAbs == 0 {
			t.Errorf("%s: logits differ by %.3g (> 1e-4)", d, maxDiff)
		}
	}
}
