package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
)

// fcWider is a fake transform: it widens an FC layer by 8 units (weights are
// not carried over: the virtual evaluator ignores them).
type fcWider struct {
	failOn int
	warn   bool // attach a warning diagnostic to every result
}

func (fcWider) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fcwider", Kind: sdk.KindTransform, Version: "test"}, nil
}

func (x fcWider) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	acts, err := x.actions(ctx, req.Net, req.Space)
	return sdk.ActionsResult{Actions: acts}, err
}

func (x fcWider) actions(_ context.Context, n sdk.Network, _ ir.Space) ([]sdk.Action, error) {
	var out []sdk.Action
	for i, l := range n.Arch.Layers {
		if l.Kind == ir.FC && l.Units < 64 {
			out = append(out, sdk.Action{Transform: "fcwider", Args: map[string]int{"layer": i + 1}})
		}
	}
	return out, nil
}

func (f fcWider) Apply(_ context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	a := req.Net.Arch.Clone()
	li := req.Action.Args["layer"]
	if f.failOn > 0 && a.Layers[li-1].Units+8 == f.failOn {
		return sdk.ApplyResult{}, errors.New("injected transform failure")
	}
	a.Layers[li-1].Units += 8
	res := sdk.ApplyResult{Net: sdk.Network{Arch: a, Input: req.Net.Input, Weights: tensor.Map{}}}
	if f.warn {
		res.Diagnostics = []sdk.Diagnostic{{Severity: sdk.SeverityWarning, Summary: fmt.Sprintf("layer %d grew", li)}}
	}
	return res, nil
}

// pick is a fake controller choosing one candidate uniformly with a saved RNG.
type pick struct {
	state uint64
	seen  []float64
}

func (*pick) Describe(context.Context) (sdk.Info, error) { return sdk.Info{Name: "pick"}, nil }
func (p *pick) Configure(_ context.Context, c sdk.ControllerConfig) error {
	p.state = uint64(c.Seed) + 1
	return nil
}
func (p *pick) Propose(ctx context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	acts, err := p.propose(ctx, req)
	return sdk.ProposeResult{Actions: acts}, err
}

func (p *pick) propose(_ context.Context, req sdk.ProposeRequest) ([][]sdk.Action, error) {
	out := make([][]sdk.Action, len(req.Nets))
	for i, c := range req.Candidates {
		if len(c) == 0 {
			continue
		}
		p.state = p.state*6364136223846793005 + 1442695040888963407
		out[i] = []sdk.Action{c[int(p.state>>33)%len(c)]}
	}
	return out, nil
}
func (p *pick) Observe(_ context.Context, req sdk.ObserveRequest) error {
	acc := req.Accuracies
	p.seen = append(p.seen, acc...)
	return nil
}
func (p *pick) Save(ctx context.Context) (sdk.ControllerState, error) {
	b, err := p.save(ctx)
	return sdk.ControllerState{Data: b}, err
}

func (p *pick) save(context.Context) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, p.state), nil
}
func (p *pick) Load(_ context.Context, st sdk.ControllerState) error {
	b := st.Data
	if len(b) != 8 {
		return fmt.Errorf("bad state")
	}
	p.state = binary.LittleEndian.Uint64(b)
	return nil
}

func testRunner(t *testing.T, dir string, ev Evaluator, tf fcWider) *Runner {
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	arch := ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 8}, {Kind: ir.FC, Units: 8}, {Kind: ir.Softmax, Units: 2}}}
	exp := &experiment.Experiment{Space: ir.PaperSpace(), Child: experiment.PaperChild()}
	return &Runner{Exp: exp, Search: experiment.Search{Name: "s", Controller: "pick", Seed: 3, PerEpisode: 4, Budget: 12,
		Steps: []experiment.StepSpec{{Transform: "fcwider", Count: 2}}},
		Transforms: map[string]sdk.Transform{"fcwider": tf}, Controller: &pick{}, Eval: ev, Store: st,
		Start: sdk.Network{Arch: arch, Input: ir.Shape{C: 1, H: 1, W: 1}, Weights: tensor.Map{}}, StartAcc: 0.5}
}

func TestSearchRecordsEveryNetwork(t *testing.T) {
	r := testRunner(t, t.TempDir(), &Virtual{FailEvery: 5}, fcWider{failOn: 32})
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := r.Store.Records()
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID }) // appended in completion order
	if len(recs) != 12 {
		t.Fatalf("%d records, want 12", len(recs))
	}
	var failed, cached int
	for i, rec := range recs {
		if rec.ID != i+1 || rec.Episode != i/4+1 || len(rec.Actions) == 0 && rec.Status != store.StatusFailed {
			t.Errorf("record %d: %+v", i, rec)
		}
		switch rec.Status {
		case store.StatusFailed:
			failed++
			if rec.Error == "" {
				t.Errorf("failed record without a reason: %+v", rec)
			}
		case store.StatusCached:
			cached++
		}
	}
	if failed == 0 || cached == 0 {
		t.Errorf("want failed and cached networks in this setup, got %d failed, %d cached", failed, cached)
	}
	if cs, ok, _ := r.Store.LoadController(); !ok || cs.Episode != 3 || cs.Sampled != 12 {
		t.Errorf("controller state %+v", cs)
	}
}

// TestDiagnosticsReachTheLog: a transform's warnings reach the progress
// events, naming the episode, network and action.
func TestDiagnosticsReachTheLog(t *testing.T) {
	r := testRunner(t, t.TempDir(), &Virtual{}, fcWider{warn: true})
	var msgs []string
	r.OnEvent = func(p Progress) {
		if p.Message != "" {
			msgs = append(msgs, p.Message)
		}
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, "fcwider(layer=") && strings.Contains(m, "warning: layer") && strings.Contains(m, "network ") {
			n++
		}
	}
	if n < 12 {
		t.Errorf("%d warning messages, want one per applied action (at least 12):\n%s", n, strings.Join(msgs, "\n"))
	}
}

// TestResumeAfterInterrupt stops a search in the middle of an episode and
// resumes it: the records equal those of an uninterrupted run.
func TestResumeAfterInterrupt(t *testing.T) {
	full := testRunner(t, t.TempDir(), &Virtual{}, fcWider{})
	if err := full.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := testRunner(t, dir, &Virtual{Delay: 5 * time.Millisecond}, fcWider{})
	ctx, cancel := context.WithCancel(context.Background())
	done := 0
	r.OnEvent = func(p Progress) {
		if p.Last != nil {
			if done++; done == 6 { // in the middle of episode 2
				cancel()
			}
		}
	}
	if err := r.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	r.Store.Close()
	r2 := testRunner(t, dir, &Virtual{}, fcWider{})
	if err := r2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, b := full.Store.Records(), r2.Store.Records()
	byID := func(r []store.Record) { sort.Slice(r, func(i, j int) bool { return r[i].ID < r[j].ID }) }
	byID(a)
	byID(b)
	if len(a) != len(b) {
		t.Fatalf("%d records after resume, want %d", len(b), len(a))
	}
	for i := range a {
		if a[i].Arch != b[i].Arch || a[i].ValAcc != b[i].ValAcc || a[i].ID != b[i].ID || a[i].Status != b[i].Status {
			t.Errorf("record %d differs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
}

func TestVirtualScoreIsDeterministicAndBounded(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 100; i++ {
		a := ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 1 + r.Intn(2000)}, {Kind: ir.Softmax, Units: 10}}}
		s := VirtualScore(a, ir.Shape{C: 3, H: 8, W: 8})
		if s < 0.5 || s > 0.95 || s != VirtualScore(a, ir.Shape{C: 3, H: 8, W: 8}) {
			t.Fatalf("score %v", s)
		}
	}
}

// memCkpt keeps checkpoints in memory, counting saves.
type memCkpt struct {
	m     map[string]sdk.Network
	saves int
}

func (c *memCkpt) Save(path string, n sdk.Network, _ map[string]string) error {
	c.m[path] = n
	c.saves++
	return nil
}

func (c *memCkpt) Load(path string) (sdk.Network, error) {
	n, ok := c.m[path]
	if !ok {
		return sdk.Network{}, fmt.Errorf("no checkpoint %s", path)
	}
	return n, nil
}

// TestStagesResumeWithoutRetraining: a run killed just after the second
// stage's start network was retrained resumes without retraining it again.
func TestStagesResumeWithoutRetraining(t *testing.T) {
	dir := t.TempDir()
	ck := &memCkpt{m: map[string]sdk.Network{}}
	mk := func() *Runner {
		r := testRunner(t, dir, &Virtual{}, fcWider{})
		r.Search.Budget, r.Search.Stages = 16, []experiment.Stage{{Budget: 8, RetrainEpochs: 1}, {Budget: 8}}
		r.Ckpt = ck
		return r
	}
	r := mk()
	ctx, cancel := context.WithCancel(context.Background())
	r.OnEvent = func(p Progress) {
		if p.Stage == 2 && p.Last == nil { // stage 2's first episode begins: the stage start is recorded
			cancel()
		}
	}
	if err := r.Run(ctx); err == nil {
		t.Fatal("the interrupted run did not stop")
	}
	r.Store.Close()
	r2 := mk()
	if err := r2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	starts, samples := 0, 0
	for _, rec := range r2.Store.Records() {
		switch rec.Kind {
		case store.KindStageStart:
			starts++
		case store.KindSample:
			samples++
		}
	}
	if starts != 1 || samples != 16 {
		t.Errorf("after resume: %d stage-start records (want 1), %d samples (want 16)", starts, samples)
	}
}

// crashOnce is a controller whose Propose fails once with a restartable
// fault, like a crashed plugin the host restarted.
type crashOnce struct {
	pick
	crashed bool
	saved   sdk.ControllerState
}

type restartedErr struct{}

func (restartedErr) Error() string   { return "plugin exited" }
func (restartedErr) Restarted() bool { return true }

func (c *crashOnce) Propose(ctx context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	if req.Episode == 2 && req.Step == 1 && !c.crashed {
		c.crashed = true
		if err := c.pick.Load(ctx, c.saved); err != nil { // the host restores the last saved state on restart
			return sdk.ProposeResult{}, err
		}
		return sdk.ProposeResult{}, restartedErr{}
	}
	return c.pick.Propose(ctx, req)
}

func (c *crashOnce) Save(ctx context.Context) (sdk.ControllerState, error) {
	b, err := c.pick.Save(ctx)
	c.saved = b
	return b, err
}

func TestCrashedControllerDoesNotLoseTheSearch(t *testing.T) {
	want := testRunner(t, t.TempDir(), &Virtual{}, fcWider{})
	if err := want.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := testRunner(t, t.TempDir(), &Virtual{}, fcWider{})
	r.Controller = &crashOnce{}
	if err := r.Run(context.Background()); err != nil {
		t.Fatalf("search lost: %v", err)
	}
	a, b := want.Store.Records(), r.Store.Records()
	if len(a) != len(b) {
		t.Fatalf("%d records, want %d", len(b), len(a))
	}
}

// failingCkpt fails its first `fail` saves, like a full disk.
type failingCkpt struct {
	memCkpt
	fail int
}

func (c *failingCkpt) Save(path string, n sdk.Network, meta map[string]string) error {
	if c.fail > 0 {
		c.fail--
		return fmt.Errorf("write %s: %w", path, syscall.ENOSPC)
	}
	return c.memCkpt.Save(path, n, meta)
}

// TestCheckpointSaveErrorStopsAndIsRedone: a checkpoint that cannot be
// written stops the search with the error (it used to be dropped, losing
// the best network's weights); the network is not recorded, so the resumed
// search trains it again and writes its checkpoint.
func TestCheckpointSaveErrorStopsAndIsRedone(t *testing.T) {
	dir := t.TempDir()
	ck := &failingCkpt{memCkpt: memCkpt{m: map[string]sdk.Network{}}, fail: 1}
	r := testRunner(t, dir, &Virtual{}, fcWider{})
	r.Ckpt = ck
	err := r.Run(context.Background())
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "checkpoint") {
		t.Fatalf("run with a failing checkpoint write: %v", err)
	}
	for _, rec := range r.Store.Records() {
		if rec.Kind == "sample" && rec.ID == 1 {
			t.Errorf("the network whose checkpoint failed was recorded: %+v", rec)
		}
	}
	r.Store.Close()
	r2 := testRunner(t, dir, &Virtual{}, fcWider{})
	r2.Ckpt = ck
	if err := r2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := map[int]int{}
	for _, rec := range r2.Store.Records() {
		if rec.Kind != "sample" {
			continue
		}
		ids[rec.ID]++
		if rec.Weights != "" {
			if _, ok := ck.m[filepath.Join(dir, rec.Weights)]; !ok {
				t.Errorf("network %d names checkpoint %s, which was never written", rec.ID, rec.Weights)
			}
		}
	}
	for id := 1; id <= 12; id++ {
		if ids[id] != 1 {
			t.Errorf("network %d recorded %d times", id, ids[id])
		}
	}
	if ck.saves == 0 {
		t.Error("no checkpoint written after resume")
	}
}

// TestProgressBestIsCurrent: the best figure printed with a network already
// counts that network (it used to lag one episode behind).
func TestProgressBestIsCurrent(t *testing.T) {
	r := testRunner(t, t.TempDir(), &Virtual{}, fcWider{})
	seen := 0
	r.OnEvent = func(p Progress) {
		if p.Last == nil || p.Last.Status == store.StatusFailed {
			return
		}
		seen++
		if p.Best < p.Last.ValAcc {
			t.Errorf("network %d: %.4f printed with best %.4f", p.Last.ID, p.Last.ValAcc, p.Best)
		}
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no progress events")
	}
}

// TestTopBreaksTiesBySamplingOrder: records finished out of order (remote
// workers) give the same top list as in order.
func TestTopBreaksTiesBySamplingOrder(t *testing.T) {
	recs := []store.Record{
		{ID: 3, Kind: "sample", Status: store.StatusOK, Arch: "c", ValAcc: 0.9},
		{ID: 2, Kind: "sample", Status: store.StatusOK, Arch: "b", ValAcc: 0.9},
		{ID: 1, Kind: "sample", Status: store.StatusOK, Arch: "a", ValAcc: 0.8},
		{ID: 4, Kind: "sample", Status: store.StatusOK, Arch: "d", ValAcc: 0.95},
	}
	var got []int
	for _, r := range Top(recs, 3) {
		got = append(got, r.ID)
	}
	if fmt.Sprint(got) != "[4 2 3]" {
		t.Errorf("Top = %v, want [4 2 3]", got)
	}
}

// countingEval wraps an evaluator and records every job it was given.
type countingEval struct {
	Evaluator
	jobs []Job
}

func (c *countingEval) Evaluate(ctx context.Context, jobs []Job, done func(int, Outcome)) []Outcome {
	c.jobs = append(c.jobs, jobs...)
	return c.Evaluator.Evaluate(ctx, jobs, done)
}

func controls(recs []store.Record) (out []store.Record) {
	for _, r := range recs {
		if r.Kind == "control" {
			out = append(out, r)
		}
	}
	return out
}

// TestControlIsTrainedOncePerStage: the identity child is trained once per
// stage with the children's schedule and data order, recorded, and kept out
// of the controller's rewards and the budget.
func TestControlIsTrainedOncePerStage(t *testing.T) {
	ev := &countingEval{Evaluator: &Virtual{}}
	r := testRunner(t, t.TempDir(), ev, fcWider{})
	r.Search.Control = true
	r.Search.Budget, r.Search.Stages = 16, []experiment.Stage{{Budget: 8, RetrainEpochs: 1}, {Budget: 8}}
	r.Ckpt = &memCkpt{m: map[string]sdk.Network{}}
	ctrl := &pick{}
	r.Controller = ctrl
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cs := controls(r.Store.Records())
	if len(cs) != 2 || cs[0].Stage != 1 || cs[1].Stage != 2 {
		t.Fatalf("control records %+v, want one for each of 2 stages", cs)
	}
	if cs[0].Arch != r.Start.Arch.String() || cs[0].Status != store.StatusOK || cs[0].ValAcc != VirtualScore(r.Start.Arch, r.Start.Input) {
		t.Errorf("stage-1 control %+v is not the start network's identity child", cs[0])
	}
	if len(ctrl.seen) != 16 {
		t.Errorf("the controller saw %d rewards, want 16 (the controls are not rewards)", len(ctrl.seen))
	}
	if st, _, _ := r.Store.LoadController(); st.Sampled != 16 {
		t.Errorf("sampled %d, want 16: the controls count in no budget", st.Sampled)
	}
	seeds := map[int]map[int64]bool{} // stage -> data-order seeds of its jobs
	for _, j := range ev.jobs {
		if j.Training.Epochs != r.Exp.Child.Epochs {
			continue // the retraining of a stage's best network
		}
		stage := 1
		if j.ID == -2 || j.ID > 8 {
			stage = 2
		}
		if seeds[stage] == nil {
			seeds[stage] = map[int64]bool{}
		}
		seeds[stage][j.Training.Seed] = true
	}
	if len(seeds[1]) != 1 || len(seeds[2]) != 1 {
		t.Errorf("data-order seeds per stage %v: the control and every child of a stage must share one", seeds)
	}
}

// TestControlSurvivesResume: a run interrupted after its control finished
// neither trains the control again nor loses it.
func TestControlSurvivesResume(t *testing.T) {
	dir := t.TempDir()
	ev := &countingEval{Evaluator: &Virtual{Delay: 5 * time.Millisecond}}
	r := testRunner(t, dir, ev, fcWider{})
	r.Search.Control = true
	ctx, cancel := context.WithCancel(context.Background())
	done := 0
	r.OnEvent = func(p Progress) {
		if p.Last != nil {
			if done++; done == 6 {
				cancel()
			}
		}
	}
	if err := r.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	r.Store.Close()
	ev2 := &countingEval{Evaluator: &Virtual{}}
	r2 := testRunner(t, dir, ev2, fcWider{})
	r2.Search.Control = true
	if err := r2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(controls(r2.Store.Records())); n != 1 {
		t.Errorf("%d control records after resume, want 1", n)
	}
	for _, j := range ev2.jobs {
		if j.ID < 0 {
			t.Errorf("the resumed run trained the control again: %+v", j)
		}
	}
}

// TestControlInterruptedIsRetrained: a control cut short by a stop leaves no
// record and is trained when the run resumes.
func TestControlInterruptedIsRetrained(t *testing.T) {
	dir := t.TempDir()
	r := testRunner(t, dir, &Virtual{Delay: time.Hour}, fcWider{})
	r.Search.Control = true
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.Run(ctx); err == nil {
		t.Fatal("the stopped run reported success")
	}
	if n := len(controls(r.Store.Records())); n != 0 {
		t.Fatalf("a stopped control left %d records", n)
	}
	r.Store.Close()
	r2 := testRunner(t, dir, &Virtual{}, fcWider{})
	r2.Search.Control = true
	if err := r2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(controls(r2.Store.Records())); n != 1 {
		t.Errorf("%d control records, want 1", n)
	}
}

// fileCkpt writes a checkpoint as a small file (the architecture), so the
// run's hashes of its checkpoints can be checked.
type fileCkpt struct{ mem memCkpt }

func (c *fileCkpt) Save(path string, n sdk.Network, meta map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(n.Arch.String()), 0o644); err != nil {
		return err
	}
	return c.mem.Save(path, n, meta)
}

func (c *fileCkpt) Load(path string) (sdk.Network, error) { return c.mem.Load(path) }

// TestResumeRefusesAReplacedCheckpoint: a stage start the run wrote and
// then finds changed on resume is refused (its hash is in the record).
func TestResumeRefusesAReplacedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ck := &fileCkpt{mem: memCkpt{m: map[string]sdk.Network{}}}
	mk := func() *Runner {
		r := testRunner(t, dir, &Virtual{}, fcWider{})
		r.Search.Budget, r.Search.Stages = 16, []experiment.Stage{{Budget: 8, RetrainEpochs: 1}, {Budget: 8}}
		r.Ckpt = ck
		return r
	}
	r := mk()
	ctx, cancel := context.WithCancel(context.Background())
	r.OnEvent = func(p Progress) {
		if p.Stage == 2 && p.Last == nil {
			cancel()
		}
	}
	r.Run(ctx)
	r.Store.Close()
	var start store.Record
	for _, rec := range r.Store.Records() {
		if rec.Kind == "stage-start" {
			start = rec
		}
	}
	if start.WeightsSHA256 == "" {
		t.Fatalf("stage start recorded without a hash: %+v", start)
	}
	os.WriteFile(filepath.Join(dir, start.Weights), []byte("FC(99) SM(2)"), 0o644)
	r2 := mk()
	err := r2.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "differs from the one this run made") {
		t.Fatalf("resume with a replaced stage start: %v", err)
	}
}

// copyTrainer is an evaluator that leaves Job.Weights alone and returns its
// "trained" weights as a fresh map (as a remote evaluator may).
type copyTrainer struct{}

func (copyTrainer) Evaluate(ctx context.Context, jobs []Job, done func(int, Outcome)) []Outcome {
	out := make([]Outcome, len(jobs))
	for i, j := range jobs {
		w := tensor.Map{"trained": tensor.New(1)}
		w["trained"].Data[0] = float32(j.ID)
		out[i] = Outcome{Acc: 0.5 + float64(j.ID)/100, Weights: w}
		if done != nil {
			done(i, out[i])
		}
	}
	return out
}

// TestCheckpointsHoldOutcomeWeights: the networks a search saves (samples
// and stage starts) hold the weights the evaluator returned in the Outcome,
// whatever it did with Job.Weights.
func TestCheckpointsHoldOutcomeWeights(t *testing.T) {
	ck := &memCkpt{m: map[string]sdk.Network{}}
	r := testRunner(t, t.TempDir(), copyTrainer{}, fcWider{})
	r.Search.Budget, r.Search.Stages = 8, []experiment.Stage{{Budget: 4, RetrainEpochs: 1}, {Budget: 4}}
	r.Ckpt = ck
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	saved := 0
	for _, rec := range r.Store.Records() {
		if rec.Weights == "" || rec.Kind == store.KindStart {
			continue
		}
		n := ck.m[filepath.Join(r.Store.Dir, rec.Weights)]
		w, ok := n.Weights["trained"]
		if !ok {
			t.Errorf("%s record %d: checkpoint without the Outcome's weights: %v", rec.Kind, rec.ID, n.Weights.Names())
			continue
		}
		saved++
		if rec.Kind == store.KindSample && w.Data[0] != float32(rec.ID) {
			t.Errorf("network %d: checkpoint holds network %v's weights", rec.ID, w.Data[0])
		}
	}
	if saved < 2 {
		t.Errorf("%d checkpoints checked, want samples and a stage start", saved)
	}
}
