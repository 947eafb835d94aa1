package dist

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Settings are the scheduling parameters a driver gives its run.
type Settings struct {
	// AckWait: a worker silent this long loses its job to another. Workers
	// send progress acknowledgements every AckWait/4 while training.
	AckWait time.Duration
	// Attempts: deliveries after which a job is recorded as failed.
	Attempts int
}

// DefaultSettings suit real trainings.
var DefaultSettings = Settings{AckWait: 30 * time.Second, Attempts: 3}

// bus is the run's JetStream resources.
type bus struct {
	js      jetstream.JetStream
	jobs    jetstream.Stream
	cons    jetstream.Consumer
	results jetstream.KeyValue
	notes   jetstream.KeyValue
	workers jetstream.KeyValue
	objects jetstream.ObjectStore
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
	// Deliveries beyond Attempts reach a worker only so that it records
	// the failure; see Worker.handle.
	b.cons, err = js.CreateOrUpdateConsumer(ctx, JobStream, jetstream.ConsumerConfig{
		Durable: consumerName, AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.AckWait,
		MaxDeliver: s.Attempts + 1, MaxAckPending: -1, MaxRequestBatch: 1,
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
	b.objects, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: objectBucket,
		Description: "eas: weights and data sets", Storage: jetstream.FileStorage})
	if err != nil {
		return nil, wrap("object store", err)
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
	if b.objects, err = js.ObjectStore(ctx, objectBucket); err != nil {
		return nil, err
	}
	return b, nil
}

// workerTTL: a worker that stops heartbeating disappears from the display.
const workerTTL = 10 * time.Second

// WorkerInfo is what a worker publishes about itself every heartbeat.
type WorkerInfo struct {
	ID           string    `json:"id"`
	Host         string    `json:"host"`
	Slots        int       `json:"slots"`
	Threads      int       `json:"threads"`
	Running      []string  `json:"running"` // labels of the jobs in training
	Done         int       `json:"done"`
	Failed       int       `json:"failed"`
	BusySeconds  float64   `json:"busy_seconds"`
	ImagesPerSec float64   `json:"images_per_sec"` // training throughput over its last epoch
	Since        time.Time `json:"since"`
}
