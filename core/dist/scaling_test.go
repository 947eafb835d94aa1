package dist

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
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

// BenchmarkRealTrainingScaling: real trainings (Fashion-MNIST, 3,000
// training and 1,000 validation images, a small CNN, one epoch) on one
// worker process and on two, one engine thread each, the two runs
// alternating round by round on one machine (rounds: -benchtime=Nx).
// ratio is the one-worker wall time over the two-worker one (2 is
// perfect); check-% is the driver's check (1,000 validation images
// re-scored) as a share of a child's training time, check-s its seconds.
func BenchmarkRealTrainingScaling(b *testing.B) {
	if _, err := os.Stat(fashionMNIST); err != nil {
		b.Skip("needs Fashion-MNIST in " + fashionMNIST)
	}
	src, err := data.Open("idx:" + fashionMNIST)
	if err != nil {
		b.Fatal(err)
	}
	split := SplitSpec{Validation: 1000, Seed: 1, Limit: 4000, Normalize: "channel"}
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
	const jobsPerRound = 6
	var walls [2][]float64
	ctx := context.Background()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for k := range runs {
			jobs := realJobs(b, jobsPerRound, int64(it*1000+k*100))
			start := time.Now()
			for i, o := range runs[k].ev.Evaluate(ctx, jobs, nil) {
				if o.Err != nil {
					b.Fatalf("job %d: %v", i, o.Err)
				}
			}
			walls[k] = append(walls[k], time.Since(start).Seconds())
		}
	}
	b.StopTimer()
	var ratios []float64
	for i := range walls[0] {
		ratios = append(ratios, walls[0][i]/walls[1][i])
	}
	sort.Float64s(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
	b.ReportMetric(median(walls[0]), "s-1worker")
	b.ReportMetric(median(walls[1]), "s-2workers")
	var train, check float64
	var n int
	for k := range journals {
		sc := bufio.NewScanner(&journals[k])
		for sc.Scan() {
			var j JournalEntry
			if json.Unmarshal(sc.Bytes(), &j) == nil && j.Verdict == "ok" {
				train, check, n = train+j.Seconds, check+j.CheckSecs, n+1
			}
		}
	}
	if n > 0 {
		b.ReportMetric(check/float64(n), "check-s")
		b.ReportMetric(100*check/train, "check-%")
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func realJobs(b *testing.B, n int, seed int64) []search.Job { return realJobs2(b, n, seed) }

func realJobs2(b testing.TB, n int, seed int64) []search.Job {
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
		tr.Epochs, tr.Batch, tr.Seed = 1, 64, seed+int64(i)
		jobs = append(jobs, search.Job{ID: i + 1, Arch: a, Input: in, Weights: nn.InitParams(g, seed+int64(i)), Training: tr})
	}
	return jobs
}
