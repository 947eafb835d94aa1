package dist

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/dsl"
)

const fashionMNIST = "/usr/share/datasets/fashion-mnist"

// TestRealTrainingScaling (a measurement, run only with
// EAS_DIST_SCALING=ROUNDS): real trainings (Fashion-MNIST, 9,000 training
// and 1,000 validation images, a small CNN, two epochs, 4 per round, after
// an uncounted warm-up round) on one
// worker process and on two, one engine thread each, the two runs
// alternating round by round on one machine. ratio is the one-worker wall
// time over the two-worker one (2 is perfect); check-% is the driver's
// check (1,000 validation images re-scored) as a share of a child's
// training time, check-s its seconds per child.
func TestRealTrainingScaling(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("EAS_DIST_SCALING"))
	if rounds < 1 {
		t.Skip("a measurement: EAS_DIST_SCALING=ROUNDS runs it")
	}
	if _, err := os.Stat(fashionMNIST); err != nil {
		t.Skip("needs Fashion-MNIST in " + fashionMNIST)
	}
	b := t
	src, err := data.Open("idx:" + fashionMNIST)
	if err != nil {
		b.Fatal(err)
	}
	split := SplitSpec{Validation: 1000, Seed: 1, Limit: 10000, Normalize: "channel"}
	ds, err := SplitDataset(src, split)
	if err != nil {
		b.Fatal(err)
	}
	var journals [2]bytes.Buffer
	var runs [2]*testRun
	for k, n := range []int{1, 2} {
		runs[k] = startRun(b, b.TempDir(), 0, Options{Data: ds, DataName: "fashion", DataKind: "idx", Split: split, Journal: &journals[k]})
		for i := 0; i < n; i++ {
			startWorker(b, runs[k].srv.URL, "EAS_DIST_TEST_THREADS=1")
		}
	}
	const jobsPerRound = 4
	var walls [2][]float64
	ctx := context.Background()
	for k := range runs { // warm-up, not counted: workers fetch the data set
		runs[k].ev.Evaluate(ctx, realJobs(b, 2, int64(900000+k)), nil)
	}
	for it := 0; it < rounds; it++ {
		for k := range runs {
			jobs := realJobs(b, jobsPerRound, int64(it*1000+k*100))
			start := time.Now()
			for i, o := range runs[k].ev.Evaluate(ctx, jobs, nil) {
				if o.Err != nil {
					b.Fatalf("job %d: %v", i, o.Err)
				}
			}
			walls[k] = append(walls[k], time.Since(start).Seconds())
			t.Logf("round %d, %d worker(s): %.1f s", it+1, k+1, walls[k][len(walls[k])-1])
		}
	}
	var ratios []float64
	for i := range walls[0] {
		ratios = append(ratios, walls[0][i]/walls[1][i])
	}
	sort.Float64s(ratios)
	t.Logf("ratios %v, median %.2f; median wall 1 worker %.1f s, 2 workers %.1f s", ratios, ratios[len(ratios)/2], median(walls[0]), median(walls[1]))
	var train, check float64
	var n int
	for k := range journals {
		var tk float64
		var nk int
		for _, line := range bytes.Split(journals[k].Bytes(), []byte("\n")) {
			var j JournalEntry
			if json.Unmarshal(line, &j) == nil && j.Verdict == "ok" {
				tk, nk = tk+j.Seconds, nk+1
			}
		}
		if nk > 0 {
			t.Logf("%d worker(s): %.2f s of training per child on average", k+1, tk/float64(nk))
		}
		sc := bufio.NewScanner(&journals[k])
		for sc.Scan() {
			var j JournalEntry
			if json.Unmarshal(sc.Bytes(), &j) == nil && j.Verdict == "ok" {
				train, check, n = train+j.Seconds, check+j.CheckSecs, n+1
			}
		}
	}
	if n > 0 {
		t.Logf("driver's check: %.3f s per child, %.1f%% of a child's training (%.2f s on average, %d children)", check/float64(n), 100*check/train, train/float64(n), n)
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func realJobs(b testing.TB, n int, seed int64) []search.Job {
	in := ir.Shape{C: 1, H: 28, W: 28}
	var jobs []search.Job
	for i := 0; i < n; i++ {
		a, l := dsl.ParseArch("bench", fmt.Sprintf("C(8,3,1) P(2,2,MAX) C(16,3,1) P(2,2,MAX) FC(%d) SM(10)", 32+i))
		if err := l.Err(); err != nil {
			b.Fatal(err)
		}
		g, err := ir.Lower(a, in)
		if err != nil {
			b.Fatal(err)
		}
		tr := experiment.PaperChild()
		tr.Epochs, tr.Batch, tr.Seed = 2, 64, seed+int64(i)
		jobs = append(jobs, search.Job{ID: i + 1, Arch: a, Input: in, Weights: nn.InitParams(g, seed+int64(i)), Training: tr})
	}
	return jobs
}
