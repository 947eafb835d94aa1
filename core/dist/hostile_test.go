package dist

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/eas-go/eas/core/checkpoint"
)

// waitQueued returns the job's message once it is in the stream.
func waitQueued(t *testing.T, ctx context.Context, b *bus, id string) {
	t.Helper()
	for ctx.Err() == nil {
		if _, err := b.jobs.GetLastMsgForSubject(ctx, jobSubject+id); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("job never queued")
}

// TestForgedResultIsRejected: a client holding the run's credentials
// stores a result claiming 0.987 with untrained weights before any worker
// runs the job; the driver's check rejects it and a real worker redoes the
// job.
func TestForgedResultIsRejected(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, filepath.Join(dir, "data"), 0)
	ds := tinyDataset(t, filepath.Join(dir, "data"))
	var journal bytes.Buffer
	r := startRun(t, dir, 0, Options{Data: ds, DataName: "tiny", DataKind: "idx", Split: tinySplit, Journal: &journal, Reconcile: 300 * time.Millisecond})
	jobs := tinyJobs(t, 1)
	p, err := r.ev.prepare(jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	id := p.msg.ID
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	go func() {
		waitQueued(t, ctx, r.ev.b, id)
		enc, _ := checkpoint.Encode(jobs[0].Arch, jobs[0].Input, jobs[0].Weights, nil)
		name := "out/" + id + "/forged"
		if _, err := r.ev.b.outputs.PutBytes(ctx, name, enc); err != nil {
			t.Error(err)
			return
		}
		res, _ := json.Marshal(ResultMsg{Version: Version, ID: id, Delivery: "forged", Worker: "forger", Acc: 0.987, CheckAcc: 0.987,
			Weights: &ObjectRef{Name: name, Size: int64(len(enc)), SHA256: sha(enc)}})
		if _, err := r.ev.b.results.Create(ctx, id, res); err != nil {
			t.Error(err)
		}
		time.Sleep(500 * time.Millisecond)
		startWorker(t, r.srv.URL, "EAS_DIST_TEST_THREADS=1")
	}()
	out := collect(t, ctx, r.ev, cloneJobs(jobs))
	if out[0].Err != nil || out[0].Acc == 0.987 {
		t.Fatalf("outcome %+v", out[0])
	}
	if j := journal.String(); !strings.Contains(j, `"verdict":"rejected"`) || !strings.Contains(j, `"worker":"forger"`) || !strings.Contains(j, `"verdict":"ok"`) {
		t.Errorf("journal:\n%s", j)
	}
	if st := r.ev.Status(ctx); st.Rejected != 1 || st.Done != 1 {
		t.Errorf("status %+v", st)
	}
}

// TestDeletedStreamIsAnError: the job stream deleted under a waiting
// driver ends its Evaluate call with an error instead of a hang.
func TestDeletedStreamIsAnError(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: time.Millisecond, Reconcile: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		time.Sleep(500 * time.Millisecond)
		if err := r.ev.b.js.DeleteStream(ctx, JobStream); err != nil {
			t.Error(err)
		}
	}()
	out := collect(t, ctx, r.ev, tinyJobs(t, 2))
	for _, o := range out {
		if o.Err == nil || !strings.Contains(o.Err.Error(), "deleted under the driver") {
			t.Errorf("want the deletion named, got %v", o.Err)
		}
	}
}

// TestPausedWorkerDropsItsTraining: a worker stopped (SIGSTOP) past the
// ack wait loses its job to another; when it resumes it stops training and
// stores nothing, so the job has exactly one result.
func TestPausedWorkerDropsItsTraining(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: 2500 * time.Millisecond, Settings: Settings{AckWait: time.Second, Attempts: 3}})
	a := startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=a")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var b *proc
	go func() {
		a.waitFor(t, "training C(", 20*time.Second)
		a.cmd.Process.Signal(syscall.SIGSTOP)
		b = startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=b")
		b.waitFor(t, "training C(", 20*time.Second)
		a.cmd.Process.Signal(syscall.SIGCONT)
	}()
	jobs := tinyJobs(t, 1)
	out := collect(t, ctx, r.ev, jobs)
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	a.waitFor(t, "lease lost", 10*time.Second)
	time.Sleep(3 * time.Second) // a still-training a would finish by now
	if strings.Contains(a.output(), "accuracy") || strings.Contains(a.output(), "result") {
		t.Errorf("the paused worker went on:\n%s", a.output())
	}
}

// TestSlowUploadKeepsTheLease: a result whose upload takes three ack
// waits is not redelivered meanwhile (progress acknowledgements run until
// the upload ends).
func TestSlowUploadKeepsTheLease(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: 100 * time.Millisecond, Settings: Settings{AckWait: time.Second, Attempts: 3}})
	a := startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=a", "EAS_DIST_TEST_UPLOAD_DELAY=3s")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		a.waitFor(t, "training C(", 20*time.Second)
		startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=b")
	}()
	out := collect(t, ctx, r.ev, tinyJobs(t, 1))
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	if st := r.ev.Status(ctx); st.Retried != 0 {
		t.Errorf("the job was retried during the upload: %+v", st)
	}
}

// TestGiveUpWhileTheDriverIsAway: the driver disconnects; the job's last
// attempt dies, a dead delivery follows; the failure is recorded durably by
// the next worker and a returning driver finds it instead of waiting
// forever.
func TestGiveUpWhileTheDriverIsAway(t *testing.T) {
	dir := t.TempDir()
	opt := Options{VirtualDelay: 5 * time.Second, Settings: Settings{AckWait: time.Second, Attempts: 1}, Reconcile: 300 * time.Millisecond}
	r := startRun(t, dir, 0, opt)
	jobs := tinyJobs(t, 1)
	w := startWorker(t, r.srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		w.waitFor(t, "training C(", 20*time.Second)
		w.kill()
		cancel()
	}()
	collect(t, ctx, r.ev, jobs)
	r.ev.Close() // the driver is gone; its server stays
	// A delivery that is never acknowledged (a client that dies at once).
	cons, err := r.ev.b.js.Consumer(context.Background(), JobStream, consumerName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	startWorker(t, r.srv.URL)
	time.Sleep(2 * time.Second)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	ev2, err := NewEvaluator(ctx2, r.nc, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer ev2.Close()
	out := collect(t, ctx2, ev2, jobs)
	if out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "given up after 1 training attempts") {
		t.Fatalf("want the durable give-up, got %v", out[0].Err)
	}
}

// TestWorkerRoleIsConfined: with the workers' token a client can run jobs
// but not delete the queue, publish jobs, read results or subscribe to
// the driver's replies.
func TestWorkerRoleIsConfined(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: time.Millisecond})
	nc, err := Connect(ClientConfig{URL: r.srv.URL, User: WorkerUser, Password: testToken})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bindBus(ctx, nc)
	if err != nil {
		t.Fatalf("a worker cannot bind the run: %v", err)
	}
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, time.Second)
		t.Cleanup(cancel)
		return c
	}
	if err := b.js.DeleteStream(short(), JobStream); err == nil {
		t.Error("a worker deleted the job stream")
	}
	if err := b.js.DeleteConsumer(short(), JobStream, consumerName); err == nil {
		t.Error("a worker deleted the consumer")
	}
	if _, err := b.js.Publish(short(), jobSubject+strings.Repeat("a", 40), []byte("{}")); err == nil {
		t.Error("a worker published a job")
	}
	id := strings.Repeat("b", 40)
	if _, err := r.ev.b.results.Put(ctx, id, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.results.Get(short(), id); err == nil {
		t.Error("a worker read a result")
	}
	if _, err := r.ev.b.js.Stream(ctx, JobStream); err != nil {
		t.Fatalf("the stream is gone: %v", err)
	}
	if _, err := nc.SubscribeSync(driverInbox + ".>"); err == nil {
		nc.Flush()
		if err := nc.LastError(); err == nil {
			t.Error("a worker subscribed to the driver's replies")
		}
	}
	big := make([]byte, 12<<20) // a data set of this size needs flow control
	if _, err := r.ev.b.inputs.PutBytes(ctx, "data/big", big); err != nil {
		t.Fatal(err)
	}
	if got, err := b.inputs.GetBytes(ctx, "data/big"); err != nil || len(got) != len(big) {
		t.Errorf("a worker cannot read a 12 MB input: %d bytes, %v", len(got), err)
	}
	startWorker(t, r.srv.URL)
	if out := collect(t, ctx, r.ev, tinyJobs(t, 2)); out[0].Err != nil || out[1].Err != nil {
		t.Fatalf("jobs with a worker of the worker role: %+v", out)
	}
}

// interruptExit sends SIGINT to p and returns how long it took to exit.
func interruptExit(t *testing.T, p *proc) time.Duration {
	t.Helper()
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker did not exit 30 s after SIGINT:\n%s", p.output())
	}
	return time.Since(start)
}

// TestInterruptHandsTheJobBack: Ctrl-C on a worker in the middle of a job
// hands it back at once (another worker starts it long before the ack
// wait) and the worker exits within 5 s; also when the server is gone.
func TestInterruptHandsTheJobBack(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: 20 * time.Second, Settings: Settings{AckWait: time.Minute, Attempts: 3}})
	a := startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=a")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	jobs := tinyJobs(t, 1)
	jobs[0].Training.Epochs = 7 // another job than the second part's
	go func() {
		a.waitFor(t, "training C(", 20*time.Second)
		if d := interruptExit(t, a); d > 5*time.Second {
			t.Errorf("exit took %v after SIGINT", d)
		}
		b := startWorker(t, r.srv.URL, "EAS_DIST_TEST_ID=b")
		b.waitFor(t, "training C(", 15*time.Second) // well before the 1-minute ack wait
		cancel()
	}()
	collect(t, ctx, r.ev, jobs)
	// A training that ends while the server is gone: the worker keeps
	// trying to store its result, and Ctrl-C still ends it at once.
	r2 := startRun(t, t.TempDir(), 0, Options{VirtualDelay: time.Second})
	c := startWorker(t, r2.srv.URL, "EAS_DIST_TEST_ID=c")
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go collect(t, ctx2, r2.ev, tinyJobs(t, 1))
	c.waitFor(t, "training C(", 20*time.Second)
	r2.stop() // the driver and its server are gone
	c.waitFor(t, "network 1: accuracy", 20*time.Second)
	time.Sleep(500 * time.Millisecond) // storing the result, against no server
	if d := interruptExit(t, c); d > 5*time.Second {
		t.Errorf("exit took %v after SIGINT with the server gone:\n%s", d, c.output())
	}
}

// TestResultKeptUntilRecorded: a one-job call (start network, final
// training) returns before its caller records the result; a driver that
// crashes right then finds the result on resuming instead of retraining.
// Once recorded (KeepResults later, or at Close), it is purged.
func TestResultKeptUntilRecorded(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: time.Millisecond, KeepResults: 2 * time.Second})
	w := startWorker(t, r.srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jobs := tinyJobs(t, 1)
	if out := collect(t, ctx, r.ev, jobs); out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	w.kill()
	// The driver "crashes": its janitor stops without purging anything; a
	// new evaluator replays the call with no worker connected.
	close(r.ev.stopped)
	ev2, err := NewEvaluator(ctx, r.nc, Options{VirtualDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ev2.Close()
	short, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if out := collect(t, short, ev2, jobs); out[0].Err != nil {
		t.Fatalf("the resumed driver did not find the result: %v", out[0].Err)
	}
	p, _ := r.ev.prepare(jobs[0])
	time.Sleep(4 * time.Second)
	if _, err := r.ev.b.results.Get(ctx, p.msg.ID); err != nil {
		t.Fatalf("purged while the second call's caller may not have recorded it yet: %v", err)
	}
	ev2.Close()
	if _, err := r.ev.b.results.Get(ctx, p.msg.ID); err == nil {
		t.Error("still there after Close")
	}
}
