package cli

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/internal/testfs"
)

// TestRunDirLock: while one easrun process works on a run directory, a
// second (with or without --resume) fails at once naming the holder; the
// lock dies with the holder even on SIGKILL, so the resume that follows
// works and no network is recorded twice.
func TestRunDirLock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := easrunBinary(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "tiny.eas")
	os.WriteFile(f, []byte(tinyExperiment), 0o644)
	out := filepath.Join(dir, "runs")
	holder := exec.Command(bin, f, "--evaluator", "virtual", "--out", out, "--plain")
	holder.Env = append(os.Environ(), "EAS_VIRTUAL_DELAY=300ms")
	stderr, _ := holder.StderrPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), " network ") { // working inside a search
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
		holder.Wait()
		close(exited)
	}()
	for _, args := range [][]string{{"--resume"}, {}} {
		second := exec.Command(bin, append([]string{f, "--evaluator", "virtual", "--out", out, "--plain"}, args...)...)
		b, err := second.CombinedOutput()
		msg := string(b)
		if err == nil || !strings.Contains(msg, "in use by easrun pid "+strconv.Itoa(holder.Process.Pid)) {
			t.Errorf("second process %v while the first works: err %v\n%s", args, err, msg)
		}
	}
	select {
	case <-exited:
		t.Fatal("the first process finished before the second was tried; the test proves nothing")
	default:
	}
	holder.Process.Signal(syscall.SIGKILL)
	<-exited
	if b, err := exec.Command(bin, f, "--evaluator", "virtual", "--out", out, "--plain", "--resume").CombinedOutput(); err != nil {
		t.Fatalf("resume after SIGKILL (stale lock file): %v\n%s", err, b)
	}
	for _, s := range []string{"rl", "random"} {
		seen := map[int]int{}
		for _, r := range records(t, filepath.Join(out, "tiny", s)) {
			if r.Kind == "sample" {
				seen[r.ID]++
			}
		}
		for id := 1; id <= 12; id++ {
			if seen[id] != 1 {
				t.Errorf("search %s: network %d recorded %d times", s, id, seen[id])
			}
		}
	}
}

// TestResumeChecksInputs: --resume keeps the run's own experiment.eas and
// refuses an experiment that differs in what changes results (saying
// what), an edited copy, and a start network the run did not make.
func TestResumeChecksInputs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tiny.eas")
	os.WriteFile(f, []byte(tinyExperiment), 0o644)
	out := filepath.Join(dir, "runs")
	args := []string{"run", f, "--evaluator", "virtual", "--out", out, "--plain", "--search", "rl"}
	if _, errs, code := run(t, args...); code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	runEAS := filepath.Join(out, "tiny", "experiment.eas")
	resume := append(append([]string{}, args...), "--resume")

	edited := strings.Replace(tinyExperiment, "budget = 12\n  seed = 1\n}\nsearch \"random\"", "budget = 15\n  seed = 1\n}\nsearch \"random\"", 1)
	edited = strings.Replace(edited, `path = "/nowhere"`, "path = \"/nowhere\"\n  validation = 100", 1)
	os.WriteFile(f, []byte(edited), 0o644)
	_, errs, code := run(t, resume...)
	if code == 0 || !strings.Contains(errs, `search "rl" budget: 12 -> 15`) || !strings.Contains(errs, "dataset.validation: 5000 -> 100") {
		t.Errorf("resume with a changed experiment: code %d\n%s", code, errs)
	}
	if b, _ := os.ReadFile(runEAS); string(b) != tinyExperiment {
		t.Errorf("the run's experiment.eas was overwritten:\n%s", b)
	}

	// What does not change results may change: the data's location, the report.
	os.WriteFile(f, []byte(strings.Replace(tinyExperiment, "/nowhere", "/elsewhere", 1)+"report {\n  tables = [summary]\n}\n"), 0o644)
	if _, errs, code := run(t, resume...); code != 0 {
		t.Errorf("resume after moving the data: code %d\n%s", code, errs)
	}
	os.WriteFile(f, []byte(tinyExperiment), 0o644)

	// A foreign start network (a valid checkpoint, but not the run's).
	start := filepath.Join(out, "tiny", "start.safetensors")
	good, _ := os.ReadFile(start)
	a := ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 4}, {Kind: ir.Softmax, Units: 10}}}
	g, _ := ir.Lower(a, ir.Shape{C: 3, H: 32, W: 32})
	params := tensor.Map{}
	for _, p := range g.Params() {
		params[p.Name] = tensor.New(p.Shape...)
	}
	if err := checkpoint.Save(start, a, ir.Shape{C: 3, H: 32, W: 32}, params, map[string]string{"val_acc": "0.9"}); err != nil {
		t.Fatal(err)
	}
	_, errs, code = run(t, resume...)
	if code == 0 || !strings.Contains(errs, "start.safetensors") || !strings.Contains(errs, "differs from the one this run made") {
		t.Errorf("foreign start network: code %d\n%s", code, errs)
	}
	os.WriteFile(start, good, 0o644)

	// The run's own copy edited by hand.
	os.WriteFile(runEAS, []byte(strings.Replace(tinyExperiment, "budget = 12", "budget = 13", 1)), 0o644)
	_, errs, code = run(t, resume...)
	if code == 0 || !strings.Contains(errs, "was edited after the run started") {
		t.Errorf("edited run copy: code %d\n%s", code, errs)
	}
	os.WriteFile(runEAS, []byte(tinyExperiment), 0o644)
	if _, errs, code := run(t, resume...); code != 0 {
		t.Errorf("resume with everything restored: code %d\n%s", code, errs)
	}
	if m, ok, err := store.ReadManifest(filepath.Join(out, "tiny")); !ok || err != nil || m.Start == "" {
		t.Errorf("manifest %+v %v %v", m, ok, err)
	}
}

// TestNamesStayInsideOut: an experiment or search name that would leave
// --out is refused where it is parsed, and nothing is written.
func TestNamesStayInsideOut(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a", "b", "runs")
	for _, c := range []struct{ from, to, want string }{
		{`experiment "tiny"`, `experiment "../../x"`, `tiny.eas:1:12: error: experiment name "../../x"`},
		{`search "rl"`, `search "../../../y"`, `tiny.eas:8:8: error: search name "../../../y"`},
	} {
		f := filepath.Join(dir, "tiny.eas")
		os.WriteFile(f, []byte(strings.Replace(tinyExperiment, c.from, c.to, 1)), 0o644)
		_, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", out, "--plain")
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: code %d\n%s", c.to, code, errs)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "tiny.eas" {
			t.Errorf("%s was written", e.Name())
		}
	}
}

// TestPluginCheckHangingPlugin: a plugin that never answers shows progress
// on stderr while each call waits for its deadline, and fails the checks.
func TestPluginCheckHangingPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	bin := filepath.Join(t.TempDir(), "hang")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/hangplugin").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	code, out, errs := runMain("plugin", "check", bin, "--timeout", "2s", "--cases", "1")
	if code == 0 || !strings.Contains(out, "did not answer within its 2s deadline") {
		t.Errorf("code %d\n%s", code, out)
	}
	for _, want := range []string{"handshake ok", "no result for", "actions FAIL"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

// TestCheckClassesAgainstData: with the data set present, check flags a
// start network whose SM(n) does not match its class count, at the layer.
func TestCheckClassesAgainstData(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir)
	eas := func(sm string) string {
		f := filepath.Join(dir, "c.eas")
		os.WriteFile(f, []byte(`dataset idx {
  path = "`+dir+`"
}
start {
  arch = "C(8,3,1) P(2,2,MAX) FC(16) `+sm+`"
}
search "r" {
  controller = random
  steps = [wider]
  budget = 2
}
`), 0o644)
		return f
	}
	_, errs, code := run(t, "check", eas("SM(3)"))
	if code == 0 || !strings.Contains(errs, "c.eas:5:38: error: the start network ends in SM(3) but the data set has 10 classes") {
		t.Errorf("SM(3) on 10 classes: code %d\n%s", code, errs)
	}
	if _, errs, code := run(t, "check", eas("SM(10)")); code != 0 {
		t.Errorf("SM(10): code %d\n%s", code, errs)
	}
}

// TestTransformWeightsVersusFlags: with --weights the checkpoint decides the
// architecture and input; --arch or --input that say otherwise are refused.
func TestTransformWeightsVersusFlags(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "n.safetensors")
	arch := "C(8,3,1) P(2,2,MAX) FC(16) SM(10)"
	if _, errs, code := run(t, "transform", "--arch", arch, "--input", "16x16x3", "--apply", "wider(layer=1, to=12)", "--save", ck); code != 0 {
		t.Fatalf("save: %d %s", code, errs)
	}
	cases := []struct {
		args []string
		want string // "" = accepted
	}{
		{[]string{}, ""},
		{[]string{"--arch", "C(12,3,1) P(2,2,MAX) FC(16) SM(10)"}, ""},
		{[]string{"--arch", arch}, "differs from the architecture"},
		{[]string{"--input", "16x16x3"}, ""},
		{[]string{"--input", "32x32x3"}, "--input 32x32x3 differs from the input"},
	}
	for _, c := range cases {
		args := append([]string{"transform", "--weights", ck, "--apply", "wider(layer=1, to=16)"}, c.args...)
		_, errs, code := run(t, args...)
		if c.want == "" && code != 0 || c.want != "" && (code == 0 || !strings.Contains(errs, c.want)) {
			t.Errorf("%v: code %d\n%s", c.args, code, errs)
		}
	}
}

// TestUnknownDataKind: a spec with an unknown kind lists the kinds.
func TestUnknownDataKind(t *testing.T) {
	_, errs, code := run(t, "train", "--data", "bogus:"+t.TempDir(), "--epochs", "1")
	if code == 0 || !strings.Contains(errs, `unknown kind "bogus"`) || !strings.Contains(errs, "cifar10, images, idx, svhn") {
		t.Errorf("code %d\n%s", code, errs)
	}
}

// TestFmtWriteOnFullDisk: `fmt -w` on a full file system fails without
// damaging the file (it used to truncate it, then fail to write it back).
// Needs root to mount a small tmpfs; skipped otherwise.
func TestFmtWriteOnFullDisk(t *testing.T) {
	dir := testfs.Tmpfs(t, "256k")
	var b strings.Builder
	for i := 0; b.Len() < 12000; i++ { // compact: formatting makes it longer
		fmt.Fprintf(&b, "search \"s%d\" {controller=random steps=[wider] budget=1 seed=%d}\n", i, i)
	}
	src := []byte(b.String())
	f := filepath.Join(dir, "x.eas")
	if err := os.WriteFile(f, src, 0o644); err != nil {
		t.Fatal(err)
	}
	filler, _ := os.Create(filepath.Join(dir, "filler"))
	chunk := make([]byte, 4096)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()
	code, _, errs := runMain("fmt", "-w", f)
	if code == 0 {
		t.Fatalf("fmt -w on a full disk succeeded?")
	}
	if got, _ := os.ReadFile(f); string(got) != string(src) {
		t.Errorf("the file was damaged by a failed fmt -w (%d bytes, was %d); stderr: %s", len(got), len(src), errs)
	}
}
