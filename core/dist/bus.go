package dist

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Settings are the scheduling parameters a driver gives its run.
type Settings struct {
	// AckWait: a worker silent this long loses its job to another. Workers
	// send progress acknowledgements every AckWait/4 from receiving a job
	// to the end of its result's upload.
	AckWait time.Duration
	// Attempts: training attempts (not deliveries: a worker refusing a job
	// does not count) after which a job is recorded as failed.
	Attempts int
	// JobTimeout > 0 limits one training attempt; a training that runs
	// longer is recorded as failed (a hung job does not hold its lease
	// forever).
	JobTimeout time.Duration
}

// DefaultSettings suit real trainings.
var DefaultSettings = Settings{AckWait: 30 * time.Second, Attempts: 3, JobTimeout: 24 * time.Hour}

// bus is the run's JetStream resources.
type bus struct {
	js       jetstream.JetStream
	jobs     jetstream.Stream
	cons     jetstream.Consumer
	results  jetstream.KeyValue
	notes    jetstream.KeyValue
	workers  jetstream.KeyValue
	attempts jetstream.KeyValue
	inputs   jetstream.ObjectStore
	outputs  jetstream.ObjectStore
}

// ensureBus creates (or reattaches to) the run's streams, consumer and buckets.
func ensureBus(ctx context.Context, nc *nats.Conn, s Settings) (*bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	b := &bus{js: js}
	wrap := func(what string, err error) error { return fmt.Errorf("JetStream %s: %w", what, err) }
	b.jobs, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: JobStream, Subjects: []string{jobSubject + ">"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute, MaxMsgSize: MaxMessage,
		Description: "eas: networks to train"})
	if err != nil {
		return nil, wrap("job stream", err)
	}
	// Deliveries are unlimited: refusals are handed back (Nak) and must
	// not use up a job; training attempts are counted in the attempts
	// bucket, and the worker that finds them used up records the failure
	// durably (see Worker.handle). The attempt limit travels in the
	// consumer's metadata.
	b.cons, err = js.CreateOrUpdateConsumer(ctx, JobStream, jetstream.ConsumerConfig{
		Durable: consumerName, AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.AckWait,
		MaxDeliver: -1, MaxAckPending: -1, MaxRequestBatch: 1,
		Metadata:    map[string]string{"eas_attempts": strconv.Itoa(s.Attempts)},
		Description: "eas workers"})
	if err != nil {
		return nil, wrap("consumer", err)
	}
	kv := func(name, desc string, ttl time.Duration) (jetstream.KeyValue, error) {
		return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Description: desc, TTL: ttl,
			Storage: jetstream.FileStorage, MaxValueSize: MaxMessage})
	}
	if b.results, err = kv(resultBucket, "eas: results by job id", 0); err != nil {
		return nil, wrap("result bucket", err)
	}
	if b.notes, err = kv(noteBucket, "eas: why workers refused or dropped a job", 0); err != nil {
		return nil, wrap("note bucket", err)
	}
	if b.workers, err = kv(workerBucket, "eas: connected workers", workerTTL); err != nil {
		return nil, wrap("worker bucket", err)
	}
	if b.attempts, err = kv(attemptBucket, "eas: training attempts per job", 0); err != nil {
		return nil, wrap("attempt bucket", err)
	}
	obj := func(name, desc string) (jetstream.ObjectStore, error) {
		return js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: name, Description: desc, Storage: jetstream.FileStorage})
	}
	if b.inputs, err = obj(inputBucket, "eas: start weights and data sets"); err != nil {
		return nil, wrap("input store", err)
	}
	if b.outputs, err = obj(outputBucket, "eas: trained weights, one object per delivery"); err != nil {
		return nil, wrap("output store", err)
	}
	return b, nil
}

// bindBus finds the resources a driver created.
func bindBus(ctx context.Context, nc *nats.Conn) (*bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	b := &bus{js: js}
	if b.jobs, err = js.Stream(ctx, JobStream); err != nil {
		return nil, err
	}
	if b.cons, err = js.Consumer(ctx, JobStream, consumerName); err != nil {
		return nil, err
	}
	if b.results, err = js.KeyValue(ctx, resultBucket); err != nil {
		return nil, err
	}
	if b.notes, err = js.KeyValue(ctx, noteBucket); err != nil {
		return nil, err
	}
	if b.workers, err = js.KeyValue(ctx, workerBucket); err != nil {
		return nil, err
	}
	if b.attempts, err = js.KeyValue(ctx, attemptBucket); err != nil {
		return nil, err
	}
	if b.inputs, err = js.ObjectStore(ctx, inputBucket); err != nil {
		return nil, err
	}
	if b.outputs, err = js.ObjectStore(ctx, outputBucket); err != nil {
		return nil, err
	}
	return b, nil
}

// attemptsOf reads the attempt limit a driver set (3 when absent).
func attemptsOf(ci *jetstream.ConsumerInfo) int {
	if ci != nil {
		if n, err := strconv.Atoi(ci.Config.Metadata["eas_attempts"]); err == nil && n > 0 {
			return n
		}
	}
	return DefaultSettings.Attempts
}

// workerTTL: a worker that stops heartbeating disappears from the display.
const workerTTL = 10 * time.Second

// WorkerInfo is what a worker publishes about itself every heartbeat.
type WorkerInfo struct {
	ID           string    `json:"id"`
	Host         string    `json:"host"`
	Build        Build     `json:"build"`
	Slots        int       `json:"slots"`
	Threads      int       `json:"threads"`
	Running      []string  `json:"running"` // labels of the jobs in training
	Done         int       `json:"done"`
	Failed       int       `json:"failed"`
	BusySeconds  float64   `json:"busy_seconds"`
	ImagesPerSec float64   `json:"images_per_sec"` // training throughput over its last epoch
	Since        time.Time `json:"since"`
}

// DecodeWorkerInfo parses a heartbeat (any client could have written it).
func DecodeWorkerInfo(b []byte) (WorkerInfo, error) {
	var w WorkerInfo
	if len(b) > MaxMessage {
		return w, fmt.Errorf("heartbeat of %d bytes exceeds %d", len(b), MaxMessage)
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return w, fmt.Errorf("heartbeat: %v", err)
	}
	if w.ID == "" || len(w.ID) > 200 || w.Slots < 0 || w.Slots > 1<<16 || len(w.Running) > w.Slots || w.Done < 0 || w.Failed < 0 {
		return w, fmt.Errorf("heartbeat of %q: fields out of range", w.ID)
	}
	return w, nil
}
