package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
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
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
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
import hashlib
want = meta.pop('sha256'); h['__metadata__'] = meta
got = hashlib.sha256(json.dumps(h, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode() + data).hexdigest()
print('checksum', 'reproduced' if got == want else 'differs')
`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"l1.conv.weight [4, 2, 3, 3] 17.75", "l3.sm.bias [3]", "arch " + a.String(), "checksum reproduced"} {
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

// rewrite decodes a file written by Save, lets edit change it, and encodes
// it again; with resum the checksum is recomputed (so only the field checks
// can catch the edit), otherwise the old one is kept.
func rewrite(t *testing.T, good []byte, resum bool, edit func(meta map[string]string, ents map[string]entry, data []byte)) []byte {
	t.Helper()
	hl := binary.LittleEndian.Uint64(good)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(good[8:8+hl], &raw); err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	json.Unmarshal(raw["__metadata__"], &meta)
	delete(raw, "__metadata__")
	ents := map[string]entry{}
	for n, r := range raw {
		var e entry
		json.Unmarshal(r, &e)
		ents[n] = e
	}
	data := append([]byte(nil), good[8+hl:]...)
	edit(meta, ents, data)
	if resum {
		if meta["format"] == formatV1 {
			s := sha256.Sum256(data)
			meta["sha256"] = hex.EncodeToString(s[:])
		} else {
			meta["sha256"], _ = digest(ents, meta, data)
		}
	}
	h := map[string]any{"__metadata__": meta}
	for n, e := range ents {
		h[n] = e
	}
	hb, _ := json.Marshal(h)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	return append(append(out, hb...), data...)
}

func putF32(data []byte, e entry, i int, v float32) {
	binary.LittleEndian.PutUint32(data[e.Offsets[0]+4*int64(i):], math.Float32bits(v))
}

// TestMetadataIsCheckedAndChecksummed: the metadata and tensor entries are
// covered by the checksum, and every field is validated even when the
// checksum was recomputed; errors name the key or tensor.
func TestMetadataIsCheckedAndChecksummed(t *testing.T) {
	a, _, m := sample(t)
	m["l1.bn.running_var"] = tensor.New(4)
	for i := range m["l1.bn.running_var"].Data {
		m["l1.bn.running_var"].Data[i] = 1
	}
	path := filepath.Join(t.TempDir(), "net.safetensors")
	if err := Save(path, a, ir.Shape{C: 2, H: 4, W: 4}, m, map[string]string{"epoch": "7", "val_acc": "0.5"}); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	setMeta := func(k, v string) func(map[string]string, map[string]entry, []byte) {
		return func(md map[string]string, _ map[string]entry, _ []byte) { md[k] = v }
	}
	cases := []struct {
		name  string
		resum bool
		edit  func(map[string]string, map[string]entry, []byte)
		want  string
	}{
		{"epoch edited, old checksum", false, setMeta("epoch", "8"), "checksum mismatch"},
		{"arch edited, old checksum", false, setMeta("arch", "FC(5) SM(3)"), "checksum mismatch"},
		{"shape edited, old checksum", false, func(_ map[string]string, e map[string]entry, _ []byte) {
			x := e["l1.conv.weight"]
			x.Shape = []int{2, 4, 3, 3}
			e["l1.conv.weight"] = x
		}, "checksum mismatch"},
		{"negative epoch", true, setMeta("epoch", "-5"), `"epoch"`},
		{"huge epoch", true, setMeta("epoch", "1000000"), `"epoch"`},
		{"epoch not an integer", true, setMeta("epoch", "7.5"), `"epoch"`},
		{"unknown format", true, setMeta("format", "eas-9"), `format "eas-9"`},
		{"no format", true, func(md map[string]string, _ map[string]entry, _ []byte) { delete(md, "format") }, `"format" is missing`},
		{"no checksum", false, func(md map[string]string, _ map[string]entry, _ []byte) { delete(md, "sha256") }, `"sha256" is missing`},
		{"NaN accuracy", true, setMeta("val_acc", "NaN"), `"val_acc"`},
		{"accuracy above 1", true, setMeta("val_acc", "1.5"), `"val_acc"`},
		{"bad input", true, setMeta("input", "0x4x2"), `"input"`},
		{"empty arch", true, setMeta("arch", " "), `"arch"`},
		{"negative variance", true, func(_ map[string]string, e map[string]entry, d []byte) { putF32(d, e["l1.bn.running_var"], 2, -0.5) }, "l1.bn.running_var"},
		{"NaN weight", true, func(_ map[string]string, e map[string]entry, d []byte) {
			putF32(d, e["l2.fc.weight"], 3, float32(math.NaN()))
		}, "l2.fc.weight"},
		{"infinite bias", true, func(_ map[string]string, e map[string]entry, d []byte) {
			putF32(d, e["l3.sm.bias"], 0, float32(math.Inf(-1)))
		}, "l3.sm.bias"},
	}
	for _, c := range cases {
		_, err := Parse(rewrite(t, good, c.resum, c.edit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %s", c.name, err, c.want)
		}
	}
	// An untouched rewrite still loads (the helper itself is faithful).
	if _, err := Parse(rewrite(t, good, true, func(map[string]string, map[string]entry, []byte) {})); err != nil {
		t.Fatalf("identity rewrite: %v", err)
	}
}

// TestReadsFormatV1: files of the previous format (checksum over the data
// only) still load, and their data is still checked.
func TestReadsFormatV1(t *testing.T) {
	a, _, m := sample(t)
	path := filepath.Join(t.TempDir(), "net.safetensors")
	if err := Save(path, a, ir.Shape{C: 2, H: 4, W: 4}, m, map[string]string{"epoch": "3"}); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	v1 := rewrite(t, good, true, func(md map[string]string, _ map[string]entry, _ []byte) { md["format"] = formatV1 })
	c, err := Parse(v1)
	if err != nil || c.Meta["epoch"] != "3" || c.ArchString != a.String() {
		t.Fatalf("v1 file: %v", err)
	}
	bad := rewrite(t, v1, false, func(_ map[string]string, e map[string]entry, d []byte) { putF32(d, e["l2.fc.weight"], 0, 42) })
	if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("v1 file with changed data: %v", err)
	}
}

func TestSaveRefusesWhatLoadRejects(t *testing.T) {
	a, _, m := sample(t)
	dir := t.TempDir()
	for name, meta := range map[string]map[string]string{
		"NaN accuracy": {"val_acc": "NaN"}, "negative epoch": {"epoch": "-1"}, "reserved key": {"sha256": "00"},
	} {
		if err := Save(filepath.Join(dir, "x.safetensors"), a, ir.Shape{C: 2, H: 4, W: 4}, m, meta); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
	m2 := m.Clone()
	m2["l2.fc.weight"].Data[0] = float32(math.Inf(1))
	if err := Save(filepath.Join(dir, "x.safetensors"), a, ir.Shape{C: 2, H: 4, W: 4}, m2, nil); err == nil || !strings.Contains(err.Error(), "l2.fc.weight") {
		t.Errorf("infinite weight: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.safetensors")); err == nil {
		t.Error("a refused checkpoint was written")
	}
}

// TestErrorsNameTensorsInAFixedOrder: with several bad tensors, the same
// file gives the same error every time (it used to follow map order).
func TestErrorsNameTensorsInAFixedOrder(t *testing.T) {
	a, _, m := sample(t)
	path := filepath.Join(t.TempDir(), "net.safetensors")
	if err := Save(path, a, ir.Shape{C: 2, H: 4, W: 4}, m, nil); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	bad := rewrite(t, good, true, func(_ map[string]string, ents map[string]entry, _ []byte) {
		for n, e := range ents { // every tensor points past the data
			e.Offsets[0] += 1 << 20
			e.Offsets[1] += 1 << 20
			ents[n] = e
		}
	})
	_, first := Parse(bad)
	if first == nil || !strings.Contains(first.Error(), `"l1.bn.bias"`) { // the first name in order
		t.Fatalf("got %v", first)
	}
	for i := 0; i < 30; i++ {
		if _, err := Parse(bad); err == nil || err.Error() != first.Error() {
			t.Fatalf("run %d: %v, first run: %v", i, err, first)
		}
	}
}
