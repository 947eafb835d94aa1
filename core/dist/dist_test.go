package dist

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/dsl"
)

var tinyInput = ir.Shape{C: 1, H: 8, W: 8}

// tinyJobs returns n distinct small networks (FC widths differ).
func tinyJobs(t *testing.T, n int) []search.Job {
	t.Helper()
	var jobs []search.Job
	for i := 0; i < n; i++ {
		a, l := dsl.ParseArch("test", "C(4,3,1) P(2,2,MAX) FC("+itoa(8+i)+") SM(4)")
		if err := l.Err(); err != nil {
			t.Fatal(err)
		}
		g, err := ir.Lower(a, tinyInput)
		if err != nil {
			t.Fatal(err)
		}
		tr := experiment.PaperChild()
		tr.Epochs, tr.Batch, tr.Seed = 1, 16, int64(100+i)
		jobs = append(jobs, search.Job{ID: i + 1, Arch: a, Input: tinyInput, Weights: nn.InitParams(g, int64(i)), Training: tr})
	}
	return jobs
}

func itoa(i int) string { return strconv.Itoa(i) }

// parseArch is what the CLI passes as Worker.ParseArch.
func parseArch(name, src string) (ir.Arch, error) {
	a, l := dsl.ParseArch(name, src)
	return a, l.Err()
}

// waitIdle returns the status once no job is queued or unacknowledged (a
// worker acknowledges just after storing its result), or after 5 s.
func waitIdle(ctx context.Context, ev *Evaluator) Status {
	st := ev.Status(ctx)
	for i := 0; i < 50 && st.Running+st.Queued > 0; i++ {
		time.Sleep(100 * time.Millisecond)
		st = ev.Status(ctx)
	}
	return st
}

// collect runs Evaluate and checks done is called exactly once per job.
func collect(t *testing.T, ctx context.Context, ev search.Evaluator, jobs []search.Job) []search.Outcome {
	t.Helper()
	var mu sync.Mutex
	calls := make([]int, len(jobs))
	out := ev.Evaluate(ctx, jobs, func(i int, o search.Outcome) {
		mu.Lock()
		calls[i]++
		mu.Unlock()
	})
	if ctx.Err() == nil {
		for i, c := range calls {
			if c != 1 {
				t.Errorf("job %d: done called %d times, want once", i, c)
			}
		}
	}
	return out
}

func TestVirtualJobsOnTwoWorkerProcesses(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: 30 * time.Millisecond})
	startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=w1")
	startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=w2", "EAS_DIST_TEST_SLOTS=2")
	jobs := tinyJobs(t, 8)
	jobs = append(jobs, jobs[2]) // an identical job is trained once, reported twice
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := collect(t, ctx, r.ev, jobs)
	for i, o := range out {
		if o.Err != nil || o.Acc != search.VirtualScore(jobs[i].Arch, tinyInput) {
			t.Errorf("job %d: %+v", i, o)
		}
	}
	st := waitIdle(ctx, r.ev)
	if st.Done != 8 || st.Failed != 0 || st.Queued != 0 || st.Running != 0 {
		t.Errorf("status %+v", st)
	}
	if len(st.Workers) != 2 || !strings.Contains(st.String(), "w1 0/1") || !strings.Contains(st.String(), "w2 0/2") {
		t.Errorf("workers: %s", st)
	}
}

func TestWaitsForAWorker(t *testing.T) {
	var mu sync.Mutex
	var msgs []string
	var statuses []Status
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: time.Millisecond, ConnectHint: "--connect URL",
		OnMessage: func(s string) { mu.Lock(); msgs = append(msgs, s); mu.Unlock() },
		OnStatus:  func(s Status) { mu.Lock(); statuses = append(statuses, s); mu.Unlock() }})
	go func() {
		time.Sleep(time.Second)
		startWorker(t, r.srv.URL)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := collect(t, ctx, r.ev, tinyJobs(t, 2))
	if out[0].Err != nil || out[1].Err != nil {
		t.Fatal(out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(msgs) == 0 || !strings.Contains(msgs[0], "no worker connected: waiting") || !strings.Contains(msgs[0], "--connect URL") {
		t.Errorf("messages: %q", msgs)
	}
	if len(statuses) == 0 || statuses[0].Queued != 2 || statuses[0].NoWorker == 0 {
		t.Errorf("first status: %+v", statuses)
	}
}

// TestKilledWorkersJobGoesToAnother: SIGKILL in the middle of a job; the job
// is redelivered after the ack wait and finished by the other worker, and
// reported once.
func TestKilledWorkersJobGoesToAnother(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: 3 * time.Second, Settings: Settings{AckWait: time.Second, Attempts: 3}})
	a := startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=a")
	jobs := tinyJobs(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		a.waitFor(t, "training", 20*time.Second)
		a.kill()
		startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=b")
	}()
	out := collect(t, ctx, r.ev, jobs)
	if out[0].Err != nil || out[0].Acc != search.VirtualScore(jobs[0].Arch, tinyInput) {
		t.Fatalf("%+v", out[0])
	}
	if st := r.ev.Status(ctx); st.Retried != 1 || st.Done != 1 {
		t.Errorf("status %+v", st)
	}
}

// TestProgressAcksKeepTheLease: a job four times longer than the ack wait
// stays with its worker (no second delivery), though another worker idles.
func TestProgressAcksKeepTheLease(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: 4 * time.Second, Settings: Settings{AckWait: time.Second, Attempts: 3}})
	a := startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=a")
	b := startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=b")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := collect(t, ctx, r.ev, tinyJobs(t, 1))
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	n := strings.Count(a.output()+b.output(), "training")
	if st := r.ev.Status(ctx); st.Retried != 0 || n != 1 {
		t.Errorf("job trained %d times, status %+v", n, st)
	}
}

// TestGivenUpAfterAttempts: a job whose workers keep dying is recorded as
// failed with the reason after the set number of deliveries; the next job
// runs normally.
func TestGivenUpAfterAttempts(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: 5 * time.Second, Settings: Settings{AckWait: time.Second, Attempts: 2}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		for i := 0; i < 2; i++ { // two deliveries, each worker killed mid-training
			w := startWorker(t, r.srv.URL)
			w.waitFor(t, "training", 20*time.Second)
			w.kill()
		}
		startWorker(t, r.srv.URL) // gets the third delivery and records the failure
	}()
	out := collect(t, ctx, r.ev, tinyJobs(t, 1))
	if out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "given up after 2 training attempts") {
		t.Fatalf("want a failure after 2 deliveries, got %+v", out[0])
	}
	if st := r.ev.Status(ctx); st.Failed != 1 {
		t.Errorf("status %+v", st)
	}
}

// TestDriverRestartUsesResultsThatArrivedWhileDown: the driver and its
// embedded server stop while a worker trains; the worker keeps the result
// until the server is back; the restarted driver, submitting the same jobs,
// gets every result without training anything twice.
func TestDriverRestartUsesResultsThatArrivedWhileDown(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	opt := Options{VirtualDelay: 1500 * time.Millisecond, Settings: Settings{AckWait: 20 * time.Second, Attempts: 3}}
	r := startRun(t, dir, port, opt)
	w := startWorker(t, r.srv.URL, "EAS_DIST_TEST_SLOTS=3")
	jobs := tinyJobs(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		w.waitFor(t, "training", 20*time.Second)
		cancel()
	}()
	out := collect(t, ctx, r.ev, jobs)
	if !errors.Is(out[0].Err, context.Canceled) {
		t.Fatalf("want cancelled outcomes, got %+v", out)
	}
	r.stop() // the driver is gone, and its server with it
	time.Sleep(2 * time.Second)
	r2 := startRun(t, dir, port, opt)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	out = collect(t, ctx2, r2.ev, jobs)
	for i, o := range out {
		if o.Err != nil || o.Acc != search.VirtualScore(jobs[i].Arch, tinyInput) {
			t.Errorf("job %d after restart: %+v", i, o)
		}
	}
	if n := strings.Count(w.output(), "training"); n != 3 {
		t.Errorf("%d trainings for 3 jobs:\n%s", n, w.output())
	}
}

// TestSameJobAgainAfterItsResultWasUsed: two searches with one seed can grow
// the same child; the second submission must run again, not be dropped as a
// duplicate of the first.
func TestSameJobAgainAfterItsResultWasUsed(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: time.Millisecond})
	startWorker(t, r.srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jobs := tinyJobs(t, 1)
	for round := 0; round < 2; round++ {
		if out := collect(t, ctx, r.ev, jobs); out[0].Err != nil {
			t.Fatalf("round %d: %v", round, out[0].Err)
		}
	}
}
