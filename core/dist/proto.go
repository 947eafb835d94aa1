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
const Version = 1

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
	objectBucket  = "EAS_OBJECTS"
	maxObjectSize = 8 << 30 // larger weights or data are refused as malformed
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

// JobMsg is one network to train.
type JobMsg struct {
	Version  int                 `json:"version"`
	ID       string              `json:"id"`
	Label    string              `json:"label,omitempty"` // for people: "network 12"
	Arch     string              `json:"arch"`
	Input    ir.Shape            `json:"input"`
	Weights  ObjectRef           `json:"weights"`
	Training experiment.Training `json:"training"`
	Full     bool                `json:"full,omitempty"` // train on training+validation, score on test
	Data     *DataRef            `json:"data,omitempty"` // nil for virtual jobs
	// VirtualMS > 0 or Data == nil: a dry-run job scored by
	// search.VirtualScore after sleeping VirtualMS milliseconds (scheduling
	// measurements, tests).
	VirtualMS int64 `json:"virtual_ms,omitempty"`
}

// ResultMsg is a job's outcome.
type ResultMsg struct {
	Version    int        `json:"version"`
	ID         string     `json:"id"`
	Worker     string     `json:"worker"`
	Acc        float64    `json:"acc"`
	Error      string     `json:"error,omitempty"`
	Seconds    float64    `json:"seconds"`
	Deliveries int        `json:"deliveries"`
	Weights    *ObjectRef `json:"weights,omitempty"`
}

// contentID is the job's deterministic id: a hash of everything that
// determines its result (the label and the object's name excluded).
// It fails only for a job JSON cannot carry (a NaN learning rate), which
// must not be hashed as if it were empty.
func contentID(j JobMsg) (string, error) {
	j.ID, j.Label, j.Weights.Name = "", "", ""
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
	if r.Error == "" && (math.IsNaN(r.Acc) || r.Acc < 0 || r.Acc > 1) {
		return r, fmt.Errorf("result %s: accuracy %v outside [0, 1]", r.ID, r.Acc)
	}
	if r.Weights != nil {
		if err := r.Weights.check("result weights", "out/"); err != nil {
			return r, fmt.Errorf("result %s: %v", r.ID, err)
		}
	}
	return r, nil
}
