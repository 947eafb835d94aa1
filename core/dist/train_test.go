package dist

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/data/datatest"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/tensor"
)

// writeIDX writes a small MNIST-style data set (8x8, 4 classes: the bright
// quadrant, textured); shift changes every pixel a little (another "version").
func writeIDX(t *testing.T, dir string, shift byte) {
	datatest.WriteIDX(t, dir, datatest.Quadrants{Train: 240, Test: 48, Pixel: func(i, y, x int, bright bool) byte {
		v := byte(20 + (i*7+y*3+x)%40)
		if bright {
			v = 180 + byte((i+x*y)%60)
		}
		return v + shift
	}})
}

var tinySplit = SplitSpec{Validation: 40, Seed: 3, Limit: 160, Normalize: "channel"}

func tinyDataset(t *testing.T, dir string) *Dataset {
	t.Helper()
	src, err := data.Open("idx:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := SplitDataset(src, tinySplit)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func cloneJobs(jobs []search.Job) []search.Job {
	out := append([]search.Job(nil), jobs...)
	for i := range out {
		out[i].Weights = out[i].Weights.Clone()
	}
	return out
}

func sameWeights(a, b tensor.Map) bool {
	for k, v := range a {
		w, ok := b[k]
		if !ok || len(w.Data) != len(v.Data) {
			return false
		}
		for i := range v.Data {
			if v.Data[i] != w.Data[i] {
				return false
			}
		}
	}
	return len(a) == len(b)
}

// TestWorkerTrainsLikeLocal: children trained by worker processes (data
// fetched from the run, then a local copy with the same fingerprint) end
// with the accuracy and the weights of the local evaluator, bit for bit,
// for the same seed and engine worker count; a final (full-data) job too.
func TestWorkerTrainsLikeLocal(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	writeIDX(t, dataDir, 0)
	ds := tinyDataset(t, dataDir)
	jobs := tinyJobs(t, 3)
	jobs[2].Full = true
	be, err := engine.Open(engine.Default, engine.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	local := cloneJobs(jobs)
	want := (&search.Local{Data: ds, Workers: 1, Backend: be}).Evaluate(context.Background(), local, nil)
	for i, o := range want {
		if o.Err != nil {
			t.Fatalf("local job %d: %v", i, o.Err)
		}
	}
	for _, c := range []struct {
		name string
		env  []string
		log  string
	}{
		{"fetched", []string{"EAS_DIST_TEST_CACHE=" + filepath.Join(dir, "cache")}, "fetched"},
		{"cached", []string{"EAS_DIST_TEST_CACHE=" + filepath.Join(dir, "cache")}, "from the cache"},
		{"local copy", []string{"EAS_DIST_TEST_DATA=tiny=" + dataDir}, "local copy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := startRun(t, t.TempDir(), 0, Options{Data: ds, DataName: "tiny", DataKind: "idx", Split: tinySplit})
			w := startWorker(t, r.srv.URL, append(c.env, "EAS_DIST_TEST_THREADS=1")...)
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			remote := cloneJobs(jobs)
			got := collect(t, ctx, r.ev, remote)
			for i := range got {
				if got[i].Err != nil || got[i].Acc != want[i].Acc {
					t.Errorf("job %d: worker %+v, local accuracy %v", i, got[i], want[i].Acc)
				}
				if !sameWeights(remote[i].Weights, local[i].Weights) {
					t.Errorf("job %d: trained weights differ from the local evaluator's", i)
				}
			}
			if !strings.Contains(w.output(), c.log) {
				t.Errorf("worker did not say %q:\n%s", c.log, w.output())
			}
		})
	}
}

// TestMismatchedWorkerBesideAGoodOne: a worker whose --data copy differs
// from the run's refuses the jobs (a Nak, not a failure record) and backs
// off, so the healthy worker beside it trains them all; alone, it leaves
// the jobs waiting with the reason shown, never failed.
func TestMismatchedWorkerBesideAGoodOne(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, filepath.Join(dir, "run"), 0)
	writeIDX(t, filepath.Join(dir, "other"), 1)
	ds := tinyDataset(t, filepath.Join(dir, "run"))
	var mu sync.Mutex
	var msgs []string
	r := startRun(t, dir, 0, Options{Data: ds, DataName: "tiny", DataKind: "idx", Split: tinySplit, Reconcile: 300 * time.Millisecond,
		Settings:  Settings{AckWait: 5 * time.Second, Attempts: 2},
		OnMessage: func(s string) { mu.Lock(); msgs = append(msgs, s); mu.Unlock() }})
	bad := startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=bad", "EAS_DIST_TEST_DATA=tiny="+filepath.Join(dir, "other"))
	alone, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	jobs := tinyJobs(t, 3)
	out := collect(t, alone, r.ev, jobs[:1])
	if !errors.Is(out[0].Err, context.DeadlineExceeded) {
		t.Fatalf("alone, the mismatched worker decided the job: %+v", out[0])
	}
	mu.Lock()
	if m := strings.Join(msgs, "\n"); !strings.Contains(m, "waiting for a worker that can run it; worker bad: data set tiny") || !strings.Contains(m, "fingerprint") {
		t.Errorf("driver messages do not give the refusal: %s", m)
	}
	mu.Unlock()
	startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=good", "EAS_DIST_TEST_CACHE="+filepath.Join(dir, "cache"))
	ctx, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	out = collect(t, ctx, r.ev, jobs)
	for i, o := range out {
		if o.Err != nil {
			t.Errorf("job %d: %v", i, o.Err)
		}
	}
	if !strings.Contains(bad.output(), "refusing job") || strings.Contains(bad.output(), "training C(") {
		t.Errorf("the mismatched worker:\n%s", bad.output())
	}
}

// TestRedeliveredJobResumesFromItsEpoch: a worker killed after its third
// epoch checkpoint; the next delivery continues from that epoch and ends
// with the weights and accuracy of an uninterrupted local training, bit
// for bit.
func TestRedeliveredJobResumesFromItsEpoch(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, filepath.Join(dir, "data"), 0)
	ds := tinyDataset(t, filepath.Join(dir, "data"))
	jobs := tinyJobs(t, 1)
	jobs[0].Training.Epochs = 8
	be, err := engine.Open(engine.Default, engine.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	local := cloneJobs(jobs)
	want := (&search.Local{Data: ds, Workers: 1, Backend: be}).Evaluate(context.Background(), local, nil)
	if want[0].Err != nil {
		t.Fatal(want[0].Err)
	}
	r := startRun(t, dir, 0, Options{Data: ds, DataName: "tiny", DataKind: "idx", Split: tinySplit, Settings: Settings{AckWait: time.Second, Attempts: 3}})
	a := startWorker(t, r.srv.URL, "EAS_DIST_TEST_THREADS=1", "EAS_DIST_TEST_EPOCH_DELAY=400ms", "EAS_DIST_TEST_CKPT_EVERY=1ns", "EAS_DIST_TEST_ID=a")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var b *proc
	go func() {
		a.waitFor(t, "checkpoint after epoch 3", 60*time.Second)
		a.kill()
		b = startWorker(t, r.srv.URL, "EAS_DIST_TEST_THREADS=1", "EAS_DIST_TEST_ID=b")
	}()
	remote := cloneJobs(jobs)
	got := collect(t, ctx, r.ev, remote)
	if got[0].Err != nil || got[0].Acc != want[0].Acc {
		t.Errorf("resumed: %+v, uninterrupted accuracy %v", got[0], want[0].Acc)
	}
	if !sameWeights(remote[0].Weights, local[0].Weights) {
		t.Error("resumed training's weights differ from the uninterrupted one's")
	}
	if b == nil {
		t.Fatal("worker b never started")
	}
	if out := b.output(); !strings.Contains(out, "resuming after epoch 3") && !strings.Contains(out, "resuming after epoch 4") {
		t.Errorf("b did not resume:\n%s\na:\n%s", out, a.output())
	}
}

// TestSmallWorkerLeavesBigJobs: a worker with too little memory for the
// network refuses it: the job waits for another worker, never fails; a
// worker running another engine than the run asks for refuses too.
func TestSmallWorkerLeavesBigJobs(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, filepath.Join(dir, "data"), 0)
	ds := tinyDataset(t, filepath.Join(dir, "data"))
	for _, c := range []struct {
		name, env, want string
		engine          string
	}{
		{"memory", "EAS_DIST_TEST_MEMORY=1000", "too big for this worker", ""},
		{"engine", "EAS_DIST_TEST_ID=x", `needs engine "gpu-only"`, "gpu-only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := startRun(t, t.TempDir(), 0, Options{Data: ds, DataName: "tiny", DataKind: "idx", Split: tinySplit, Engine: c.engine,
				Reconcile: 300 * time.Millisecond, Settings: Settings{AckWait: 5 * time.Second, Attempts: 1}})
			small := startWorker(t, r.srv.URL, c.env)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			out := collect(t, ctx, r.ev, tinyJobs(t, 1))
			if !errors.Is(out[0].Err, context.DeadlineExceeded) || !strings.Contains(small.output(), c.want) {
				t.Fatalf("want the job left waiting with %q, got %v:\n%s", c.want, out[0].Err, small.output())
			}
		})
	}
}
