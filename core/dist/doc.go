// Package dist runs a search's trainings on other machines through NATS
// JetStream: the driver (Evaluator, a search.Evaluator) puts each job on a
// work-queue stream and its weights in an object store; workers (Worker,
// `easrun worker`) pull jobs, train them and put the result in a key-value
// bucket. JetStream does the scheduling: a job stays in the stream until a
// worker acknowledges it, a worker that stops acknowledging (killed, hung,
// disconnected) loses it to another after the ack wait, long trainings keep
// their lease with progress acknowledgements, and a job delivered more than
// a set number of times is recorded as failed with the reason.
//
// Job ids are a hash of the job's content (architecture, weights, training
// settings, data fingerprint), so a redelivered or resubmitted job (a driver
// resumed after a crash replays its episode deterministically) finds its
// earlier result, and each result is used once.
//
// The data set travels once per worker: the driver puts a bundle of the
// split (training, validation and test images, normalisation) in the object
// store; its SHA-256 is the run's data fingerprint. A worker uses a local
// copy only when the same split of it has the same fingerprint, and caches
// what it fetched.
//
// Server (StartServer) is an embedded nats-server whose JetStream store
// lives inside the run directory, so a resumed driver reattaches to the same
// streams.
package dist
