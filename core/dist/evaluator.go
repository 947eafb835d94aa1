package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eas-go/eas/core/engine"
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
	// Backend evaluates returned weights for the driver's check (nil: the
	// default engine). Engine, when set, is required of workers.
	Backend engine.Backend
	Engine  string
	// CheckImages is the driver's check sample: the first CheckImages
	// images of the scoring set (DefaultCheckImages when 0; negative: no
	// check). CheckTolerance is the largest accepted difference between
	// the worker's and the driver's accuracy on it (DefaultCheckTolerance
	// when 0).
	CheckImages    int
	CheckTolerance float64
	// Journal receives one JSON line per result (accepted, failed or
	// rejected) with the worker's build: the run's provenance record.
	Journal io.Writer
	// KeepResults: results stay in the bucket this long after the
	// Evaluate call that used them returned (the caller records them in
	// between), and until Close. Reconcile is how often the driver
	// compares the jobs it waits for with the queue.
	KeepResults time.Duration
	Reconcile   time.Duration
	// ConnectHint is shown when no worker is connected ("easrun worker --connect ...").
	ConnectHint string
	// OnStatus receives the scheduling state every StatusEvery while jobs
	// are outstanding, and OnMessage notable events.
	OnStatus    func(Status)
	StatusEvery time.Duration
	OnMessage   func(string)
}

// Defaults of the driver's check.
const (
	DefaultCheckImages    = 1000
	DefaultCheckTolerance = 0.02
)

// Status is the scheduling state shown by the driver's progress display.
type Status struct {
	Workers  []WorkerInfo
	Queued   int // waiting for a worker
	Running  int // delivered, not yet acknowledged
	Done     int // results received by this driver
	Failed   int
	Retried  int // results that needed more than one training attempt
	Rejected int // results the driver's check refused
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
	s2 := fmt.Sprintf("workers %d [%s]; jobs queued %d, running %d, done %d, failed %d, retried %d",
		len(s.Workers), strings.Join(ws, ", "), s.Queued, s.Running, s.Done, s.Failed, s.Retried)
	if s.Rejected > 0 {
		s2 += fmt.Sprintf(", rejected %d", s.Rejected)
	}
	return s2
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
	used    []usedResult // results to purge once recorded
	jmu     sync.Mutex   // Journal writes

	watch   jetstream.KeyWatcher
	stopped chan struct{}
}

type usedResult struct {
	id  string
	obj string
	at  time.Time
}

// NewEvaluator creates (or reattaches to) the run's streams on nc and puts
// the data set in the object store unless it is there already.
func NewEvaluator(ctx context.Context, nc *nats.Conn, opt Options) (*Evaluator, error) {
	d := DefaultSettings
	if opt.AckWait <= 0 {
		opt.AckWait = d.AckWait
	}
	if opt.Attempts <= 0 {
		opt.Attempts = d.Attempts
	}
	if opt.JobTimeout < 0 {
		opt.JobTimeout = 0
	}
	if opt.StatusEvery <= 0 {
		opt.StatusEvery = 2 * time.Second
	}
	if opt.Reconcile <= 0 {
		opt.Reconcile = 15 * time.Second
	}
	if opt.KeepResults <= 0 {
		opt.KeepResults = time.Minute
	}
	if opt.CheckImages == 0 {
		opt.CheckImages = DefaultCheckImages
	}
	if opt.CheckTolerance <= 0 {
		opt.CheckTolerance = DefaultCheckTolerance
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
	go e.janitor()
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
	if info, err := e.b.inputs.GetInfo(ctx, name); err == nil && info.Size == uint64(len(b)) {
		return nil // put by an earlier (resumed) driver
	}
	start := time.Now()
	if _, err := e.b.inputs.PutBytes(ctx, name, b); err != nil {
		return fmt.Errorf("putting the data set in the object store: %w", err)
	}
	e.message("data set %s (%.1f MB, fingerprint %.12s) in the run's object store for workers without a copy (%v)",
		e.opt.DataName, float64(len(b))/1e6, fp, time.Since(start).Round(time.Millisecond))
	return nil
}

// Close stops watching and purges the results already used (recorded by
// now); the streams stay for a resumed driver.
func (e *Evaluator) Close() {
	select {
	case <-e.stopped:
		return
	default:
	}
	close(e.stopped)
	if e.watch != nil {
		e.watch.Stop()
	}
	e.purgeUsed(time.Now().Add(time.Hour))
}

func (e *Evaluator) watchResults() {
	for ent := range e.watch.Updates() {
		if ent == nil || ent.Operation() != jetstream.KeyValuePut {
			continue
		}
		e.deliver(ent.Key(), ent.Value(), ent.Revision())
	}
}

// deliver hands a result to the calls waiting for its job; results nobody
// waits for (leftovers of an earlier driver) are ignored.
func (e *Evaluator) deliver(key string, val []byte, rev uint64) {
	r, err := DecodeResult(val)
	r.rev = rev
	if err != nil {
		if !validID(key) {
			e.message("ignored a malformed result under key %q: %v", key, err)
			return
		}
		r = ResultMsg{ID: key, Error: "malformed result from a worker: " + err.Error(), Delivery: "malformed"}
		r.Version = -1 // marks it for rejection, not as the job's failure
	}
	if r.ID != key {
		e.message("ignored result %s stored under another job's key %s", r.ID, key)
		return
	}
	e.mu.Lock()
	chs := append([]chan<- ResultMsg(nil), e.waiters[key]...)
	e.mu.Unlock()
	for _, ch := range chs {
		ch <- r
	}
}

// janitor purges used results once their callers have recorded them.
func (e *Evaluator) janitor() {
	t := time.NewTicker(max(e.opt.KeepResults/2, time.Second))
	defer t.Stop()
	for {
		select {
		case <-e.stopped:
			return
		case <-t.C:
			e.purgeUsed(time.Now().Add(-e.opt.KeepResults))
		}
	}
}

func (e *Evaluator) purgeUsed(before time.Time) {
	e.mu.Lock()
	var now, later []usedResult
	for _, u := range e.used {
		if u.at.Before(before) && len(e.waiters[u.id]) == 0 {
			now = append(now, u)
		} else {
			later = append(later, u)
		}
	}
	e.used = later
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, u := range now {
		e.dropResult(ctx, u.id)
		if u.obj != "" {
			e.b.outputs.Delete(ctx, u.obj)
		}
	}
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
				if w, err := DecodeWorkerInfo(ent.Value()); err == nil {
					st.Workers = append(st.Workers, w)
				}
			}
		}
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].ID < st.Workers[j].ID })
	return st
}

// JournalEntry is one line of the run's result journal.
type JournalEntry struct {
	Time      time.Time `json:"time"`
	Job       string    `json:"job"`
	Label     string    `json:"label"`
	Verdict   string    `json:"verdict"` // ok, failed, rejected
	Reason    string    `json:"reason,omitempty"`
	Delivery  string    `json:"delivery,omitempty"`
	Worker    string    `json:"worker,omitempty"`
	Build     *Build    `json:"build,omitempty"`
	Attempt   int       `json:"attempt,omitempty"`
	Seconds   float64   `json:"seconds"`
	Acc       float64   `json:"acc"`                  // the worker's claim
	CheckAcc  float64   `json:"check_acc"`            // the worker's, on the check sample
	DriverAcc *float64  `json:"driver_acc,omitempty"` // the driver's, on the check sample
	CheckN    int       `json:"check_n,omitempty"`
	CheckSecs float64   `json:"check_seconds,omitempty"`
}

func (e *Evaluator) journal(j JournalEntry) {
	if e.opt.Journal == nil {
		return
	}
	j.Time = time.Now().UTC()
	b, err := json.Marshal(j)
	if err != nil {
		return
	}
	e.jmu.Lock()
	defer e.jmu.Unlock()
	e.opt.Journal.Write(append(b, '\n'))
}

// errStreamGone: the run's job stream or consumer vanished under the driver.
var errStreamGone = errors.New("the run's job queue was deleted under the driver (by another client?); its jobs are lost: resume the run to queue them again")
