package evaltest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/data/datatest"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/tensor"
)

// Env is the suite's tiny data set, for the evaluator under test.
type Env struct {
	Dir   string            // the data set as IDX files (an "idx:" data set)
	Split data.SplitOptions // how the suite splits it
	Data  *data.Split       // the split itself
	Input ir.Shape          // the images' shape (8x8x1, 4 classes)
}

// Options say what the evaluator under test does.
type Options struct {
	// ScoresOnly: the evaluator scores architectures without training
	// (search.Virtual): Outcome.Weights is the job's, unchanged, and a job
	// with malformed weights need not fail.
	ScoresOnly bool
}

// Factory makes the evaluator under test on env's data; it may register
// cleanups with t.
type Factory func(t *testing.T, env Env) search.Evaluator

// Run checks ev against the contract of search.Evaluator.
func Run(t *testing.T, o Options, newEval Factory) {
	env := NewEnv(t)
	ev := newEval(t, env)
	for _, c := range checks {
		if c.trains && o.ScoresOnly {
			continue
		}
		t.Run(c.name, func(t *testing.T) { c.fn(t, env, ev, o) })
	}
}

// T is what a check needs of a test; *testing.T has it (the suite's own
// tests pass a recorder, to see each check fail on a broken evaluator).
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

type check struct {
	name   string
	trains bool // only for evaluators that train
	fn     func(t T, env Env, ev search.Evaluator, o Options)
}

var checks = []check{
	{"NoJobs", false, checkNoJobs},
	{"OutcomesInJobOrder", false, checkOrder},
	{"TrainedWeightsInOutcome", true, checkWeights},
	{"SameJobSameAccuracy", false, checkDeterministic},
	{"FailureStaysAlone", true, checkFailureAlone},
	{"FullJobsScoreOnTest", false, checkFull},
	{"CanceledReturnsPromptly", false, checkCanceled},
}

// NewEnv writes the suite's data set (240 training, 48 test images of 8x8,
// 4 classes) under t.TempDir and splits it.
func NewEnv(t testing.TB) Env {
	dir := filepath.Join(t.TempDir(), "quadrants")
	datatest.WriteIDX(t, dir, datatest.Quadrants{Train: 240, Test: 48, Pixel: func(i, y, x int, bright bool) byte {
		v := byte(20 + (i*7+y*3+x)%40)
		if bright {
			v = 180 + byte((i+x*y)%60)
		}
		return v
	}})
	o := data.SplitOptions{Validation: 40, Seed: 3, Limit: 160, Normalize: "channel"}
	s, err := data.LoadSplit("idx:"+dir, o)
	if err != nil {
		t.Fatalf("evaltest data: %v", err)
	}
	return Env{Dir: dir, Split: o, Data: s, Input: s.TrainSet.Shape}
}

// Jobs returns n distinct small networks with fresh weights (one epoch of
// 16-image batches each).
func (env Env) Jobs(n int) []search.Job {
	jobs := make([]search.Job, n)
	for i := range jobs {
		a := ir.MustParseArch(fmt.Sprintf("C(4,3,1) P(2,2,MAX) FC(%d) SM(4)", 8+i))
		g, err := ir.Lower(a, env.Input)
		if err != nil {
			panic(err)
		}
		tr := experiment.PaperChild()
		tr.Epochs, tr.Batch, tr.Seed = 1, 16, int64(100+i)
		jobs[i] = search.Job{ID: i + 1, Arch: a, Input: env.Input, Weights: nn.InitParams(g, int64(i)), Training: tr}
	}
	return jobs
}

// evaluate runs ev with a done that checks it is called once per job, with
// the outcome Evaluate returns, and never concurrently.
func evaluate(t T, ctx context.Context, ev search.Evaluator, jobs []search.Job) []search.Outcome {
	t.Helper()
	var mu sync.Mutex
	var inside atomic.Int32
	calls := make([]int, len(jobs))
	seen := make([]search.Outcome, len(jobs))
	out := ev.Evaluate(ctx, jobs, func(i int, o search.Outcome) {
		if inside.Add(1) > 1 {
			t.Errorf("done called concurrently (job %d)", i)
		}
		defer inside.Add(-1)
		runtime.Gosched()
		mu.Lock()
		defer mu.Unlock()
		if i < 0 || i >= len(jobs) {
			t.Errorf("done called with job index %d of %d", i, len(jobs))
			return
		}
		calls[i]++
		seen[i] = o
	})
	if len(out) != len(jobs) {
		t.Fatalf("Evaluate returned %d outcomes for %d jobs", len(out), len(jobs))
	}
	if ctx.Err() != nil {
		return out
	}
	for i, c := range calls {
		if c != 1 {
			t.Errorf("job %d: done called %d times, want once", i, c)
		} else if seen[i].Acc != out[i].Acc || (seen[i].Err == nil) != (out[i].Err == nil) {
			t.Errorf("job %d: done got %+v, Evaluate returned %+v", i, seen[i], out[i])
		}
	}
	return out
}

func clone(jobs []search.Job) []search.Job {
	out := append([]search.Job(nil), jobs...)
	for i := range out {
		if out[i].Weights != nil {
			out[i].Weights = out[i].Weights.Clone()
		}
	}
	return out
}

func checkNoJobs(t T, env Env, ev search.Evaluator, o Options) {
	if out := evaluate(t, context.Background(), ev, nil); len(out) != 0 {
		t.Errorf("no jobs: %d outcomes", len(out))
	}
}

func checkOrder(t T, env Env, ev search.Evaluator, o Options) {
	jobs := env.Jobs(3)
	out := evaluate(t, context.Background(), ev, jobs)
	for i, oc := range out {
		if oc.Err != nil {
			t.Errorf("job %d: %v", i, oc.Err)
		} else if oc.Acc < 0 || oc.Acc > 1 {
			t.Errorf("job %d: accuracy %v outside [0, 1]", i, oc.Acc)
		}
	}
	// Outcomes follow the jobs: each job alone gets the accuracy it got
	// in the batch.
	for i, j := range env.Jobs(3) {
		one := evaluate(t, context.Background(), ev, []search.Job{j})
		if one[0].Acc != out[i].Acc {
			t.Errorf("job %d (%s): accuracy %v in the batch, %v alone", i, jobs[i].Arch, out[i].Acc, one[0].Acc)
		}
	}
}

func checkWeights(t T, env Env, ev search.Evaluator, o Options) {
	jobs := env.Jobs(2)
	before := clone(jobs)
	out := evaluate(t, context.Background(), ev, jobs)
	for i, oc := range out {
		if oc.Err != nil {
			t.Errorf("job %d: %v", i, oc.Err)
			continue
		}
		if oc.Weights == nil {
			t.Errorf("job %d: no trained weights in the Outcome", i)
			continue
		}
		changed := false
		for name, w := range before[i].Weights {
			got, ok := oc.Weights[name]
			if !ok || !got.SameShape(w.Shape) {
				t.Errorf("job %d: Outcome.Weights lacks %s %v (has %v)", i, name, w.Shape, shapeOf(got))
				continue
			}
			changed = changed || !equal(got, w)
		}
		if len(oc.Weights) != len(before[i].Weights) {
			t.Errorf("job %d: Outcome.Weights has %d tensors, the job %d", i, len(oc.Weights), len(before[i].Weights))
		}
		if !changed {
			t.Errorf("job %d: Outcome.Weights are the untrained weights", i)
		}
	}
}

func checkDeterministic(t T, env Env, ev search.Evaluator, o Options) {
	a := evaluate(t, context.Background(), ev, env.Jobs(1))
	b := evaluate(t, context.Background(), ev, env.Jobs(1))
	if a[0].Err != nil || b[0].Err != nil {
		t.Fatalf("errors: %v, %v", a[0].Err, b[0].Err)
	}
	if a[0].Acc != b[0].Acc {
		t.Errorf("the same job twice: accuracy %v, then %v", a[0].Acc, b[0].Acc)
	}
}

func checkFailureAlone(t T, env Env, ev search.Evaluator, o Options) {
	jobs := env.Jobs(3)
	want := evaluate(t, context.Background(), ev, clone(jobs))
	// Job 2's weights lack a tensor: it must fail, with a reason, and alone.
	for name := range jobs[1].Weights {
		delete(jobs[1].Weights, name)
		break
	}
	out := evaluate(t, context.Background(), ev, jobs)
	if out[1].Err == nil {
		t.Errorf("job with a missing weight tensor: no error (accuracy %v)", out[1].Acc)
	} else if out[1].Err.Error() == "" {
		t.Errorf("job with a missing weight tensor: an empty error")
	}
	for _, i := range []int{0, 2} {
		if out[i].Err != nil || out[i].Acc != want[i].Acc {
			t.Errorf("job %d beside a failing one: %v, accuracy %v; alone %v", i, out[i].Err, out[i].Acc, want[i].Acc)
		}
	}
}

func checkFull(t T, env Env, ev search.Evaluator, o Options) {
	jobs := env.Jobs(1)
	jobs[0].Full = true
	out := evaluate(t, context.Background(), ev, jobs)
	if out[0].Err != nil {
		t.Fatalf("full-data job: %v", out[0].Err)
	}
	if out[0].Acc < 0 || out[0].Acc > 1 {
		t.Errorf("full-data job: accuracy %v outside [0, 1]", out[0].Acc)
	}
}

func checkCanceled(t T, env Env, ev search.Evaluator, o Options) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	began := time.Now()
	out := evaluate(t, ctx, ev, env.Jobs(2))
	if d := time.Since(began); d > 30*time.Second {
		t.Errorf("Evaluate with a canceled context took %v", d)
	}
	for i, oc := range out {
		if oc.Err != nil && !errors.Is(oc.Err, context.Canceled) {
			t.Errorf("job %d: canceled context, error %v (want one that wraps context.Canceled)", i, oc.Err)
		}
	}
}

func shapeOf(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

func equal(a, b *tensor.Tensor) bool {
	if len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return false
		}
	}
	return true
}
