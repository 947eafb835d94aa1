package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
)

// errLeaseLost: this worker went silent for longer than the ack wait
// (paused, disconnected) or another delivery took the job's attempt; the
// job belongs to another delivery now.
var errLeaseLost = errors.New("lease lost: the job was redelivered to another worker")

// delivery is one job in this worker's hands.
type delivery struct {
	msg     jetstream.Msg
	id      string // job id (from the subject until the message is decoded)
	name    string // worker-sequence-count: names this delivery's objects
	label   string
	lease   *lease
	attempt int
}

// handle serves one delivered job: checks it can reproduce it (refusing
// it otherwise), claims a training attempt, trains, and stores the result
// if no other delivery stored one first. Progress acknowledgements run
// from receipt to the end of the upload.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg, trained func()) {
	d := &delivery{msg: msg, id: strings.TrimPrefix(msg.Subject(), jobSubject)}
	d.name = w.ID
	if md, err := msg.Metadata(); err == nil {
		d.name = fmt.Sprintf("%s-%d-%d", w.ID, md.Sequence.Stream, md.NumDelivered)
	}
	d.lease = keepLease(ctx, msg, w.ackWait)
	defer d.lease.stop()
	job, arch, err := DecodeJob(msg.Data(), w.ParseArch)
	if err != nil {
		w.malformed(d, err)
		return
	}
	d.label = job.Label
	if d.label == "" {
		d.label = job.ID[:8]
	}
	if job.Engine != "" && job.Engine != w.build.Engine {
		w.refuse(msg, d.id, "engine "+job.Engine, fmt.Errorf("the job needs engine %q, this worker runs %q", job.Engine, w.build.Engine))
		return
	}
	in, ok := w.prepare(d, job, arch)
	if !ok {
		return
	}
	defer w.release(in.mem)
	if !w.claim(d) {
		return
	}
	w.logf("%s: training %s (attempt %d, delivery %s)", d.label, job.Arch, d.attempt, d.name)
	w.setRunning(d.label, true)
	start := time.Now()
	res, enc := w.run(d, job, arch, in)
	w.setRunning(d.label, false)
	trained()
	res.Seconds = time.Since(start).Seconds()
	w.mu.Lock()
	w.info.BusySeconds += res.Seconds
	w.mu.Unlock()
	if ctx.Err() != nil { // this worker is stopping: hand the job to another now
		msg.Nak()
		w.logf("%s: handed back (worker stopping)", d.label)
		return
	}
	if d.lease.lost() {
		w.logf("%s: %v; dropped this training", d.label, errLeaseLost)
		return
	}
	w.finish(ctx, d, res, enc)
}

// malformed handles a job message this worker cannot read: one from a
// newer protocol is refused (another worker may read it); a broken one is
// recorded as failed, since no worker could run it.
func (w *Worker) malformed(d *delivery, err error) {
	if errors.Is(err, ErrVersion) || strings.Contains(err.Error(), "unknown field") {
		w.refuse(d.msg, d.id, "protocol", fmt.Errorf("%v (this easrun: %s)", err, w.build))
		return
	}
	w.logf("malformed job (subject %s, %d bytes): %v", d.msg.Subject(), len(d.msg.Data()), err)
	if !validID(d.id) {
		d.msg.TermWithReason("malformed job message")
		return
	}
	w.finish(context.Background(), d, ResultMsg{ID: d.id, Error: "malformed job message: " + err.Error()}, nil)
}

// inputs are what a training needs, fetched before its attempt is claimed.
type inputs struct {
	ds      *Dataset
	weights tensor.Map
	mem     int64
}

// prepare gets the data and the start weights and reserves memory; a
// worker that cannot refuses the job (false).
func (w *Worker) prepare(d *delivery, job JobMsg, arch ir.Arch) (inputs, bool) {
	var in inputs
	var err error
	ctx := d.lease.ctx
	if job.Data != nil && job.VirtualMS == 0 {
		if in.ds, err = w.dataset(ctx, job.Data); err != nil {
			kind := ""
			if errors.Is(err, errFingerprint) {
				kind = "data " + job.Data.Fingerprint[:12]
			}
			w.refuse(d.msg, d.id, kind, err)
			return in, false
		}
	}
	if in.weights, err = w.weights(ctx, job, arch); err != nil {
		w.refuse(d.msg, d.id, "", err)
		return in, false
	}
	if job.Data != nil && job.VirtualMS == 0 {
		if in.mem, err = w.reserve(arch, job); err != nil {
			kind := ""
			if errors.Is(err, errTooBig) {
				kind = "memory"
			}
			w.refuse(d.msg, d.id, kind, err)
			return in, false
		}
	}
	return in, true
}

// claim counts a training attempt (compare-and-set on the attempts
// bucket, which also names the delivery that owns the job now). A job
// whose attempts are used up is recorded as failed here, durably: the
// driver finds the record whenever it comes back.
func (w *Worker) claim(d *delivery) bool {
	ctx := d.lease.ctx
	for try := 0; try < 10; try++ {
		n, rev, last := 0, uint64(0), ""
		if e, err := w.b.attempts.Get(ctx, d.id); err == nil {
			if a, err := decodeAttempts(e.Value()); err == nil {
				n, last = a.N, a.Owner
			} else {
				w.logf("%s: %v (counting from 0)", d.label, err)
			}
			rev = e.Revision()
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			w.refuse(d.msg, d.id, "", fmt.Errorf("reading the job's attempts: %w", err))
			return false
		}
		if n >= w.attempts {
			w.giveUp(d, n, last)
			return false
		}
		b, _ := json.Marshal(attemptRec{N: n + 1, Owner: d.name})
		var err error
		if rev == 0 {
			_, err = w.b.attempts.Create(ctx, d.id, b)
		} else {
			_, err = w.b.attempts.Update(ctx, d.id, b, rev)
		}
		if err == nil {
			d.attempt = n + 1
			return true
		}
	}
	w.refuse(d.msg, d.id, "", errors.New("could not count the training attempt (contention)"))
	return false
}

// attemptRec is the attempts bucket's value for a job.
type attemptRec struct {
	N     int    `json:"n"`
	Owner string `json:"owner"` // the delivery holding the latest attempt
}

func (w *Worker) giveUp(d *delivery, n int, last string) {
	reason := fmt.Sprintf("given up after %d training attempts: the workers that took it (last %s) stopped before finishing (killed, crashed, out of memory or lost their lease)", n, last)
	nctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if e, err := w.b.notes.Get(nctx, d.id); err == nil {
		reason += "; last problem: " + string(e.Value())
	}
	cancel()
	w.logf("%s: %s", d.label, reason)
	w.finish(context.Background(), d, ResultMsg{ID: d.id, Error: reason, GivenUp: true, Attempt: n}, nil)
}

// owner reports whether this delivery still holds the job's latest
// attempt (a paused worker resuming finds another's name there).
func (w *Worker) owner(d *delivery) bool {
	ctx, cancel := context.WithTimeout(d.lease.ctx, 5*time.Second)
	defer cancel()
	e, err := w.b.attempts.Get(ctx, d.id)
	if err != nil {
		return true // cannot tell: the result's create decides
	}
	a, err := decodeAttempts(e.Value())
	return err != nil || a.Owner == d.name
}

// decodeAttempts parses an attempts record (any worker can write one).
func decodeAttempts(b []byte) (attemptRec, error) {
	var a attemptRec
	if len(b) > 4096 {
		return a, fmt.Errorf("attempts record of %d bytes", len(b))
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("attempts record: %v", err)
	}
	if a.N < 0 || a.N > 1<<20 || len(a.Owner) > 300 {
		return a, fmt.Errorf("attempts record out of range: %d attempts, owner of %d bytes", a.N, len(a.Owner))
	}
	return a, nil
}

// run trains the job within its time limit and encodes the weights.
func (w *Worker) run(d *delivery, job JobMsg, arch ir.Arch, in inputs) (ResultMsg, []byte) {
	ctx := d.lease.ctx
	if job.TimeoutS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(job.TimeoutS*float64(time.Second)))
		defer cancel()
	}
	res := ResultMsg{ID: d.id, Attempt: d.attempt}
	acc, check, err := w.train(ctx, d, job, arch, in.ds, in.weights)
	switch {
	case errors.Is(err, context.DeadlineExceeded) && d.lease.ctx.Err() == nil:
		res.Error = fmt.Sprintf("training exceeded the job time limit of %v (--job-timeout)", time.Duration(job.TimeoutS*float64(time.Second)))
	case err != nil:
		res.Error = err.Error()
	}
	if res.Error != "" {
		w.logf("%s: failed: %v", d.label, firstLine(res.Error))
		return res, nil
	}
	res.Acc, res.CheckAcc = acc, check
	enc, err := checkpoint.Encode(arch, job.Input, in.weights, nil)
	if err != nil {
		res.Error = "encoding the trained weights: " + err.Error()
		return res, nil
	}
	w.logf("%s: accuracy %.4f (check %.4f)", d.label, acc, check)
	return res, enc
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// finish stores the result (weights first, under this delivery's name)
// unless another delivery's result is there already, then acknowledges the
// job. It retries while the server is unreachable (a driver restarting),
// so a finished training is not lost, and hands the job back when the
// worker stops.
func (w *Worker) finish(ctx context.Context, d *delivery, res ResultMsg, weights []byte) {
	res.Version, res.Worker, res.Delivery, res.Build = Version, w.ID, d.name, w.build
	for try := 0; ; try++ {
		if ctx.Err() != nil { // the worker is stopping
			d.msg.Nak()
			return
		}
		if d.lease.lost() || (weights != nil && !w.owner(d)) {
			w.logf("%s: %v; result dropped", d.label, errLeaseLost)
			return
		}
		won, err := w.publish(d, res, weights)
		if err == nil {
			w.count(res, won)
			actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			d.msg.DoubleAck(actx)
			cancel()
			return
		}
		if try == 0 || try%30 == 0 {
			w.logf("%s: storing the result: %v (retrying)", d.label, err)
		}
		if try > 600 || !sleepCtx(ctx, time.Second) {
			d.msg.Nak()
			return
		}
	}
}

func (w *Worker) count(res ResultMsg, won bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case !won:
	case res.Error == "":
		w.info.Done++
	default:
		w.info.Failed++
	}
}

// publish puts the weights and creates the result; won is false when
// another delivery's result was there first (this one's weights are then
// removed).
func (w *Worker) publish(d *delivery, res ResultMsg, weights []byte) (won bool, err error) {
	ctx, cancel := context.WithTimeout(d.lease.ctx, 10*time.Minute)
	defer cancel()
	if w.uploadDelay > 0 && !sleepCtx(ctx, w.uploadDelay) {
		return false, ctx.Err()
	}
	name := "out/" + d.id + "/" + d.name
	if weights != nil {
		if _, err := w.b.outputs.PutBytes(ctx, name, weights); err != nil {
			return false, err
		}
		res.Weights = &ObjectRef{Name: name, Size: int64(len(weights)), SHA256: sha(weights)}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return false, err
	}
	if _, err = w.b.results.Create(ctx, d.id, b); errors.Is(err, jetstream.ErrKeyExists) {
		w.logf("%s: another delivery's result was stored first; this one is dropped", d.label)
		if weights != nil {
			w.b.outputs.Delete(ctx, name)
		}
		return false, nil
	}
	return err == nil, err
}

// weights fetches and checks the job's start weights.
func (w *Worker) weights(ctx context.Context, job JobMsg, arch ir.Arch) (tensor.Map, error) {
	b, err := w.b.inputs.GetBytes(ctx, job.Weights.Name)
	if err != nil {
		return nil, fmt.Errorf("fetching weights %s: %w", job.Weights.Name, err)
	}
	if int64(len(b)) != job.Weights.Size || sha(b) != job.Weights.SHA256 {
		return nil, fmt.Errorf("weights %s: %d bytes with another checksum than the job's (%d bytes)", job.Weights.Name, len(b), job.Weights.Size)
	}
	ck, err := checkpoint.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("weights %s: %w", job.Weights.Name, err)
	}
	g, err := ir.Lower(arch, job.Input)
	if err != nil {
		return nil, err
	}
	if err := ck.Verify(g); err != nil {
		return nil, fmt.Errorf("weights %s: %w", job.Weights.Name, err)
	}
	return ck.Weights(), nil
}

// train runs the job as search.Local does (same loaders, same settings), so
// the accuracy equals a local training's for the same seed and engine
// worker count; check is the accuracy on the job's check sample.
func (w *Worker) train(ctx context.Context, d *delivery, job JobMsg, arch ir.Arch, ds *Dataset, weights tensor.Map) (acc, check float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("training panicked: %v\n%s", r, debug.Stack())
		}
	}()
	if job.Data == nil || job.VirtualMS > 0 {
		if !sleepCtx(ctx, time.Duration(job.VirtualMS)*time.Millisecond) {
			return 0, 0, ctx.Err()
		}
		acc = search.VirtualScore(arch, job.Input)
		return acc, acc, nil
	}
	g, err := ir.Lower(arch, job.Input)
	if err != nil {
		return 0, 0, err
	}
	tr := job.Training.Settings()
	src, val := ds.Train(tr.Seed, tr.Batch), ds.Val(256)
	if job.Full {
		src, val = ds.Full(tr.Seed, tr.Batch), ds.Test(256)
	}
	cfg := train.Config{Training: tr, Backend: w.Backend}
	if resumable(g) {
		if d.attempt > 1 {
			cfg.StartEpoch, cfg.OptState = w.resumeFrom(ctx, d.label, job, g, weights)
		}
		cfg.OnEpoch = w.epochSaver(ctx, d.label, d.name, job, g)
	}
	res, err := train.Train(ctx, g, weights, src, val, cfg, func(e train.Event) {
		if e.EndOfEpoch && e.ImagesPerSecond > 0 && !math.IsInf(e.ImagesPerSecond, 0) { // JSON has no Inf
			w.mu.Lock()
			w.info.ImagesPerSec = e.ImagesPerSecond
			w.mu.Unlock()
		}
	})
	if err != nil {
		return 0, 0, err
	}
	if math.IsNaN(res.ValAcc) {
		return 0, 0, train.ErrDiverged
	}
	if job.CheckN > 0 {
		if check, _, err = train.Evaluate(ctx, g, weights, CheckSource(ds, job.Full, job.CheckN), 256, w.Backend); err != nil {
			return 0, 0, err
		}
	}
	return res.ValAcc, check, nil
}
