package dist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eas-go/eas/core/engine"
)

// Worker pulls jobs from a run and trains them, Slots at a time.
type Worker struct {
	NC    *nats.Conn
	ID    string // unique among the run's workers; default host-pid
	Slots int
	// Backend trains the networks (nil: the default engine with default
	// options); Threads is its worker count, shown to the driver.
	Backend engine.Backend
	Threads int
	// Data maps a data set's name to a local copy (data.Open path); it is
	// used only when its split has the run's fingerprint.
	Data map[string]string
	// CacheDir keeps data sets fetched from runs ("" = no disk cache).
	CacheDir string
	Log      func(string)
	// ParseArch reads the jobs' architecture strings (required; the CLI
	// passes the DSL's parser).
	ParseArch ArchParser
	// Device is where the engine runs ("cpu" when empty), reported with
	// every result.
	Device string
	// MemoryLimit bounds the estimated training memory of all slots
	// together (0: train.MemoryLimit, the machine's available memory).
	MemoryLimit int64
	// CheckpointEvery: a training uploads its state (for a redelivery to
	// resume from) at most this often (0: DefaultCheckpointEvery; < 0:
	// never).
	CheckpointEvery time.Duration
	// uploadDelay holds each result's upload, epochDelay each epoch
	// (tests of slow uploads, of resumed trainings).
	uploadDelay, epochDelay time.Duration

	mu       sync.Mutex
	info     WorkerInfo
	datasets map[string]*dataEntry
	local    map[string]*localEntry
	b        *bus
	ackWait  time.Duration
	attempts int
	build    Build
	inUse    int64               // estimated memory of the trainings in progress
	refused  map[string]*refusal // kinds of job this worker cannot serve
	pause    time.Time           // no pulling before this
}

type dataEntry struct {
	once sync.Once
	d    *Dataset
	err  error
}

type localEntry struct {
	once sync.Once
	d    *Dataset
	fp   string
	err  error
}

func (w *Worker) logf(f string, a ...any) {
	if w.Log != nil {
		w.Log(fmt.Sprintf(f, a...))
	}
}

// DefaultWorkerID is host-pid, made safe for a bucket key. Without a host
// name, pids of different machines could collide, so a random tag stands in.
func DefaultWorkerID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		var r [4]byte
		rand.Read(r[:]) // never fails (crypto/rand)
		h = "host" + hex.EncodeToString(r[:])
	}
	return keySafe(fmt.Sprintf("%s-%d", h, os.Getpid()))
}

func keySafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// Run works until ctx is cancelled. Jobs in hand when it is are handed
// back to the queue at once; Run returns within a few seconds whatever the
// server's state.
func (w *Worker) Run(ctx context.Context) error {
	if w.ParseArch == nil {
		return errors.New("dist: Worker.ParseArch is not set")
	}
	if w.ID == "" {
		w.ID = DefaultWorkerID()
	}
	w.ID = keySafe(w.ID)
	w.Slots = max(1, w.Slots)
	w.datasets, w.local, w.refused = map[string]*dataEntry{}, map[string]*localEntry{}, map[string]*refusal{}
	h, err := os.Hostname()
	if err != nil {
		h = "unknown" // shown in status only; the ID identifies the worker
		w.logf("host name: %v", err)
	}
	w.build = ThisBuild(w.Backend, w.Device, w.Threads)
	w.info = WorkerInfo{ID: w.ID, Host: h, Build: w.build, Slots: w.Slots, Threads: w.Threads, Since: time.Now().UTC()}
	if !w.bind(ctx) {
		return nil
	}
	ci := w.b.cons.CachedInfo()
	w.ackWait, w.attempts = ci.Config.AckWait, attemptsOf(ci)
	w.logf("worker %s: connected to %s, %d slots; lease %v, %d attempts per job; %s", w.ID, w.NC.ConnectedUrlRedacted(),
		w.Slots, w.ackWait, w.attempts, w.build)
	hbCtx, hbStop := context.WithCancel(context.Background())
	go w.heartbeat(hbCtx)
	defer func() {
		hbStop()
		dctx, cancel := context.WithTimeout(context.Background(), time.Second)
		w.b.workers.Delete(dctx, w.ID)
		cancel()
	}()
	w.pull(ctx)
	return nil
}

// bind waits for the run's resources (a worker may start before its
// driver); false when ctx ended first.
func (w *Worker) bind(ctx context.Context) bool {
	waited := false
	for {
		b, err := bindBus(ctx, w.NC)
		if err == nil {
			w.b = b
			return true
		}
		if !waited {
			w.logf("waiting for a run at %s (%v)", w.NC.ConnectedUrlRedacted(), err)
			waited = true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

// pull fetches jobs while a slot is free, until ctx ends; it waits for
// the jobs in hand, which hand themselves back when ctx ends.
func (w *Worker) pull(ctx context.Context) {
	slots := make(chan struct{}, w.Slots)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		w.mu.Lock()
		wait := time.Until(w.pause)
		w.mu.Unlock()
		if wait > 0 && !sleepCtx(ctx, wait) {
			return
		}
		msg, err := w.b.cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			<-slots
			if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
				sleepCtx(ctx, time.Second) // the server restarted or the run was reset
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The slot frees when the training ends: storing the result
			// overlaps the next job's training.
			var once sync.Once
			release := func() { once.Do(func() { <-slots }) }
			defer release()
			w.handle(ctx, msg, release)
		}()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (w *Worker) heartbeat(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		w.mu.Lock()
		b, err := json.Marshal(w.info)
		w.mu.Unlock()
		if err != nil {
			w.logf("heartbeat: %v", err) // skipped, not sent empty
		} else {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			w.b.workers.Put(pctx, w.ID, b)
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Worker) setRunning(label string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if on {
		w.info.Running = append(w.info.Running, label)
		return
	}
	for i, l := range w.info.Running {
		if l == label {
			w.info.Running = append(w.info.Running[:i:i], w.info.Running[i+1:]...)
			break
		}
	}
}

// refusal is a kind of job this worker cannot serve (another data
// fingerprint, protocol, engine, or more memory than it has): it stops
// pulling for a back-off that doubles with each such job, so that other
// workers get them.
type refusal struct {
	backoff time.Duration
}

const (
	refuseNakDelay = 200 * time.Millisecond // the job is free again for others almost at once
	maxBackoff     = time.Minute
)

// refuse hands the job back with the reason (never a failure record: a
// refusal is not a training attempt). With a kind, this worker pauses
// pulling; without, the condition is passing (memory held by its other
// slots) and it pauses briefly.
func (w *Worker) refuse(msg jetstream.Msg, id, kind string, why error) {
	msg.NakWithDelay(refuseNakDelay)
	note := fmt.Sprintf("worker %s: %v", w.ID, why)
	if validID(id) {
		nctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		w.b.notes.Put(nctx, id, []byte(note))
		cancel()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	pause := time.Second
	if kind != "" {
		r := w.refused[kind]
		if r == nil {
			r = &refusal{backoff: time.Second}
			w.refused[kind] = r
			w.logf("refusing job %.8s and others like it (%s): %v", id, kind, why)
		} else {
			r.backoff = min(2*r.backoff, maxBackoff)
		}
		pause = r.backoff
	} else {
		w.logf("handing job %.8s back: %v", id, why)
	}
	if p := time.Now().Add(pause); p.After(w.pause) {
		w.pause = p
	}
}
