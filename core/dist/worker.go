package dist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
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

	mu       sync.Mutex
	info     WorkerInfo
	datasets map[string]*dataEntry
	local    map[string]*localEntry
	b        *bus
	ackWait  time.Duration
	attempts int
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

// Run works until ctx is cancelled. Jobs in training when it is are handed
// back to the queue at once.
func (w *Worker) Run(ctx context.Context) error {
	if w.ParseArch == nil {
		return errors.New("dist: Worker.ParseArch is not set")
	}
	if w.ID == "" {
		w.ID = DefaultWorkerID()
	}
	w.ID = keySafe(w.ID)
	w.Slots = max(1, w.Slots)
	w.datasets, w.local = map[string]*dataEntry{}, map[string]*localEntry{}
	h, err := os.Hostname()
	if err != nil {
		h = "unknown" // shown in status only; the ID identifies the worker
		w.logf("host name: %v", err)
	}
	w.info = WorkerInfo{ID: w.ID, Host: h, Slots: w.Slots, Threads: w.Threads, Since: time.Now().UTC()}
	waited := false
	for {
		b, err := bindBus(ctx, w.NC)
		if err == nil {
			w.b = b
			break
		}
		if !waited {
			w.logf("waiting for a run at %s (%v)", w.NC.ConnectedUrlRedacted(), err)
			waited = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	ci := w.b.cons.CachedInfo()
	w.ackWait, w.attempts = ci.Config.AckWait, max(1, ci.Config.MaxDeliver-1)
	w.logf("worker %s: connected to %s, %d slots; lease %v, %d attempts per job", w.ID, w.NC.ConnectedUrlRedacted(), w.Slots, w.ackWait, w.attempts)
	hbCtx, hbStop := context.WithCancel(context.Background())
	go w.heartbeat(hbCtx)
	defer func() {
		hbStop()
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		w.b.workers.Delete(dctx, w.ID)
		cancel()
	}()
	slots := make(chan struct{}, w.Slots)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		msg, err := w.b.cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			<-slots
			if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
				// The server restarted or the run was reset: wait, then retry.
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
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
	return nil
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

// handle trains one delivered job. Problems of this worker (data, weights
// it could not fetch) hand the job back for another worker; problems of the
// job itself (a network that diverges, a malformed message) are its result.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg, trained func()) {
	deliveries := 1
	if md, err := msg.Metadata(); err == nil {
		deliveries = int(md.NumDelivered)
	}
	id := strings.TrimPrefix(msg.Subject(), jobSubject)
	job, arch, err := DecodeJob(msg.Data(), w.ParseArch)
	if err != nil {
		if errors.Is(err, ErrVersion) { // another worker may speak it
			w.refuse(ctx, msg, id, deliveries, err)
			return
		}
		w.logf("malformed job (subject %s, %d bytes): %v", msg.Subject(), len(msg.Data()), err)
		if validID(id) {
			w.finish(ctx, msg, ResultMsg{ID: id, Error: "malformed job message: " + err.Error(), Deliveries: deliveries}, nil)
		} else {
			msg.TermWithReason("malformed job message")
		}
		return
	}
	label := job.Label
	if label == "" {
		label = job.ID[:8]
	}
	if deliveries > w.attempts {
		reason := fmt.Sprintf("given up after %d deliveries: the workers that took it stopped before finishing (killed, crashed, out of memory or lost their lease)", deliveries-1)
		if e, err := w.b.notes.Get(ctx, id); err == nil {
			reason = fmt.Sprintf("given up after %d deliveries; last problem: %s", deliveries-1, e.Value())
		}
		w.logf("%s: %s", label, reason)
		w.finish(ctx, msg, ResultMsg{ID: id, Error: reason, Deliveries: deliveries}, nil)
		return
	}
	var ds *Dataset
	if job.Data != nil && job.VirtualMS == 0 {
		if ds, err = w.dataset(ctx, job.Data); err != nil {
			w.refuse(ctx, msg, id, deliveries, err)
			return
		}
	}
	weights, err := w.weights(ctx, job, arch)
	if err != nil {
		w.refuse(ctx, msg, id, deliveries, err)
		return
	}
	w.logf("%s: training %s (delivery %d)", label, job.Arch, deliveries)
	w.setRunning(label, true)
	// Progress acknowledgements keep the lease while the training runs.
	tctx, stop := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(max(w.ackWait/4, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-t.C:
				msg.InProgress()
			}
		}
	}()
	start := time.Now()
	acc, err := w.train(tctx, job, arch, ds, weights)
	stop()
	w.setRunning(label, false)
	trained()
	secs := time.Since(start).Seconds()
	w.mu.Lock()
	w.info.BusySeconds += secs
	w.mu.Unlock()
	if ctx.Err() != nil { // this worker is stopping: hand the job to another now
		msg.Nak()
		w.logf("%s: handed back (worker stopping)", label)
		return
	}
	res := ResultMsg{ID: id, Acc: acc, Seconds: secs, Deliveries: deliveries}
	var enc []byte
	if err != nil {
		res.Error = err.Error()
		w.logf("%s: failed: %v", label, firstLine(err.Error()))
	} else {
		if enc, err = checkpoint.Encode(arch, job.Input, weights, nil); err != nil {
			res.Error = "encoding the trained weights: " + err.Error()
		}
		w.logf("%s: accuracy %.4f in %.1fs", label, acc, secs)
	}
	w.finish(ctx, msg, res, enc)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// refuse records why this worker cannot run the job and hands it back, or
// records the failure when it was the last allowed delivery.
func (w *Worker) refuse(ctx context.Context, msg jetstream.Msg, id string, deliveries int, why error) {
	note := fmt.Sprintf("worker %s: %v", w.ID, why)
	w.logf("refusing job %.8s: %v", id, why)
	if validID(id) {
		w.b.notes.Put(ctx, id, []byte(note))
	}
	if deliveries >= w.attempts && validID(id) {
		w.finish(ctx, msg, ResultMsg{ID: id, Error: fmt.Sprintf("given up after %d deliveries; last problem: %s", deliveries, note), Deliveries: deliveries}, nil)
		return
	}
	msg.NakWithDelay(time.Second)
}

// finish stores the result (weights first) and acknowledges the job. It
// retries while the server is unreachable (a driver restarting), so a
// finished training is not lost.
func (w *Worker) finish(ctx context.Context, msg jetstream.Msg, res ResultMsg, weights []byte) {
	res.Version, res.Worker = Version, w.ID
	w.mu.Lock()
	if res.Error == "" {
		w.info.Done++
	} else {
		w.info.Failed++
	}
	w.mu.Unlock()
	for try := 0; ; try++ {
		err := w.publish(res, weights)
		if err == nil {
			msg.DoubleAck(context.Background())
			return
		}
		if try == 0 || try%30 == 0 {
			w.logf("job %.8s: storing the result: %v (retrying)", res.ID, err)
		}
		if try > 600 {
			w.logf("job %.8s: giving up storing the result; the job will be redelivered", res.ID)
			msg.Nak()
			return
		}
		select {
		case <-ctx.Done():
			if try > 5 {
				msg.Nak()
				return
			}
		case <-time.After(time.Second):
		}
	}
}

func (w *Worker) publish(res ResultMsg, weights []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if weights != nil {
		name := "out/" + res.ID
		if _, err := w.b.objects.PutBytes(ctx, name, weights); err != nil {
			return err
		}
		res.Weights = &ObjectRef{Name: name, Size: int64(len(weights)), SHA256: sha(weights)}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = w.b.results.Put(ctx, res.ID, b)
	return err
}

// weights fetches and checks the job's start weights.
func (w *Worker) weights(ctx context.Context, job JobMsg, arch ir.Arch) (tensor.Map, error) {
	b, err := w.b.objects.GetBytes(ctx, job.Weights.Name)
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
// worker count.
func (w *Worker) train(ctx context.Context, job JobMsg, arch ir.Arch, ds *Dataset, weights tensor.Map) (acc float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("training panicked: %v\n%s", r, debug.Stack())
		}
	}()
	if job.Data == nil || job.VirtualMS > 0 {
		select {
		case <-time.After(time.Duration(job.VirtualMS) * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return search.VirtualScore(arch, job.Input), nil
	}
	g, err := ir.Lower(arch, job.Input)
	if err != nil {
		return 0, err
	}
	src, val := ds.Train(job.Training.Seed, job.Training.Batch), ds.Val(256)
	if job.Full {
		src, val = ds.Full(job.Training.Seed, job.Training.Batch), ds.Test(256)
	}
	res, err := train.Train(ctx, g, weights, src, val, train.Config{Training: job.Training, Backend: w.Backend}, func(e train.Event) {
		if e.EndOfEpoch && e.ImagesPerSecond > 0 && !math.IsInf(e.ImagesPerSecond, 0) { // JSON has no Inf
			w.mu.Lock()
			w.info.ImagesPerSec = e.ImagesPerSecond
			w.mu.Unlock()
		}
	})
	if err != nil {
		return 0, err
	}
	if math.IsNaN(res.ValAcc) {
		return 0, train.ErrDiverged
	}
	return res.ValAcc, nil
}

// dataset returns the job's data set: a local copy whose split has the
// run's fingerprint, the disk cache, or the run's object store.
func (w *Worker) dataset(ctx context.Context, ref *DataRef) (*Dataset, error) {
	if path, ok := w.Data[ref.Name]; ok {
		w.mu.Lock()
		key := ref.Name + "\x00" + ref.Kind + "\x00" + fmt.Sprint(ref.Split)
		le := w.local[key]
		if le == nil {
			le = &localEntry{}
			w.local[key] = le
		}
		w.mu.Unlock()
		le.once.Do(func() {
			src, err := data.Open(ref.Kind + ":" + path)
			if err != nil {
				le.err = err
				return
			}
			if le.d, le.err = SplitDataset(src, ref.Split); le.err != nil {
				return
			}
			b, err := EncodeDataset(le.d)
			if err != nil {
				le.err = err
				return
			}
			le.fp = sha(b)
			w.logf("data set %s: local copy %s, fingerprint %.12s", ref.Name, path, le.fp)
		})
		if le.err != nil {
			return nil, fmt.Errorf("data set %s: local copy %s: %w", ref.Name, path, le.err)
		}
		if le.fp != ref.Fingerprint {
			return nil, fmt.Errorf("data set %s: the local copy %s has fingerprint %.12s, the run's is %.12s (other files or another version): not used; drop --data %s=... to fetch the run's copy", ref.Name, path, le.fp, ref.Fingerprint, ref.Name)
		}
		return le.d, nil
	}
	w.mu.Lock()
	de := w.datasets[ref.Fingerprint]
	if de == nil {
		de = &dataEntry{}
		w.datasets[ref.Fingerprint] = de
	}
	w.mu.Unlock()
	de.once.Do(func() { de.d, de.err = w.fetchDataset(ctx, ref) })
	if de.err != nil {
		w.mu.Lock()
		delete(w.datasets, ref.Fingerprint) // a failed fetch is retried by the next job
		w.mu.Unlock()
		return nil, de.err
	}
	return de.d, nil
}

func (w *Worker) fetchDataset(ctx context.Context, ref *DataRef) (*Dataset, error) {
	cache := ""
	if w.CacheDir != "" {
		cache = filepath.Join(w.CacheDir, ref.Fingerprint+".easdata")
		if b, err := os.ReadFile(cache); err == nil && sha(b) == ref.Fingerprint {
			w.logf("data set %s: from the cache %s", ref.Name, cache)
			return DecodeDataset(b)
		}
	}
	start := time.Now()
	b, err := w.b.objects.GetBytes(ctx, ref.Object.Name)
	if err != nil {
		return nil, fmt.Errorf("data set %s: fetching %s from the run: %w", ref.Name, ref.Object.Name, err)
	}
	if got := sha(b); got != ref.Fingerprint {
		return nil, fmt.Errorf("data set %s: fetched copy has fingerprint %.12s, want %.12s", ref.Name, got, ref.Fingerprint)
	}
	w.logf("data set %s: fetched %.1f MB from the run in %v", ref.Name, float64(len(b))/1e6, time.Since(start).Round(time.Millisecond))
	if cache != "" {
		if err := os.MkdirAll(w.CacheDir, 0o755); err == nil {
			if err := store.WriteFileAtomic(cache, b); err != nil {
				w.logf("data set %s: not cached: %v", ref.Name, err)
			}
		}
	}
	return DecodeDataset(b)
}
