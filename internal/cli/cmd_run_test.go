package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eas-go/eas/builtin"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/pipeline"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/plugins/sdk"
)

// countingEval scores every job by its ID and remembers what it saw.
type countingEval struct {
	mu   sync.Mutex
	jobs []search.Job
}

func (e *countingEval) Evaluate(ctx context.Context, jobs []search.Job, done func(int, search.Outcome)) []search.Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]search.Outcome, len(jobs))
	for i, j := range jobs {
		e.jobs = append(e.jobs, j)
		out[i] = search.Outcome{Acc: 0.5 + 0.01*float64(j.ID), Weights: j.Weights}
		if done != nil {
			done(i, out[i])
		}
	}
	return out
}

// builtinHost serves the built-ins in-process and counts opens and closes.
type builtinHost struct{ opened, closed int }

func (h *builtinHost) Search(ctx context.Context, easFile string, s experiment.Search, _ pipeline.SearchRun) (map[string]sdk.Transform, sdk.Controller, io.Closer, error) {
	h.opened++
	ctl, _ := builtin.Controller(s.Controller)
	tfs := map[string]sdk.Transform{}
	for _, st := range s.Steps {
		tfs[st.Transform], _ = builtin.Transform(st.Transform)
	}
	return tfs, ctl, closerFunc(func() { h.closed++ }), nil
}

// tinySplit is a 2-class set of 8x8 RGB images: class 0 dark, class 1 light.
func tinySplit(t *testing.T) *data.Split {
	mk := func(n int) *data.Set {
		s := &data.Set{N: n, Shape: ir.Shape{C: 3, H: 8, W: 8}, Classes: 2, Pixels: make([]uint8, n*192), Labels: make([]uint8, n)}
		for i := 0; i < n; i++ {
			s.Labels[i] = uint8(i % 2)
			for k := 0; k < 192; k++ {
				s.Pixels[i*192+k] = uint8(40 + 150*(i%2) + (i*7+k)%30)
			}
		}
		return s
	}
	d, err := data.NewSplit(&data.Source{Name: "tiny", Train: mk(40), Test: mk(10)}, data.SplitOptions{Validation: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const injectedExperiment = `experiment "inj"
dataset images {
  path = "/nowhere"
  validation = 8
}
start {
  arch = "C(4,3,1) P(2,2,MAX) FC(8) SM(2)"
  epochs = 1
  batch = 8
}
search "rl" {
  controller = reinforce
  steps = [wider x 1, deeper x 1]
  per_episode = 2
  budget = 4
  seed = 1
}
`

// TestRunInjectedDeps runs `easrun run` with its data, evaluator and plugin
// host injected: the start network trains on the injected data, every child
// goes to the injected evaluator, the plugins come from the injected host,
// and all log lines go to the injected writer.
func TestRunInjectedDeps(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "inj.eas")
	if err := os.WriteFile(f, []byte(injectedExperiment), 0o644); err != nil {
		t.Fatal(err)
	}
	split := tinySplit(t)
	loads := 0
	eval := &countingEval{}
	ph := &builtinHost{}
	cmd := &RunCmd{File: f, Out: filepath.Join(dir, "runs"), Evaluator: "local", Plain: true, Deps: RunDeps{
		Data: func(d experiment.Dataset) (*data.Split, error) {
			loads++
			if d.Path != "/nowhere" {
				t.Errorf("data path %q", d.Path)
			}
			return split, nil
		},
		Evaluator: eval,
		Plugins:   ph,
	}}
	var stdout, stderr bytes.Buffer
	if err := cmd.Run(&Globals{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if loads != 1 || ph.opened != 1 || ph.closed != 1 {
		t.Errorf("data loaded %d times, plugins opened %d closed %d; want 1 each", loads, ph.opened, ph.closed)
	}
	if len(eval.jobs) != 5 {
		t.Errorf("evaluator saw %d jobs, want the budget of 4 and the control", len(eval.jobs))
	}
	for _, j := range eval.jobs {
		if j.Input != (ir.Shape{C: 3, H: 8, W: 8}) {
			t.Errorf("job %d input %v, want the injected data's 8x8x3", j.ID, j.Input)
		}
	}
	logs := stderr.String()
	for _, want := range []string{"data: 32 training, 8 validation, 10 test images of 8x8x3, 2 classes", "training the start network", "[rl] stage 1 episode 2 network 4/4"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	st, err := store.Open(filepath.Join(dir, "runs", "inj", "rl"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, controls := 0, 0
	for _, r := range st.Records() {
		switch r.Kind {
		case "sample":
			n++
			if r.ValAcc != 0.5+0.01*float64(r.ID) {
				t.Errorf("record %d: val acc %v did not come from the injected evaluator", r.ID, r.ValAcc)
			}
		case "control": // job ID -1 (controls are no sampled network)
			controls++
			if r.ValAcc != 0.49 {
				t.Errorf("control: val acc %v did not come from the injected evaluator", r.ValAcc)
			}
		}
	}
	if n != 4 || controls != 1 {
		t.Errorf("%d child records and %d controls, want 4 and 1", n, controls)
	}
}

func TestRunBadVirtualDelay(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tiny.eas")
	if err := os.WriteFile(f, []byte(tinyExperiment), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EAS_VIRTUAL_DELAY", "soon")
	_, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", filepath.Join(dir, "runs"), "--plain")
	if code == 0 || !strings.Contains(errs, "EAS_VIRTUAL_DELAY") {
		t.Errorf("code %d: %s", code, errs)
	}
}

// TestResumeCorruptStart: a damaged start network is an error on resume,
// not silently retrained over.
func TestResumeCorruptStart(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tiny.eas")
	if err := os.WriteFile(f, []byte(tinyExperiment), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "runs")
	if _, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", out, "--plain", "--search", "rl"); code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	start := filepath.Join(out, "tiny", "start.safetensors")
	if err := os.WriteFile(start, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", out, "--plain", "--resume")
	if code == 0 || !strings.Contains(errs, "resuming") || !strings.Contains(errs, "start.safetensors") {
		t.Errorf("code %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(start); string(b) != "not a checkpoint" {
		t.Error("the damaged start network was overwritten")
	}
}
