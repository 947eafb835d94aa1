package cli

import (
	"bytes"
	"context"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/fidelity"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
)

// seededEval scores a network by its architecture's virtual score plus a
// little noise drawn from the architecture and the data-order seed.
type seededEval struct{ jobs int }

func (e *seededEval) Evaluate(_ context.Context, jobs []search.Job, done func(int, search.Outcome)) []search.Outcome {
	out := make([]search.Outcome, len(jobs))
	for i, j := range jobs {
		e.jobs++
		h := fnv.New64a()
		h.Write([]byte(j.Arch.String()))
		noise := float64((h.Sum64()^uint64(j.Training.Seed))%100) / 1e4
		out[i] = search.Outcome{Acc: search.VirtualScore(j.Arch, j.Input) + noise, Weights: j.Weights}
		if done != nil {
			done(i, out[i])
		}
	}
	return out
}

func fidelityCmd(t *testing.T, src string, edit func(*FidelityCmd)) (*FidelityCmd, *seededEval, string, error) {
	dir := t.TempDir()
	f := filepath.Join(dir, "inj.eas")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	split := tinySplit(t)
	ev := &seededEval{}
	c := &FidelityCmd{File: f, Out: filepath.Join(dir, "runs"), Children: 4, Seeds: 2, ReferenceSeeds: 1, Deps: RunDeps{
		Data:      func(experiment.Dataset) (*data.Split, error) { return split, nil },
		Evaluator: ev, Plugins: &builtinHost{}}}
	if edit != nil {
		edit(c)
	}
	var stdout, stderr bytes.Buffer
	err := c.Run(&Globals{Stdout: &stdout, Stderr: &stderr})
	return c, ev, stdout.String() + stderr.String(), err
}

func TestFidelityCommand(t *testing.T) {
	c, ev, out, err := fidelityCmd(t, injectedExperiment, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// 4 children and the control, 2 seeds at the child schedule (the
	// paper's 20 epochs) and 1 at the reference (80).
	if ev.jobs != 5*3 {
		t.Errorf("%d trainings, want 15", ev.jobs)
	}
	for _, want := range []string{"**Verdict:** at 20 epochs the reward", "80 epochs", "| child 4 |", "[fidelity rl] 15/15", "wrote "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(c.Out, "inj", "fidelity", "rl.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := fidelity.Parse(b)
	if err != nil || res.Stats.N != 4 || res.Config.ReferenceEpochs != 80 || res.ValImages != 8 {
		t.Errorf("recorded result: %v %+v", err, res)
	}
	// A second check reuses the start network and its folder.
	c2, _, out, err := fidelityCmd(t, injectedExperiment, func(f *FidelityCmd) { f.Out = c.Out; f.File = c.File })
	if err != nil || strings.Contains(out, "training the start network") {
		t.Errorf("second check (%s): %v\n%s", c2.Out, err, out)
	}
}

func TestFidelityBadInput(t *testing.T) {
	noControl := strings.Replace(injectedExperiment, "seed = 1\n}", "seed = 1\n  control = false\n}", 1)
	for _, c := range []struct {
		name string
		src  string
		edit func(*FidelityCmd)
		want string
	}{
		{"two children", injectedExperiment, func(f *FidelityCmd) { f.Children = 2 }, "children = 2: a rank correlation needs at least 3 children"},
		{"one seed", injectedExperiment, func(f *FidelityCmd) { f.Seeds = 1 }, "seeds = 1: the seed noise"},
		{"no such search", injectedExperiment, func(f *FidelityCmd) { f.Search = "random" }, `no search "random" in inj (it has "rl")`},
		{"no control", noControl, nil, `search "rl": fidelity measures each child's gain over the control`},
	} {
		_, ev, out, err := fidelityCmd(t, c.src, c.edit)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q\n%s", c.name, err, c.want, out)
		}
		if ev.jobs != 0 {
			t.Errorf("%s: %d trainings before the error", c.name, ev.jobs)
		}
	}
}

// --show prints a recorded check; without a file or --show the command
// says what it needs.
func TestFidelityShow(t *testing.T) {
	c, _, _, err := fidelityCmd(t, injectedExperiment, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, "fidelity", "--show", filepath.Join(c.Out, "inj", "fidelity", "rl.json"))
	if code != 0 || !strings.Contains(out, "**Verdict:** at 20 epochs") || !strings.Contains(out, "| child 4 |") {
		t.Errorf("code %d: %s%s", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(bad, []byte("{"), 0o644)
	if _, errs, code := run(t, "fidelity", "--show", bad); code == 0 || !strings.Contains(errs, "x.json") {
		t.Errorf("bad file: code %d: %s", code, errs)
	}
	if _, errs, code := run(t, "fidelity"); code == 0 || !strings.Contains(errs, "--show") {
		t.Errorf("no file: code %d: %s", code, errs)
	}
}

// fidelity = true runs the check before the search's first episode, once:
// its files land in the search's folder, its verdict leads the report, the
// search samples what it samples without it, and a resumed run does not
// check again.
func TestRunFidelityStep(t *testing.T) {
	src := strings.Replace(injectedExperiment, "seed = 1\n}", "seed = 1\n  fidelity = true\n}", 1) + "child {\n  epochs = 1\n}\n"
	dir := t.TempDir()
	f := filepath.Join(dir, "inj.eas")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	split := tinySplit(t)
	runOnce := func(out string, resume bool, file string) (*seededEval, string) {
		ev := &seededEval{}
		cmd := &RunCmd{File: file, Out: out, Resume: resume, Evaluator: "local", Plain: true, Deps: RunDeps{
			Data: func(experiment.Dataset) (*data.Split, error) { return split, nil }, Evaluator: ev, Plugins: &builtinHost{}}}
		var stdout, stderr bytes.Buffer
		if err := cmd.Run(&Globals{Stdout: &stdout, Stderr: &stderr}); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		return ev, stdout.String() + stderr.String()
	}
	out := filepath.Join(dir, "runs")
	ev, logs := runOnce(out, false, f)
	// 8 children and the control: 3 seeds at 1 epoch, 1 at 4; then the
	// search's 4 children and its control.
	if ev.jobs != 9*4+5 {
		t.Errorf("%d trainings, want 41", ev.jobs)
	}
	if !strings.Contains(logs, `reward fidelity of search "rl": at 1 epoch the reward`) {
		t.Errorf("log lacks the verdict:\n%s", logs)
	}
	md, err := os.ReadFile(filepath.Join(out, "inj", "report.md"))
	if err != nil || !strings.HasPrefix(string(md), "# Report\n\n## Reward fidelity of search \"rl\"") {
		t.Errorf("report.md (%v) does not start with the check:\n%.300s", err, md)
	}
	if _, err := os.Stat(filepath.Join(out, "inj", "rl", "fidelity.json")); err != nil {
		t.Error(err)
	}
	// The same search without the check samples the same networks.
	plain := filepath.Join(dir, "plain.eas")
	os.WriteFile(plain, []byte(strings.Replace(src, "fidelity = true", "fidelity = false", 1)), 0o644)
	runOnce(filepath.Join(dir, "plain"), false, plain)
	archs := func(d string) (a []string) {
		st, err := store.Open(d)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for _, r := range st.Records() {
			a = append(a, string(r.Kind)+" "+r.Arch)
		}
		return a
	}
	if a, b := archs(filepath.Join(out, "inj", "rl")), archs(filepath.Join(dir, "plain", "inj", "rl")); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("the check changed what the search sampled:\n%q\n%q", a, b)
	}
	// Resumed: no second check.
	if ev, _ := runOnce(out, true, f); ev.jobs != 0 {
		t.Errorf("resumed run trained %d networks", ev.jobs)
	}
}

// A dry run skips the check and says so.
func TestDryRunSkipsFidelity(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "inj.eas")
	src := strings.Replace(injectedExperiment, "seed = 1\n}", "seed = 1\n  fidelity = true\n}", 1)
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", filepath.Join(dir, "runs"), "--plain")
	if code != 0 || !strings.Contains(errs, "fidelity = true is skipped in a dry run") {
		t.Errorf("code %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "inj", "rl", "fidelity.json")); err == nil {
		t.Error("a dry run wrote a check")
	}
}
