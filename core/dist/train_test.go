package dist

import (
	"context"
	"path/filepath"
	"strings"
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

// TestLocalCopyWithAnotherFingerprintIsRefused: a worker whose --data copy
// differs from the run's refuses the job with the reason; after the last
// attempt the job is recorded as failed with it.
func TestLocalCopyWithAnotherFingerprintIsRefused(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, filepath.Join(dir, "run"), 0)
	writeIDX(t, filepath.Join(dir, "other"), 1)
	ds := tinyDataset(t, filepath.Join(dir, "run"))
	r := startRun(t, dir, 0, Options{Data: ds, DataName: "tiny", DataKind: "idx", Split: tinySplit, Settings: Settings{AckWait: 5 * time.Second, Attempts: 2}})
	startWorker(t, r.srv.URL, "EAS_DIST_TEST_DATA=tiny="+filepath.Join(dir, "other"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := collect(t, ctx, r.ev, tinyJobs(t, 1))
	if out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "fingerprint") || !strings.Contains(out[0].Err.Error(), "given up after 2 deliveries") {
		t.Fatalf("want a refusal naming the fingerprint, got %v", out[0].Err)
	}
}
