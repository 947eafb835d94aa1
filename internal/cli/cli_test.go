package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/data/datatest"
	"github.com/eas-go/eas/core/store"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestCheckArch(t *testing.T) {
	out, _, code := run(t, "check", Table1, "--input", "32x32x3")
	if code != 0 || !strings.Contains(out, "133,530") || !strings.Contains(out, "4,016,640") {
		t.Fatalf("code %d:\n%s", code, out)
	}
	_, errs, code := run(t, "check", "C(16,3) SM(10)")
	if code != 1 || !strings.Contains(errs, "C takes 3 arguments") || !strings.Contains(errs, "^") {
		t.Fatalf("code %d: %s", code, errs)
	}
}

func TestCheckAndFmtExperiments(t *testing.T) {
	files, _ := filepath.Glob("../../experiments/*.eas")
	if len(files) < 5 {
		t.Fatalf("found %d experiment files", len(files))
	}
	for _, f := range files {
		out, errs, code := run(t, "check", f)
		if code != 0 || !strings.Contains(out, ": ok") {
			t.Errorf("%s: code %d\n%s%s", f, code, out, errs)
		}
		out, _, code = run(t, "fmt", "-l", f)
		if code != 0 || out != "" {
			t.Errorf("%s is not formatted: %s", f, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.eas")
	os.WriteFile(bad, []byte("dataset cifar10 { path = \"x\" }\nstart { arch = \"C(16,3,1) SM(10)\" }\nsearch \"s\" { controller = reinforc steps = [wider] budget = 1 }\n"), 0o644)
	_, errs, code := run(t, "check", bad)
	if code != 1 || !strings.Contains(errs, "did you mean reinforce") {
		t.Errorf("code %d: %s", code, errs)
	}
}

func TestTransformJSON(t *testing.T) {
	out, errs, code := run(t, "transform", "--arch", Table1, "--apply", "wider(layer=3, to=64); deeper(after=2, kernel=3)", "--verify", "--json")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	var rep struct {
		NewArch    string  `json:"new_arch"`
		MaxRelDiff float64 `json:"max_rel_diff"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.MaxRelDiff > 1e-5 || !strings.Contains(rep.NewArch, "C(16,3,1) C(64,3,1)") {
		t.Errorf("%+v", rep)
	}
	_, errs, code = run(t, "transform", "--arch", Table1, "--apply", "wider(layer=3, to=16)")
	if code == 0 || !strings.Contains(errs, "must be larger") {
		t.Errorf("narrowing accepted: %s", errs)
	}
}

const tinyExperiment = `experiment "tiny"
dataset cifar10 {
  path = "/nowhere"
}
start {
  arch = "C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) FC(64) SM(10)"
}
search "rl" {
  controller = reinforce
  steps = [wider x 2, deeper x 2]
  per_episode = 3
  budget = 12
  seed = 1
}
search "random" {
  controller = random
  steps = [wider x 2, deeper x 2]
  per_episode = 3
  budget = 12
  seed = 1
}
`

func TestVirtualRunAndReport(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tiny.eas")
	os.WriteFile(f, []byte(tinyExperiment), 0o644)
	out, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", filepath.Join(dir, "runs"), "--plain")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	if !strings.Contains(out, "Best-so-far / mean validation accuracy") || !strings.Contains(errs, "[rl] stage 1 episode 4 network 12/12") ||
		!strings.Contains(errs, "[rl] control (stage 1 start retrained") || !strings.Contains(out, "no interval, so no claim") {
		t.Errorf("missing output:\n%s\n%s", out, errs)
	}
	for _, p := range []string{"report.md", "rl_vs_random.png", "progress-rl.svg", "summary.csv", "rl/networks.jsonl", "random/controller.json", "start.safetensors", "versions.json"} {
		if _, err := os.Stat(filepath.Join(dir, "runs", "tiny", p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}
	_, errs, code = run(t, "run", f, "--evaluator", "virtual", "--out", filepath.Join(dir, "runs"))
	if code == 0 || !strings.Contains(errs, "--resume") {
		t.Errorf("rerun without --resume: %d %s", code, errs)
	}
	out, _, code = run(t, "report", filepath.Join(dir, "runs", "tiny"))
	if code != 0 || !strings.Contains(out, "Searches") {
		t.Errorf("report: %d\n%s", code, out)
	}
}

// TestDryRunKeepsNoWeights: a virtual run writes architecture-only
// checkpoints, and a real run is refused in its folder rather than training
// a network without weights.
func TestDryRunKeepsNoWeights(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir)
	f := filepath.Join(dir, "idx.eas")
	os.WriteFile(f, []byte(`experiment "idx"
dataset fashion {
  kind = idx
  path = "`+dir+`"
  validation = 40
}
start {
  arch = "C(4,3,1) P(2,2,MAX) FC(8) SM(10)"
  epochs = 1
}
child {
  epochs = 1
}
search "random" {
  controller = random
  steps = [wider, deeper]
  per_episode = 2
  budget = 2
}
`), 0o644)
	runs := filepath.Join(dir, "runs")
	if _, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", runs, "--plain"); code != 0 {
		t.Fatalf("dry run: %s", errs)
	}
	ck, err := checkpoint.Load(filepath.Join(runs, "idx", "start.safetensors"))
	if err != nil || len(ck.Params) != 0 || ck.Meta["weights"] != "none" {
		t.Fatalf("dry run's start checkpoint: %v, %d tensors, meta %v", err, len(ck.Params), ck.Meta)
	}
	_, errs, code := run(t, "run", f, "--out", runs, "--resume", "--plain")
	if code == 0 || !strings.Contains(errs, "dry run") {
		t.Errorf("a real run in a dry run's folder: code %d\n%s", code, errs)
	}
}

// TestVirtualRepeat: --repeat 3 runs each search with seeds 1..3 in r1..r3,
// each with its control; the report has mean ± sd and the interval; a
// second --resume run trains nothing again.
func TestVirtualRepeat(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tiny.eas")
	os.WriteFile(f, []byte(tinyExperiment), 0o644)
	runs := filepath.Join(dir, "runs")
	out, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", runs, "--plain", "--repeat", "3")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	for _, want := range []string{" ± ", "rl best − random best", "Figure 5's claim", "95% interval"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	seeds := map[string]bool{}
	for _, s := range []string{"rl", "random"} {
		for k := 1; k <= 3; k++ {
			d := filepath.Join(runs, "tiny", s, fmt.Sprintf("r%d", k))
			var controls, samples int
			for _, r := range records(t, d) {
				switch r.Kind {
				case "control":
					controls++
				case "sample":
					samples++
				}
			}
			if controls != 1 || samples != 12 {
				t.Errorf("%s: %d controls and %d samples, want 1 and 12", d, controls, samples)
			}
			b, _ := os.ReadFile(filepath.Join(d, "networks.jsonl"))
			seeds[s+string(b)] = true
		}
	}
	if len(seeds) != 6 {
		t.Errorf("only %d distinct runs of 6: the seeds do not differ", len(seeds))
	}
	before, _ := os.ReadFile(filepath.Join(runs, "tiny", "rl", "r2", "networks.jsonl"))
	if _, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", runs, "--plain", "--repeat", "3", "--resume"); code != 0 {
		t.Fatalf("resume: %s", errs)
	}
	after, _ := os.ReadFile(filepath.Join(runs, "tiny", "rl", "r2", "networks.jsonl"))
	if !bytes.Equal(before, after) {
		t.Error("resuming a finished repeated run changed its records")
	}
}

var buildOnce sync.Once
var binPath string

func easrunBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, _ := os.MkdirTemp("", "easrun-test")
		binPath = filepath.Join(dir, "easrun")
		cmd := exec.Command("go", "build", "-o", binPath, "../../cmd/easrun")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	})
	return binPath
}

func records(t *testing.T, dir string) []store.Record {
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := s.Records()
	sort.SliceStable(r, func(i, j int) bool {
		return string(r[i].Kind)+string(rune(r[i].ID)) < string(r[j].Kind)+string(rune(r[j].ID))
	})
	return r
}

// TestKill9Resume kills a real easrun process in the middle of a search and
// resumes it: every finished network is kept and the final records equal an
// uninterrupted run's.
func TestKill9Resume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := easrunBinary(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "tiny.eas")
	os.WriteFile(f, []byte(tinyExperiment), 0o644)
	full := exec.Command(bin, f, "--evaluator", "virtual", "--out", filepath.Join(dir, "full"), "--plain")
	if out, err := full.CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	for _, killAfter := range []int{4, 16} { // inside the first search, and inside the second
		out := filepath.Join(dir, "killed", string(rune('a'+killAfter)))
		cmd := exec.Command(bin, f, "--evaluator", "virtual", "--out", out, "--plain")
		cmd.Env = append(os.Environ(), "EAS_VIRTUAL_DELAY=40ms")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		n := 0
		for sc.Scan() {
			if strings.Contains(sc.Text(), " network ") {
				if n++; n == killAfter {
					cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
		}
		cmd.Wait()
		time.Sleep(50 * time.Millisecond)
		res := exec.Command(bin, f, "--evaluator", "virtual", "--out", out, "--plain", "--resume")
		if o, err := res.CombinedOutput(); err != nil {
			t.Fatalf("resume: %v\n%s", err, o)
		}
		for _, s := range []string{"rl", "random"} {
			a, b := records(t, filepath.Join(dir, "full", "tiny", s)), records(t, filepath.Join(out, "tiny", s))
			if len(a) != len(b) {
				t.Fatalf("kill after %d: search %s has %d records after resume, want %d", killAfter, s, len(b), len(a))
			}
			for i := range a {
				if a[i].Arch != b[i].Arch || a[i].ValAcc != b[i].ValAcc || a[i].Status != b[i].Status || a[i].Episode != b[i].Episode {
					t.Errorf("kill after %d, %s record %d:\n%+v\n%+v", killAfter, s, i, a[i], b[i])
				}
			}
		}
	}
}

func TestAutoPool(t *testing.T) {
	for _, c := range []struct {
		cores int
		mem   float64
		want  int
	}{{2, 24, 1}, {16, 128, 4}, {16, 5, 2}, {64, 0, 16}, {1, 1, 1}} {
		if got := autoPool(c.cores, c.mem); got != c.want {
			t.Errorf("autoPool(%d, %v) = %d, want %d", c.cores, c.mem, got, c.want)
		}
	}
}

// writeIDX writes a tiny MNIST-style data set whose class is the bright quadrant.
func writeIDX(t *testing.T, dir string) {
	datatest.WriteIDX(t, dir, datatest.Quadrants{Train: 200, Test: 40, Pixel: func(i, y, x int, bright bool) byte {
		if bright {
			return 220
		}
		return 20
	}})
}

func TestTrainSaveResume(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir)
	ck := filepath.Join(dir, "net.safetensors")
	arch := "C(4,3,1) P(2,2,MAX) FC(8) SM(10)"
	out, errs, code := run(t, "train", "--data", "idx:"+dir, "--arch", arch, "--epochs", "2", "--validation", "40", "--batch", "16", "--lr", "0.05", "--save", ck, "--plain")
	if code != 0 || !strings.Contains(out, "test accuracy") || !strings.Contains(errs, "epoch 2/2") {
		t.Fatalf("train: %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = run(t, "train", "--data", "idx:"+dir, "--resume", ck, "--epochs", "3", "--validation", "40", "--batch", "16", "--lr", "0.05", "--plain")
	if code != 0 || strings.Contains(errs, "epoch 1/3") || !strings.Contains(errs, "epoch 3/3") {
		t.Fatalf("resume should run only epoch 3: %d\n%s\n%s", code, out, errs)
	}
	os.WriteFile(ck, []byte("garbage"), 0o644)
	_, errs, code = run(t, "train", "--data", "idx:"+dir, "--resume", ck)
	if code == 0 || !strings.Contains(errs, "net.safetensors") {
		t.Errorf("corrupt checkpoint: %d %s", code, errs)
	}
	_, errs, code = run(t, "train", "--data", "idx:"+filepath.Join(dir, "missing"))
	if code == 0 || !strings.Contains(errs, "missing") {
		t.Errorf("missing data: %d %s", code, errs)
	}
}

// TestBenchLayersAndGraph runs bench with the per-layer table and checks
// the JSON export the PyTorch twin of make bench-peers is built from.
func TestBenchLayersAndGraph(t *testing.T) {
	arch := "C(4,3,1) P(2,2,MAX) FC(8) SM(3)"
	out, errOut, code := run(t, "bench", "--arch", arch, "--input", "8x8x3", "--batch", "4", "--steps", "2", "--no-peak", "--layers", "--json")
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, errOut)
	}
	var res BenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	var ops []string
	var pct float64
	for _, l := range res.Layers {
		ops = append(ops, l.Op)
		pct += l.TrainPct
	}
	if strings.Join(ops, " ") != "conv bn+relu maxpool fc bn+relu linear" || math.Abs(pct-100) > 0.01 {
		t.Errorf("layers %v with train %% summing to %.2f, want conv..linear summing to 100", ops, pct)
	}
	if res.PeakGFLOPS != 0 || res.TrainImgS <= 0 {
		t.Errorf("--no-peak: peak %v, train %v img/s", res.PeakGFLOPS, res.TrainImgS)
	}
	text, _, code := run(t, "bench", "--arch", arch, "--input", "8x8x3", "--batch", "4", "--steps", "2", "--no-peak", "--layers")
	if code != 0 || !strings.Contains(text, "per layer") || !strings.Contains(text, "bn+relu l1.bn") {
		t.Errorf("bench --layers text (exit %d):\n%s", code, text)
	}
	out, _, code = run(t, "bench", "--arch", arch, "--input", "8x8x3", "--graph-json")
	var gj struct {
		Nodes []graphNode `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &gj); code != 0 || err != nil {
		t.Fatalf("--graph-json: exit %d, %v\n%s", code, err, out)
	}
	if n := gj.Nodes[1]; n.Op != "conv" || n.Filters != 4 || n.Kernel != 3 || n.Pad != 1 || n.C != 4 || n.H != 8 {
		t.Errorf("graph node 1 = %+v", n)
	}
}
