package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/search"
)

// prepared is a job ready to submit.
type prepared struct {
	msg   JobMsg
	enc   []byte // start weights
	idx   []int  // indices of identical jobs in this call
	start time.Time
	bad   int    // results the driver's check rejected
	note  string // the last refusal shown
	done  bool
	seen  map[uint64]bool // result revisions already examined
}

func (e *Evaluator) prepare(j search.Job) (*prepared, error) {
	enc, err := checkpoint.Encode(j.Arch, j.Input, j.Weights, nil)
	if err != nil {
		return nil, err
	}
	m := JobMsg{Version: Version, Label: fmt.Sprintf("network %d", j.ID), Arch: j.Arch.String(), Input: j.Input,
		Weights: ObjectRef{Size: int64(len(enc)), SHA256: sha(enc)}, Training: WireTraining(j.Training), Full: j.Full,
		Data: e.dataRef, Engine: e.opt.Engine, TimeoutS: e.opt.JobTimeout.Seconds()}
	if j.ID == 0 {
		m.Label = "start network"
	}
	if j.Full {
		m.Label = fmt.Sprintf("final training of network %d", j.ID)
	}
	if e.dataRef == nil {
		m.VirtualMS = max(1, e.opt.VirtualDelay.Milliseconds())
	} else if e.opt.CheckImages > 0 {
		m.CheckN = e.opt.CheckImages
	}
	if m.ID, err = contentID(m); err != nil {
		return nil, err
	}
	m.Weights.Name = "in/" + m.ID
	return &prepared{msg: m, enc: enc, seen: map[uint64]bool{}}, nil
}

// submit registers the waiter, then uses a stored result or queues the job
// unless it is queued already (a resumed driver replaying its episode).
func (e *Evaluator) submit(ctx context.Context, p *prepared, ch chan<- ResultMsg) error {
	id := p.msg.ID
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	e.mu.Unlock()
	if ent, err := e.b.results.Get(ctx, id); err == nil {
		go e.deliver(id, ent.Value(), ent.Revision())
		return nil
	}
	if _, err := e.b.jobs.GetLastMsgForSubject(ctx, jobSubject+id); err == nil {
		e.message("%s: already queued (reattached)", p.msg.Label)
		return nil
	}
	return e.queue(ctx, p)
}

// queue puts the start weights in the input store and the job on the stream.
func (e *Evaluator) queue(ctx context.Context, p *prepared) error {
	if _, err := e.b.inputs.PutBytes(ctx, p.msg.Weights.Name, p.enc); err != nil {
		return fmt.Errorf("putting the weights of %s: %w", p.msg.Label, err)
	}
	b, err := json.Marshal(p.msg)
	if err != nil {
		return err
	}
	if len(b) > MaxMessage {
		return fmt.Errorf("%s: job message of %d bytes exceeds %d", p.msg.Label, len(b), MaxMessage)
	}
	// No Nats-Msg-Id: an identical job may come again after the first one's
	// result was used, and the server's duplicate window would drop it
	// silently. The subject check in submit keeps a resumed driver from
	// queueing twice.
	if _, err := e.b.js.Publish(ctx, jobSubject+p.msg.ID, b); err != nil {
		return fmt.Errorf("queueing %s: %w", p.msg.Label, err)
	}
	return nil
}

// call is the state of one Evaluate call.
type call struct {
	jobs        []search.Job
	out         []search.Outcome
	finished    []bool
	done        func(int, search.Outcome)
	byID        map[string]*prepared
	order       []*prepared
	ch          chan ResultMsg
	outstanding int
}

func (c *call) report(i int, o search.Outcome) {
	c.out[i], c.finished[i] = o, true
	if c.done != nil {
		c.done(i, o)
	}
}

// Evaluate queues the jobs and waits for their results, each checked by
// the driver before it is used; done is called once per job as results
// arrive. Jobs still outstanding when ctx is cancelled stay queued: their
// results are used by a resumed driver.
func (e *Evaluator) Evaluate(ctx context.Context, jobs []search.Job, done func(int, search.Outcome)) []search.Outcome {
	c := &call{jobs: jobs, out: make([]search.Outcome, len(jobs)), finished: make([]bool, len(jobs)), done: done, byID: map[string]*prepared{}}
	for i, j := range jobs {
		p, err := e.prepare(j)
		if err != nil {
			c.report(i, search.Outcome{Err: err})
			continue
		}
		if q, ok := c.byID[p.msg.ID]; ok {
			q.idx = append(q.idx, i)
			continue
		}
		p.idx, p.start = []int{i}, time.Now()
		c.byID[p.msg.ID] = p
		c.order = append(c.order, p)
	}
	c.ch = make(chan ResultMsg, len(c.order)+16)
	e.submitAll(ctx, c)
	defer e.release(c)
	e.wait(ctx, c)
	return c.out
}

// submitAll submits a few at a time so the first jobs are not held behind
// the last ones' uploads.
func (e *Evaluator) submitAll(ctx context.Context, c *call) {
	errs := make([]error, len(c.order))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for k, p := range c.order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[k] = e.submit(ctx, p, c.ch)
		}()
	}
	wg.Wait()
	for k, p := range c.order {
		if errs[k] != nil {
			e.finishJob(c, p, search.Outcome{Err: errs[k]})
			continue
		}
		c.outstanding++
	}
	e.mu.Lock()
	e.stats.Waiting += c.outstanding
	e.mu.Unlock()
}

// release unregisters the call's waiters; results it used are purged
// after KeepResults (its caller records them first).
func (e *Evaluator) release(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range c.order {
		ws := e.waiters[p.msg.ID]
		for i, w := range ws {
			if w == c.ch {
				ws = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(e.waiters, p.msg.ID)
		} else {
			e.waiters[p.msg.ID] = ws
		}
		if !p.done {
			e.stats.Waiting--
		}
	}
	now := time.Now()
	for i := range e.used {
		if c.byID[e.used[i].id] != nil {
			e.used[i].at = now
		}
	}
}

// finishJob reports an outcome to every index of the job.
func (e *Evaluator) finishJob(c *call, p *prepared, o search.Outcome) {
	p.done = true
	for _, i := range p.idx {
		c.report(i, o)
	}
}

// wait collects results until every job has its outcome or ctx ends.
func (e *Evaluator) wait(ctx context.Context, c *call) {
	tick := time.NewTicker(e.opt.StatusEvery)
	defer tick.Stop()
	rec := time.NewTicker(e.opt.Reconcile)
	defer rec.Stop()
	var noWorkerSince, lastWarn time.Time
	for c.outstanding > 0 {
		select {
		case <-ctx.Done():
			for i := range c.out {
				if !c.finished[i] {
					c.out[i] = search.Outcome{Err: ctx.Err()}
				}
			}
			return
		case r := <-c.ch:
			e.result(ctx, c, r)
		case <-rec.C:
			if err := e.reconcile(ctx, c); err != nil {
				e.failAll(c, err)
				return
			}
		case <-tick.C:
			st := e.Status(ctx)
			if len(st.Workers) == 0 {
				if noWorkerSince.IsZero() {
					noWorkerSince = time.Now()
				}
				st.NoWorker = time.Since(noWorkerSince)
				if time.Since(lastWarn) > time.Minute {
					lastWarn = time.Now()
					e.message("no worker connected: waiting (start one with: easrun worker %s)", e.opt.ConnectHint)
				}
			} else {
				noWorkerSince = time.Time{}
			}
			if e.opt.OnStatus != nil {
				e.opt.OnStatus(st)
			}
		}
	}
}

func (e *Evaluator) failAll(c *call, err error) {
	e.message("%v", err)
	for _, p := range c.order {
		if !p.done {
			e.finishJob(c, p, search.Outcome{Err: err})
			c.outstanding--
			e.mu.Lock()
			e.stats.Waiting--
			e.mu.Unlock()
		}
	}
}

// result checks one delivery's result; a rejected one is removed and its
// job queued again, so that another delivery redoes it.
func (e *Evaluator) result(ctx context.Context, c *call, r ResultMsg) {
	p := c.byID[r.ID]
	if p == nil || p.done || p.seen[r.rev] {
		return // a copy of a result already examined (watch, lookup, reconciliation)
	}
	p.seen[r.rev] = true
	o, je, bad := e.verify(ctx, c, p, r)
	e.journal(je)
	if bad != nil {
		e.reject(ctx, c, p, r, bad)
		return
	}
	c.outstanding--
	e.mu.Lock()
	e.stats.Waiting--
	if o.Err != nil {
		e.stats.Failed++
	} else {
		e.stats.Done++
	}
	if r.Attempt > 1 {
		e.stats.Retried++
	}
	obj := ""
	if r.Weights != nil {
		obj = r.Weights.Name
	}
	e.used = append(e.used, usedResult{id: r.ID, obj: obj, at: time.Now().Add(time.Hour)}) // reset when the call returns
	e.mu.Unlock()
	e.finishJob(c, p, o)
	e.cleanup(r.ID)
}

// reject removes a bad result and queues its job again (up to Attempts
// rejections, then the job fails with the reason).
func (e *Evaluator) reject(ctx context.Context, c *call, p *prepared, r ResultMsg, bad error) {
	p.bad++
	e.mu.Lock()
	e.stats.Rejected++
	e.mu.Unlock()
	e.message("%s: rejected the result of delivery %s (worker %s): %v", p.msg.Label, r.Delivery, r.Worker, bad)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if r.Weights != nil {
		e.b.outputs.Delete(dctx, r.Weights.Name)
	}
	e.dropResult(dctx, r.ID)
	if p.bad >= e.opt.Attempts {
		err := fmt.Errorf("%d results rejected by the driver's check; last: %v (worker %s)", p.bad, bad, r.Worker)
		c.outstanding--
		e.mu.Lock()
		e.stats.Waiting--
		e.stats.Failed++
		e.mu.Unlock()
		e.finishJob(c, p, search.Outcome{Err: err})
		e.cleanup(r.ID)
		return
	}
	if _, err := e.b.jobs.GetLastMsgForSubject(dctx, jobSubject+p.msg.ID); err == nil {
		return // still queued: another delivery is on it
	}
	if err := e.queue(dctx, p); err != nil {
		e.message("%s: queueing it again: %v (the next reconciliation retries)", p.msg.Label, err)
	}
}

// cleanup removes a finished job's inputs, attempts and notes; its result
// stays until recorded (see purgeUsed).
func (e *Evaluator) cleanup(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The worker acknowledges its job only after storing the result, so the
	// job may still be in the stream: remove it, or the same job submitted
	// again would be taken for one already queued and never run.
	if m, err := e.b.jobs.GetLastMsgForSubject(ctx, jobSubject+id); err == nil {
		e.b.jobs.DeleteMsg(ctx, m.Sequence)
	}
	e.b.inputs.Delete(ctx, "in/"+id)
	go e.dropCheckpoints(id) // lists the output store: off the result path
	e.b.notes.Delete(ctx, id)
	e.b.attempts.Purge(ctx, id)
}

// reconcile compares the jobs this call waits for with the queue: a
// result the watch missed is used, a job neither queued nor finished is
// queued again, refusals are shown, and a deleted queue is an error.
func (e *Evaluator) reconcile(ctx context.Context, c *call) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := e.b.js.Stream(rctx, JobStream); errors.Is(err, jetstream.ErrStreamNotFound) {
		return errStreamGone
	}
	if _, err := e.b.js.Consumer(rctx, JobStream, consumerName); errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return errStreamGone
	}
	for _, p := range c.order {
		if p.done {
			continue
		}
		id := p.msg.ID
		if ent, err := e.b.results.Get(rctx, id); err == nil {
			go e.deliver(id, ent.Value(), ent.Revision())
			continue
		}
		if _, err := e.b.jobs.GetLastMsgForSubject(rctx, jobSubject+id); errors.Is(err, jetstream.ErrMsgNotFound) {
			if _, err := e.b.results.Get(rctx, id); err == nil {
				continue // finished between the two reads: the next round uses it
			}
			e.message("%s: neither queued nor finished (removed by another client?): queued again", p.msg.Label)
			if err := e.queue(rctx, p); err != nil {
				e.message("%s: queueing it again: %v", p.msg.Label, err)
			}
			continue
		}
		if n, err := e.b.notes.Get(rctx, id); err == nil && string(n.Value()) != p.note {
			p.note = string(n.Value())
			e.message("%s: waiting for a worker that can run it; %s", p.msg.Label, p.note)
		}
	}
	return nil
}

// dropResult removes every trace of a job's result (no delete marker, so
// a worker's create, which cannot read the bucket, succeeds afterwards).
func (e *Evaluator) dropResult(ctx context.Context, id string) {
	if st, err := e.b.js.Stream(ctx, "KV_"+resultBucket); err == nil {
		st.Purge(ctx, jetstream.WithPurgeSubject("$KV."+resultBucket+"."+id))
	}
}

// dropCheckpoints removes a finished job's epoch checkpoints.
func (e *Evaluator) dropCheckpoints(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	infos, err := e.b.outputs.List(ctx)
	if err != nil {
		return
	}
	for _, in := range infos {
		if strings.HasPrefix(in.Name, resumePrefix(id)) {
			e.b.outputs.Delete(ctx, in.Name)
		}
	}
}
