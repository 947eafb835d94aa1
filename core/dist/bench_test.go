package dist

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/dsl"
)

// benchRun starts a run with n worker processes and waits until all are
// connected.
func benchRun(b *testing.B, n int, delay time.Duration) *testRun {
	r := startRun(b, b.TempDir(), 0, Options{VirtualDelay: delay, StatusEvery: 2 * time.Second})
	for i := 0; i < n; i++ {
		startWorker(b, r.srv.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(r.ev.Status(ctx).Workers) < n {
		if ctx.Err() != nil {
			b.Fatalf("only %d of %d workers connected", len(r.ev.Status(ctx).Workers), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

// BenchmarkScaling: sleep-bound jobs (200 ms and 1 s, 6 per worker) on 1,
// 2, 4 and 8 worker processes. speedup is (jobs x sleep) / wall time,
// ideally the worker count; efficiency is speedup / workers; overhead-ms is
// the wall time per job beyond the sleep, per worker.
func BenchmarkScaling(b *testing.B) {
	const perWorker = 6
	for _, delay := range []time.Duration{200 * time.Millisecond, time.Second} {
		for _, n := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("job=%v/workers=%d", delay, n), func(b *testing.B) {
				r := benchRun(b, n, delay)
				jobs := benchJobs(b, n*perWorker, "C(4,3,1) P(2,2,MAX) FC(%d) SM(4)", 8)
				ctx := context.Background()
				b.ResetTimer()
				start := time.Now()
				for it := 0; it < b.N; it++ {
					for i := range jobs {
						jobs[i].Training.Seed = int64(it*100000 + i) // new content, new ids
					}
					for i, o := range r.ev.Evaluate(ctx, jobs, nil) {
						if o.Err != nil {
							b.Fatalf("job %d: %v", i, o.Err)
						}
					}
				}
				wall := time.Since(start) / time.Duration(b.N)
				speedup := float64(len(jobs)) * delay.Seconds() / wall.Seconds()
				b.ReportMetric(speedup, "speedup")
				b.ReportMetric(speedup/float64(n), "efficiency")
				b.ReportMetric((wall.Seconds()-perWorker*delay.Seconds())/perWorker*1000, "overhead-ms/job")
			})
		}
	}
}

// BenchmarkJobOverhead: one worker, jobs that do no training, with
// networks of about 10 MB and 100 MB of weights (sent to the worker and
// back: object store put, get, checksum and parse both ways).
func BenchmarkJobOverhead(b *testing.B) {
	for _, c := range []struct {
		name  string
		units int
	}{{"tiny", 8}, {"10MB", 39000}, {"100MB", 390000}} {
		b.Run(c.name, func(b *testing.B) {
			r := benchRun(b, 1, time.Millisecond)
			jobs := benchJobs(b, 1, "FC(%d) SM(4)", c.units)
			size := 0
			for _, t := range jobs[0].Weights {
				size += 4 * len(t.Data)
			}
			b.SetBytes(int64(2 * size))
			b.ReportMetric(float64(size)/1e6, "MB-weights")
			ctx := context.Background()
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				jobs[0].Training.Seed = int64(it + 1)
				if o := r.ev.Evaluate(ctx, jobs, nil)[0]; o.Err != nil {
					b.Fatal(o.Err)
				}
			}
		})
	}
}

func benchJobs(b *testing.B, n int, pattern string, first int) []search.Job {
	var jobs []search.Job
	for i := 0; i < n; i++ {
		a, l := dsl.ParseArch("bench", fmt.Sprintf(pattern, first+i))
		if err := l.Err(); err != nil {
			b.Fatal(err)
		}
		g, err := ir.Lower(a, tinyInput)
		if err != nil {
			b.Fatal(err)
		}
		tr := experiment.PaperChild()
		tr.Epochs, tr.Batch = 1, 16
		jobs = append(jobs, search.Job{ID: i + 1, Arch: a, Input: tinyInput, Weights: nn.InitParams(g, int64(i)), Training: tr})
	}
	return jobs
}
