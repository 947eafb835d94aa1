package dist

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
)

// Version is the protocol version; a worker refuses jobs of another.
// 2: training settings with explicit field names, per-delivery results,
// build information, check accuracy, job time limit.
const Version = 2

// MaxMessage bounds job and result messages (weights and data travel in the
// object store, so real messages are a few kB).
const MaxMessage = 1 << 20

// Names of the JetStream resources of a run.
const (
	JobStream     = "EAS_JOBS"
	jobSubject    = "eas.jobs."
	consumerName  = "eas-workers"
	resultBucket  = "EAS_RESULTS"
	noteBucket    = "EAS_NOTES"
	workerBucket  = "EAS_WORKERS"
	attemptBucket = "EAS_ATTEMPTS"
	inputBucket   = "EAS_INPUTS"  // start weights and data sets: written by the driver only
	outputBucket  = "EAS_OUTPUTS" // trained weights: written by workers, one object per delivery
	maxObjectSize = 8 << 30       // larger weights or data are refused as malformed
)

// ErrVersion marks a message of another protocol version.
var ErrVersion = errors.New("protocol version mismatch")

// ObjectRef names an object in the run's object store with its size and
// SHA-256, checked by whoever reads it.
type ObjectRef struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// SplitSpec says how the data set is divided (as in the experiment's
// dataset block), so a worker can split a local copy the same way.
type SplitSpec struct {
	Validation int    `json:"validation"`
	Seed       int64  `json:"seed"`
	Limit      int    `json:"limit"`
	Normalize  string `json:"normalize"`
	Augment    bool   `json:"augment"`
}

// DataRef is the data set a job trains on.
type DataRef struct {
	Name        string    `json:"name"` // as in the experiment (--data NAME=PATH on workers)
	Kind        string    `json:"kind"` // data.Open kind: idx, cifar10, images, svhn
	Fingerprint string    `json:"fingerprint"`
	Object      ObjectRef `json:"object"`
	Split       SplitSpec `json:"split"`
}

// Training is experiment.Training on the wire, with explicit field names
// (a renamed Go field must not change the protocol silently).
type Training struct {
	Optimizer   string  `json:"optimizer"`
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	Nesterov    bool    `json:"nesterov"`
	WeightDecay float64 `json:"weight_decay"`
	Schedule    string  `json:"schedule"`
	StepEvery   int     `json:"step_every"`
	StepGamma   float64 `json:"step_gamma"`
	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	Seed        int64   `json:"seed"`
}

// WireTraining is t's wire form.
func WireTraining(t experiment.Training) Training {
	return Training{Optimizer: t.Optimizer, LR: t.LR, Momentum: t.Momentum, Nesterov: t.Nesterov, WeightDecay: t.WeightDecay,
		Schedule: t.Schedule, StepEvery: t.StepEvery, StepGamma: t.StepGamma, Epochs: t.Epochs, Batch: t.Batch, Seed: t.Seed}
}

// Settings converts the wire form back.
func (t Training) Settings() experiment.Training {
	return experiment.Training{Optimizer: t.Optimizer, LR: t.LR, Momentum: t.Momentum, Nesterov: t.Nesterov, WeightDecay: t.WeightDecay,
		Schedule: t.Schedule, StepEvery: t.StepEvery, StepGamma: t.StepGamma, Epochs: t.Epochs, Batch: t.Batch, Seed: t.Seed}
}

// JobMsg is one network to train.
type JobMsg struct {
	Version  int       `json:"version"`
	ID       string    `json:"id"`
	Label    string    `json:"label,omitempty"` // for people: "network 12"
	Arch     string    `json:"arch"`
	Input    ir.Shape  `json:"input"`
	Weights  ObjectRef `json:"weights"`
	Training Training  `json:"training"`
	Full     bool      `json:"full,omitempty"` // train on training+validation, score on test
	Data     *DataRef  `json:"data,omitempty"` // nil for virtual jobs
	// Engine, when set, is the engine the driver's results come from: a
	// worker running another refuses the job (numbers would differ).
	Engine string `json:"engine,omitempty"`
	// VirtualMS > 0 or Data == nil: a dry-run job scored by
	// search.VirtualScore after sleeping VirtualMS milliseconds (scheduling
	// measurements, tests).
	VirtualMS int64 `json:"virtual_ms,omitempty"`
	// TimeoutS > 0 limits one training attempt (--job-timeout).
	TimeoutS float64 `json:"timeout_s,omitempty"`
	// CheckN: the worker also reports its accuracy on the first CheckN
	// images of the scoring set, which the driver recomputes.
	CheckN int `json:"check_n,omitempty"`
}

// Build says what produced a result: which easrun, engine, device and
// thread count (results of other builds may differ in the last digits).
type Build struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
	Engine  string `json:"engine"`
	Device  string `json:"device,omitempty"`
	Threads int    `json:"threads"`
}

// ResultMsg is a job's outcome, stored under the job's id by the first
// delivery that completes (later ones find the key taken).
type ResultMsg struct {
	Version  int     `json:"version"`
	ID       string  `json:"id"`
	Delivery string  `json:"delivery"` // worker, stream sequence and delivery count
	Worker   string  `json:"worker"`
	Acc      float64 `json:"acc"`
	// CheckAcc is the accuracy on the job's check sample (CheckN images).
	CheckAcc float64 `json:"check_acc,omitempty"`
	Error    string  `json:"error,omitempty"`
	// GivenUp marks a job no worker finished in its allowed attempts.
	GivenUp bool       `json:"given_up,omitempty"`
	Seconds float64    `json:"seconds"`
	Attempt int        `json:"attempt"`
	Weights *ObjectRef `json:"weights,omitempty"`
	Build   Build      `json:"build"`
	rev     uint64     // the bucket revision it was read at (driver side)
}

// contentID is the job's deterministic id: a hash of everything that
// determines its result (the label, the object's name, the time limit and
// the check sample excluded). It fails only for a job JSON cannot carry
// (a NaN learning rate), which must not be hashed as if it were empty.
func contentID(j JobMsg) (string, error) {
	j.ID, j.Label, j.Weights.Name, j.TimeoutS, j.CheckN = "", "", "", 0, 0
	b, err := json.Marshal(j)
	if err != nil {
		return "", fmt.Errorf("job %q: %w", j.Label, err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:20]), nil
}

// ArchParser reads an architecture string (the DSL's dsl.ParseArch, which
// the caller passes in so that core/dist does not import the DSL).
type ArchParser func(name, src string) (ir.Arch, error)

func validID(id string) bool {
	if len(id) != 40 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// decodeStrict decodes one JSON value of at most MaxMessage bytes, checking
// the version first so a newer peer's extra fields read as a version
// mismatch, not as garbage.
func decodeStrict(b []byte, v any) error {
	if len(b) > MaxMessage {
		return fmt.Errorf("message of %d bytes exceeds the %d-byte limit", len(b), MaxMessage)
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if head.Version == nil {
		return errors.New("no protocol version")
	}
	if *head.Version != Version {
		return fmt.Errorf("%w: message has version %d, this easrun speaks %d (use the same easrun release on driver and workers)", ErrVersion, *head.Version, Version)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v) // json.Unmarshal above already refused trailing data
}

func (o ObjectRef) check(what, prefix string) error {
	if !strings.HasPrefix(o.Name, prefix) || len(o.Name) > 200 {
		return fmt.Errorf("%s: object name %q does not start with %q", what, o.Name, prefix)
	}
	if o.Size < 0 || o.Size > maxObjectSize {
		return fmt.Errorf("%s: size %d outside [0, %d]", what, o.Size, int64(maxObjectSize))
	}
	if !validSHA(o.SHA256) {
		return fmt.Errorf("%s: sha256 %q is not 64 hex digits", what, o.SHA256)
	}
	return nil
}

// DecodeJob parses and checks a job message, reading its architecture with
// parse; errors say which field is wrong.
func DecodeJob(b []byte, parse ArchParser) (JobMsg, ir.Arch, error) {
	var j JobMsg
	if err := decodeStrict(b, &j); err != nil {
		return j, ir.Arch{}, fmt.Errorf("job message: %w", err)
	}
	bad := func(f string, a ...any) (JobMsg, ir.Arch, error) {
		return j, ir.Arch{}, fmt.Errorf("job %s: %s", j.ID, fmt.Sprintf(f, a...))
	}
	if !validID(j.ID) {
		return bad("id %q is not 40 hex digits", j.ID)
	}
	if in := j.Input; in.C < 1 || in.H < 1 || in.W < 1 || in.C > 4096 || in.H > 8192 || in.W > 8192 {
		return bad("input shape %v out of range", in)
	}
	if parse == nil {
		return bad("no architecture parser (the caller must set one)")
	}
	a, err := parse("job "+j.ID, j.Arch)
	if err != nil {
		return bad("arch: %v", err)
	}
	if err := a.Validate(j.Input); err != nil {
		return bad("arch: %v", err)
	}
	t := j.Training
	if t.Epochs < 0 || t.Epochs > 100000 || t.Batch < 1 || t.Batch > 1<<16 || math.IsNaN(t.LR) || math.IsInf(t.LR, 0) {
		return bad("training settings out of range: epochs %d, batch %d, lr %v", t.Epochs, t.Batch, t.LR)
	}
	if err := j.Weights.check("weights", "in/"); err != nil {
		return bad("%v", err)
	}
	if j.VirtualMS < 0 || j.VirtualMS > 24*3600*1000 {
		return bad("virtual_ms %d out of range", j.VirtualMS)
	}
	if math.IsNaN(j.TimeoutS) || j.TimeoutS < 0 || j.TimeoutS > 365*24*3600 || j.CheckN < 0 || j.CheckN > 1<<24 {
		return bad("timeout_s %v or check_n %d out of range", j.TimeoutS, j.CheckN)
	}
	if d := j.Data; d != nil {
		if d.Name == "" || d.Kind == "" || !validSHA(d.Fingerprint) || d.Object.SHA256 != d.Fingerprint {
			return bad("data reference incomplete: %+v", *d)
		}
		if err := d.Object.check("data", "data/"); err != nil {
			return bad("%v", err)
		}
	}
	want, err := contentID(j)
	if err != nil {
		return bad("%v", err)
	}
	if want != j.ID {
		return bad("id does not match the content (want %s): altered in transit?", want)
	}
	return j, a, nil
}

// DecodeResult parses and checks a result message.
func DecodeResult(b []byte) (ResultMsg, error) {
	var r ResultMsg
	if err := decodeStrict(b, &r); err != nil {
		return r, fmt.Errorf("result message: %w", err)
	}
	if !validID(r.ID) {
		return r, fmt.Errorf("result: id %q is not 40 hex digits", r.ID)
	}
	if r.Error == "" && (math.IsNaN(r.Acc) || r.Acc < 0 || r.Acc > 1 || math.IsNaN(r.CheckAcc) || r.CheckAcc < 0 || r.CheckAcc > 1) {
		return r, fmt.Errorf("result %s: accuracy %v or check accuracy %v outside [0, 1]", r.ID, r.Acc, r.CheckAcc)
	}
	if len(r.Delivery) > 200 || len(r.Worker) > 200 || len(r.Error) > 64<<10 || r.Attempt < 0 || math.IsNaN(r.Seconds) || r.Seconds < 0 {
		return r, fmt.Errorf("result %s: delivery, worker, error, attempt or seconds out of range", r.ID)
	}
	if r.Weights != nil {
		if err := r.Weights.check("result weights", "out/"+r.ID+"/"); err != nil {
			return r, fmt.Errorf("result %s: %v", r.ID, err)
		}
	}
	return r, nil
}
