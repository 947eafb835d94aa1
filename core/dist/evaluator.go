package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/search"
)

// Options configure an Evaluator.
type Options struct {
	Settings
	// Data is the split the searches use and DataName/DataKind its name and
	// data.Open kind; nil Data makes virtual jobs (VirtualDelay each).
	Data         *Dataset
	DataName     string
	DataKind     string
	Split        SplitSpec
	VirtualDelay time.Duration
	// ConnectHint is shown when no worker is connected ("easrun worker --connect ...").
	ConnectHint string
	// OnStatus receives the scheduling state every StatusEvery while jobs
	// are outstanding, and OnMessage notable events.
	OnStatus    func(Status)
	StatusEvery time.Duration
	OnMessage   func(string)
}

// Status is the scheduling state shown by the driver's progress display.
type Status struct {
	Workers  []WorkerInfo
	Queued   int // waiting for a worker
	Running  int // delivered, not yet acknowledged
	Done     int // results received by this driver
	Failed   int
	Retried  int // results that needed more than one delivery
	Waiting  int // jobs this driver is waiting for
	NoWorker time.Duration
}

// String is a one-line summary.
func (s Status) String() string {
	var ws []string
	for _, w := range s.Workers {
		t := fmt.Sprintf("%s %d/%d", w.ID, len(w.Running), w.Slots)
		if w.ImagesPerSec > 0 {
			t += fmt.Sprintf(" %.0f img/s", w.ImagesPerSec)
		}
		if h := time.Since(w.Since).Hours(); w.Done > 0 && h > 0 {
			t += fmt.Sprintf(" %.1f jobs/h", float64(w.Done)/h)
		}
		ws = append(ws, t)
	}
	return fmt.Sprintf("workers %d [%s]; jobs queued %d, running %d, done %d, failed %d, retried %d",
		len(s.Workers), strings.Join(ws, ", "), s.Queued, s.Running, s.Done, s.Failed, s.Retried)
}

// Evaluator is a search.Evaluator whose jobs run on workers.
type Evaluator struct {
	opt Options
	b   *bus
	nc  *nats.Conn

	dataRef *DataRef

	mu      sync.Mutex
	waiters map[string][]chan<- ResultMsg // one per Evaluate call waiting
	stats   Status

	watch   jetstream.KeyWatcher
	advSub  *nats.Subscription
	stopped chan struct{}
}

// NewEvaluator creates (or reattaches to) the run's streams on nc and puts
// the data set in the object store unless it is there already.
func NewEvaluator(ctx context.Context, nc *nats.Conn, opt Options) (*Evaluator, error) {
	if opt.AckWait <= 0 {
		opt.AckWait = DefaultSettings.AckWait
	}
	if opt.Attempts <= 0 {
		opt.Attempts = DefaultSettings.Attempts
	}
	if opt.StatusEvery <= 0 {
		opt.StatusEvery = 2 * time.Second
	}
	b, err := ensureBus(ctx, nc, opt.Settings)
	if err != nil {
		return nil, err
	}
	e := &Evaluator{opt: opt, b: b, nc: nc, waiters: map[string][]chan<- ResultMsg{}, stopped: make(chan struct{})}
	if opt.Data != nil {
		if err := e.putData(ctx); err != nil {
			return nil, err
		}
	}
	// Results that arrive from now on; older ones are looked up per job.
	e.watch, err = b.results.WatchAll(context.Background(), jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("watching results: %w", err)
	}
	go e.watchResults()
	e.advSub, err = nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+JobStream+"."+consumerName, e.maxDeliveries)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// DataRef is the run's data set reference (nil for virtual runs).
func (e *Evaluator) DataRef() *DataRef { return e.dataRef }

func (e *Evaluator) message(f string, a ...any) {
	if e.opt.OnMessage != nil {
		e.opt.OnMessage(fmt.Sprintf(f, a...))
	}
}

func (e *Evaluator) putData(ctx context.Context) error {
	b, err := EncodeDataset(e.opt.Data)
	if err != nil {
		return err
	}
	fp := sha(b)
	name := "data/" + fp
	e.dataRef = &DataRef{Name: e.opt.DataName, Kind: e.opt.DataKind, Fingerprint: fp, Split: e.opt.Split,
		Object: ObjectRef{Name: name, Size: int64(len(b)), SHA256: fp}}
	if info, err := e.b.objects.GetInfo(ctx, name); err == nil && info.Size == uint64(len(b)) {
		return nil // put by an earlier (resumed) driver
	}
	start := time.Now()
	if _, err := e.b.objects.PutBytes(ctx, name, b); err != nil {
		return fmt.Errorf("putting the data set in the object store: %w", err)
	}
	e.message("data set %s (%.1f MB, fingerprint %.12s) in the run's object store for workers without a copy (%v)",
		e.opt.DataName, float64(len(b))/1e6, fp, time.Since(start).Round(time.Millisecond))
	return nil
}

// Close stops watching; the streams stay for a resumed driver.
func (e *Evaluator) Close() {
	if e.watch != nil {
		e.watch.Stop()
	}
	if e.advSub != nil {
		e.advSub.Unsubscribe()
	}
}

func (e *Evaluator) watchResults() {
	for ent := range e.watch.Updates() {
		if ent == nil || ent.Operation() != jetstream.KeyValuePut {
			continue
		}
		e.deliver(ent.Key(), ent.Value())
	}
}

// deliver hands a result to the job waiting for it; results nobody waits
// for (duplicates, leftovers of an earlier driver) are ignored.
func (e *Evaluator) deliver(key string, val []byte) {
	r, err := DecodeResult(val)
	if err != nil {
		if !validID(key) {
			e.message("ignored a malformed result under key %q: %v", key, err)
			return
		}
		r = ResultMsg{ID: key, Error: "malformed result from a worker: " + err.Error()}
	}
	if r.ID != key {
		e.message("ignored result %s stored under another job's key %s", r.ID, key)
		return
	}
	e.mu.Lock()
	chs := e.waiters[key]
	delete(e.waiters, key)
	e.mu.Unlock()
	for _, ch := range chs {
		ch <- r
	}
}

// maxDeliveries handles the server's advisory for a job whose last allowed
// delivery was not acknowledged either (its worker died before recording
// the failure): the failure is recorded here.
func (e *Evaluator) maxDeliveries(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries int    `json:"deliveries"`
	}
	if json.Unmarshal(m.Data, &adv) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := e.b.jobs.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return
	}
	id := strings.TrimPrefix(raw.Subject, jobSubject)
	if !validID(id) {
		return
	}
	r := ResultMsg{Version: Version, ID: id, Deliveries: adv.Deliveries,
		Error: fmt.Sprintf("given up after %d deliveries: the workers that took it stopped before finishing", adv.Deliveries)}
	if n, err := e.b.notes.Get(ctx, id); err == nil {
		r.Error += "; last problem: " + string(n.Value())
	}
	b, err := json.Marshal(r)
	if err != nil { // cannot happen for these fields; never store an empty result
		return
	}
	if _, err := e.b.results.Create(ctx, id, b); err == nil || errors.Is(err, jetstream.ErrKeyExists) {
		e.b.jobs.DeleteMsg(ctx, adv.StreamSeq)
	}
}

// prepared is a job ready to submit.
type prepared struct {
	msg   JobMsg
	enc   []byte // start weights
	idx   []int  // indices of identical jobs in this call
	start time.Time
}

func (e *Evaluator) prepare(j search.Job) (*prepared, error) {
	enc, err := checkpoint.Encode(j.Arch, j.Input, j.Weights, nil)
	if err != nil {
		return nil, err
	}
	m := JobMsg{Version: Version, Label: fmt.Sprintf("network %d", j.ID), Arch: j.Arch.String(), Input: j.Input,
		Weights: ObjectRef{Size: int64(len(enc)), SHA256: sha(enc)}, Training: j.Training, Full: j.Full, Data: e.dataRef}
	if j.ID == 0 {
		m.Label = "start network"
	}
	if j.Full {
		m.Label = fmt.Sprintf("final training of network %d", j.ID)
	}
	if e.dataRef == nil {
		m.VirtualMS = max(1, e.opt.VirtualDelay.Milliseconds())
	}
	if m.ID, err = contentID(m); err != nil {
		return nil, err
	}
	m.Weights.Name = "in/" + m.ID
	return &prepared{msg: m, enc: enc}, nil
}

// submit registers the waiter, then uses a stored result or queues the job
// unless it is queued already (a resumed driver replaying its episode).
func (e *Evaluator) submit(ctx context.Context, p *prepared, ch chan<- ResultMsg) error {
	id := p.msg.ID
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	e.mu.Unlock()
	if ent, err := e.b.results.Get(ctx, id); err == nil {
		e.deliver(id, ent.Value())
		return nil
	}
	if _, err := e.b.jobs.GetLastMsgForSubject(ctx, jobSubject+id); err == nil {
		e.message("%s: already queued (reattached)", p.msg.Label)
		return nil
	}
	if _, err := e.b.objects.PutBytes(ctx, p.msg.Weights.Name, p.enc); err != nil {
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
	// result was used (two searches with one seed grow the same child), and
	// the server's duplicate window would drop it silently. The subject
	// check above is what keeps a resumed driver from queueing twice.
	if _, err := e.b.js.Publish(ctx, jobSubject+id, b); err != nil {
		return fmt.Errorf("queueing %s: %w", p.msg.Label, err)
	}
	return nil
}

// Evaluate queues the jobs and waits for their results; done is called once
// per job as results arrive. Jobs still outstanding when ctx is cancelled
// stay queued: their results are used by a resumed driver.
func (e *Evaluator) Evaluate(ctx context.Context, jobs []search.Job, done func(int, search.Outcome)) []search.Outcome {
	out := make([]search.Outcome, len(jobs))
	finished := make([]bool, len(jobs))
	report := func(i int, o search.Outcome) {
		out[i], finished[i] = o, true
		if done != nil {
			done(i, o)
		}
	}
	byID := map[string]*prepared{}
	var order []*prepared
	for i, j := range jobs {
		p, err := e.prepare(j)
		if err != nil {
			report(i, search.Outcome{Err: err})
			continue
		}
		if q, ok := byID[p.msg.ID]; ok {
			q.idx = append(q.idx, i)
			continue
		}
		p.idx, p.start = []int{i}, time.Now()
		byID[p.msg.ID] = p
		order = append(order, p)
	}
	ch := make(chan ResultMsg, len(order))
	// Submissions (weights upload, checks, publish) run a few at a time so
	// the first jobs are not held behind the last ones' uploads.
	errs := make([]error, len(order))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for k, p := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[k] = e.submit(ctx, p, ch)
		}()
	}
	wg.Wait()
	outstanding := 0
	for k, p := range order {
		if errs[k] != nil {
			e.unwait(p.msg.ID, ch)
			for _, i := range p.idx {
				report(i, search.Outcome{Err: errs[k]})
			}
			continue
		}
		outstanding++
	}
	e.mu.Lock()
	e.stats.Waiting += outstanding
	e.mu.Unlock()
	tick := time.NewTicker(e.opt.StatusEvery)
	defer tick.Stop()
	var noWorkerSince time.Time
	lastWarn := time.Time{}
	for outstanding > 0 {
		select {
		case <-ctx.Done():
			for _, p := range order {
				e.unwait(p.msg.ID, ch)
			}
			for i := range out {
				if !finished[i] {
					out[i] = search.Outcome{Err: ctx.Err()}
				}
			}
			e.mu.Lock()
			e.stats.Waiting -= outstanding
			e.mu.Unlock()
			return out
		case r := <-ch:
			outstanding--
			p := byID[r.ID]
			e.record(r)
			for _, i := range p.idx {
				report(i, e.outcome(ctx, jobs[i], r))
			}
			e.cleanup(r.ID)
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
	return out
}

func (e *Evaluator) unwait(id string, ch chan<- ResultMsg) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ws := e.waiters[id]
	for i, c := range ws {
		if c == ch {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(e.waiters, id)
	} else {
		e.waiters[id] = ws
	}
}

func (e *Evaluator) record(r ResultMsg) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Waiting--
	if r.Error != "" {
		e.stats.Failed++
	} else {
		e.stats.Done++
	}
	if r.Deliveries > 1 {
		e.stats.Retried++
	}
}

// outcome turns a result into the job's outcome, copying the trained
// weights into the job's own tensors as the local evaluator trains them in
// place.
func (e *Evaluator) outcome(ctx context.Context, j search.Job, r ResultMsg) search.Outcome {
	o := search.Outcome{Duration: time.Duration(r.Seconds * float64(time.Second))}
	if r.Error != "" {
		o.Err = fmt.Errorf("%s (worker %s)", r.Error, r.Worker)
		return o
	}
	if r.Weights == nil {
		o.Err = fmt.Errorf("worker %s sent no weights", r.Worker)
		return o
	}
	b, err := e.b.objects.GetBytes(ctx, r.Weights.Name)
	if err == nil && (int64(len(b)) != r.Weights.Size || sha(b) != r.Weights.SHA256) {
		err = errors.New("size or checksum differs from the result's")
	}
	var ck *checkpoint.Checkpoint
	if err == nil {
		ck, err = checkpoint.Parse(b)
	}
	if err == nil && ck.ArchString != j.Arch.String() {
		err = fmt.Errorf("weights are of %s, the job trained %s", ck.ArchString, j.Arch)
	}
	if err == nil {
		err = copyInto(j, ck)
	}
	if err != nil {
		o.Err = fmt.Errorf("trained weights from worker %s: %w", r.Worker, err)
		return o
	}
	o.Acc, o.Weights = r.Acc, j.Weights
	return o
}

func copyInto(j search.Job, ck *checkpoint.Checkpoint) error {
	names := j.Weights.Names()
	sort.Strings(names)
	for _, n := range names {
		t, ok := ck.Params[n]
		if !ok || !t.SameShape(j.Weights[n].Shape) {
			return fmt.Errorf("tensor %s missing or misshaped", n)
		}
	}
	for _, n := range names {
		copy(j.Weights[n].Data, ck.Params[n].Data)
	}
	return nil
}

// cleanup removes a used result's objects; its record is durable by now.
func (e *Evaluator) cleanup(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The worker acknowledges its job only after storing the result, so the
	// job may still be in the stream: remove it, or the same job submitted
	// again would be taken for one already queued and never run.
	if m, err := e.b.jobs.GetLastMsgForSubject(ctx, jobSubject+id); err == nil {
		e.b.jobs.DeleteMsg(ctx, m.Sequence)
	}
	e.b.objects.Delete(ctx, "in/"+id)
	e.b.objects.Delete(ctx, "out/"+id)
	e.b.notes.Delete(ctx, id)
	e.b.results.Purge(ctx, id)
}

// Status reads the scheduling state (workers, queue) from the server.
func (e *Evaluator) Status(ctx context.Context) Status {
	e.mu.Lock()
	st := e.stats
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if ci, err := e.b.cons.Info(ctx); err == nil {
		st.Queued, st.Running = int(ci.NumPending), ci.NumAckPending
	}
	if keys, err := e.b.workers.ListKeys(ctx); err == nil {
		for k := range keys.Keys() {
			if ent, err := e.b.workers.Get(ctx, k); err == nil {
				var w WorkerInfo
				if json.Unmarshal(ent.Value(), &w) == nil {
					st.Workers = append(st.Workers, w)
				}
			}
		}
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].ID < st.Workers[j].ID })
	return st
}
