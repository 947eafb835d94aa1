package checkpoint

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

func sample(t *testing.T) (ir.Arch, *ir.Graph, tensor.Map) {
	a := ir.Arch{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 4, Kernel: 3, Stride: 1}, {Kind: ir.FC, Units: 5}, {Kind: ir.Softmax, Units: 3}}}
	g, err := ir.Lower(a, ir.Shape{C: 2, H: 4, W: 4})
	if err != nil {
		t.Fatal(err)
	}
	m := tensor.Map{}
	for i, p := range g.Params() {
		tt := tensor.New(p.Shape...)
		for j := range tt.Data {
			tt.Data[j] = float32(i) + float32(j)*0.25
		}
		m[p.Name] = tt
	}
	return a, g, m
}

func TestRoundTrip(t *testing.T) {
	a, g, m := sample(t)
	path := filepath.Join(t.TempDir(), "net.safetensors")
	if err := Save(path, a, ir.Shape{C: 2, H: 4, W: 4}, m, map[string]string{"epoch": "7"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.ArchString != a.String() || c.Input != (ir.Shape{C: 2, H: 4, W: 4}) || c.Meta["epoch"] != "7" {
		t.Errorf("metadata: %+v", c)
	}
	if err := c.Verify(g); err != nil {
		t.Fatal(err)
	}
	for k, v := range m {
		for i := range v.Data {
			if c.Params[k].Data[i] != v.Data[i] {
				t.Fatalf("%s[%d] differs", k, i)
			}
		}
	}
}

func TestCorruptFilesAreRejected(t *testing.T) {
	a, _, m := sample(t)
	path := filepath.Join(t.TempDir(), "net.safetensors")
	if err := Save(path, a, ir.Shape{C: 2, H: 4, W: 4}, m, nil); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	hl := int(binary.LittleEndian.Uint64(good))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":             {},
		"truncated":         good[:len(good)-10],
		"header too long":   mutate(func(b []byte) []byte { binary.LittleEndian.PutUint64(b, 1<<40); return b }),
		"bad json":          mutate(func(b []byte) []byte { b[8] = '['; return b }),
		"flipped data byte": mutate(func(b []byte) []byte { b[len(b)-3] ^= 0x40; return b }),
		"trailing garbage":  append(append([]byte(nil), good...), 1, 2, 3, 4),
		"dtype":             mutate(func(b []byte) []byte { return []byte(strings.Replace(string(b), `"F32"`, `"I32"`, 1)) }),
		"shape":             mutate(func(b []byte) []byte { return []byte(strings.Replace(string(b), `"shape":[5]`, `"shape":[6]`, 1)) }),
	}
	_ = hl
	for name, b := range cases {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestVerifyNamesTheProblem(t *testing.T) {
	_, g, m := sample(t)
	c := &Checkpoint{Params: m.Clone()}
	delete(c.Params, "l2.fc.weight")
	if err := c.Verify(g); err == nil || !strings.Contains(err.Error(), "l2.fc.weight") {
		t.Errorf("missing tensor: %v", err)
	}
	c = &Checkpoint{Params: m.Clone()}
	c.Params["l1.conv.weight"] = tensor.New(4, 2, 5, 5)
	if err := c.Verify(g); err == nil || !strings.Contains(err.Error(), "l1.conv.weight") {
		t.Errorf("wrong shape: %v", err)
	}
}

// TestPythonReadsIt parses our file with an independent reader written in
// Python (json + struct + numpy), the way the safetensors package does.
func TestPythonReadsIt(t *testing.T) {
	py := ""
	for _, cand := range []string{"python3", "/usr/bin/python3"} { // Debian's python3-numpy lives with /usr/bin/python3
		if p, err := exec.LookPath(cand); err == nil && exec.Command(p, "-c", "import numpy").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("no python3 with numpy")
	}
	a, _, m := sample(t)
	path := filepath.Join(t.TempDir(), "net.safetensors")
	if err := Save(path, a, ir.Shape{C: 2, H: 4, W: 4}, m, nil); err != nil {
		t.Fatal(err)
	}
	script := `
import json, struct, sys, numpy as np
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8+n]); data = b[8+n:]
meta = h.pop('__metadata__')
for k, e in sorted(h.items()):
    lo, hi = e['data_offsets']
    a = np.frombuffer(data[lo:hi], dtype='<f4').reshape(e['shape'])
    print(k, list(a.shape), float(a.reshape(-1)[-1]))
print('arch', meta['arch'])
`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"l1.conv.weight [4, 2, 3, 3] 17.75", "l3.sm.bias [3]", "arch " + a.String()} {
		if !strings.Contains(s, want) {
			t.Errorf("python output lacks %q:\n%s", want, s)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{}              "))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(b) // must not panic
	})
}

// TestEncodeIsWhatSaveWrites: weights sent over the network are byte for
// byte the checkpoint file, so one parser checks both.
func TestEncodeIsWhatSaveWrites(t *testing.T) {
	a, _, m := sample(t)
	in := ir.Shape{C: 2, H: 4, W: 4}
	path := filepath.Join(t.TempDir(), "net.safetensors")
	if err := Save(path, a, in, m, nil); err != nil {
		t.Fatal(err)
	}
	b, err := Encode(a, in, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.ReadFile(path)
	if string(f) != string(b) {
		t.Fatalf("Encode gives %d bytes that differ from the %d bytes Save wrote", len(b), len(f))
	}
	if _, err := Parse(b); err != nil {
		t.Fatal(err)
	}
	m["l1.conv.weight"].Data = m["l1.conv.weight"].Data[:1]
	if _, err := Encode(a, in, m, nil); err == nil || !strings.Contains(err.Error(), "l1.conv.weight") {
		t.Errorf("inconsistent tensor: %v", err)
	}
}
