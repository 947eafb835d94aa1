package export

import (
	"bytes"
	"flag"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/transforms/verify"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func model(t *testing.T, arch string, in ir.Shape) Model {
	t.Helper()
	a, l := dsl.ParseArch("arch", arch)
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	g, err := ir.Lower(a, in)
	if err != nil {
		t.Fatal(err)
	}
	m := Model{Arch: a, Input: in, Params: verify.RandomParams(g, rand.New(rand.NewSource(1))), BNEps: ir.BNEps}
	for c := 0; c < in.C; c++ {
		m.Mean = append(m.Mean, 0.25+0.125*float32(c))
		m.Std = append(m.Std, 0.3)
	}
	return m
}

// The Python modules must own exactly the graph's tensors, for every layer
// kind in both families (layers checks this and errs otherwise).
func TestModulesOwnExactlyTheGraphParams(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	in := ir.Shape{C: 3, H: 12, W: 12}
	for _, fam := range []ir.Family{ir.FamilyPlain, ir.FamilyDenseNet} {
		for i := 0; i < 200; i++ {
			a := verify.RandomArch(r, fam, in)
			if _, _, err := emit(Model{Arch: a, Input: in}); err != nil {
				t.Fatalf("%s: %v", a, err)
			}
		}
	}
	for i := 0; i < 200; i++ {
		a := verify.RandomGraph(r, in)
		if _, _, err := emit(Model{Arch: a, Input: in}); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	for _, s := range []string{"C(8,3,2) C(6,5,2) P(3,2,AVG) FC(12) DO(0.5) FC(6) SM(3)", "C(4,3,1) P(2,2,MAX) DB(2x3,4:0) T(0.5) DB(3) T(0.5,5) DB(2:8) GAP FC(4) SM(2)"} {
		if _, _, err := emit(model(t, s, in)); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestPyTorchSourceGolden(t *testing.T) {
	for _, tc := range []struct{ name, arch string }{
		{"plain", "C(8,3,2) P(3,2,AVG) C(6,5,1) P(2,2,MAX) FC(12) DO(0.5) SM(3)"},
		{"densenet", "C(4,3,1) DB(2x3,4:0) T(0.5) DB(3) GAP SM(2)"},
		{"graph", "C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) | C(2,1,1)) | ID) P(2,2,MAX) CAT(ADD(C(4,3,1) | ID | ID) | C(3,3,1) DO(0.5)) GAP SM(2)"},
	} {
		m := model(t, tc.arch, ir.Shape{C: 3, H: 12, W: 12})
		m.Source = "test.safetensors"
		if tc.name == "plain" {
			m.ClassNames = []string{"cat", "dog \"x\"", "é"}
		}
		got, err := PyTorchSource(m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", tc.name+".py")
		if *update {
			os.WriteFile(path, got, 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file (go test ./core/export -update to accept):\n%s", path, got)
		}
	}
}

func TestPyTorchWritesWeightsOnly(t *testing.T) {
	m := model(t, "C(4,3,1) FC(5) SM(2)", ir.Shape{C: 1, H: 4, W: 4})
	m.Params["momentum.l1.conv.weight"] = tensor.New(4, 1, 3, 3) // optimiser state stays behind
	dir := filepath.Join(t.TempDir(), "out")
	files, err := PyTorch(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	ck, err := checkpoint.Load(filepath.Join(dir, PyTorchWeights))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := ir.Lower(m.Arch, m.Input)
	if len(ck.Params) != len(g.Params()) {
		t.Errorf("%d tensors written, the network has %d", len(ck.Params), len(g.Params()))
	}
	for _, p := range g.Params() {
		if !ck.Params[p.Name].SameShape(p.Shape) || ck.Params[p.Name].Data[0] != m.Params[p.Name].Data[0] {
			t.Errorf("tensor %s not written as given", p.Name)
		}
	}
}

func TestPyTorchErrors(t *testing.T) {
	m := model(t, "C(4,3,1) SM(2)", ir.Shape{C: 3, H: 4, W: 4})
	bad := m
	bad.Mean = bad.Mean[:1]
	if _, err := PyTorchSource(bad); err == nil || !strings.Contains(err.Error(), "1 means and 3 stds for 3 input channels") {
		t.Errorf("short mean: %v", err)
	}
	bad = m
	bad.ClassNames = []string{"a"}
	if _, err := PyTorchSource(bad); err == nil || !strings.Contains(err.Error(), "1 class names for 2 outputs") {
		t.Errorf("class names: %v", err)
	}
	bad = m
	bad.Params = tensor.Map{}
	for k, v := range m.Params {
		bad.Params[k] = v
	}
	delete(bad.Params, "l1.bn.running_var")
	if _, err := PyTorch(t.TempDir(), bad); err == nil || !strings.Contains(err.Error(), "lack tensor l1.bn.running_var") {
		t.Errorf("missing tensor: %v", err)
	}
	bad.Params["l1.bn.running_var"] = tensor.New(5)
	if _, err := PyTorch(t.TempDir(), bad); err == nil || !strings.Contains(err.Error(), "l1.bn.running_var has shape [5]") {
		t.Errorf("misshaped tensor: %v", err)
	}
}
