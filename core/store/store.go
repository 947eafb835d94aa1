package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Status of a sampled network.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
	StatusCached = "cached" // same architecture seen before in this search: its accuracy is reused
)

// Kind says what a record is. The values are written into networks.jsonl
// and read back by resumes and reports, so they never change.
type Kind string

// The record kinds.
const (
	KindSample     Kind = "sample"      // a network the controller sampled (counted in the budget)
	KindStart      Kind = "start"       // the experiment's start network, once per search
	KindStageStart Kind = "stage-start" // the retrained best of a stage, the next stage's start
	KindControl    Kind = "control"     // a stage's start retrained with the child schedule (the identity child)
	KindFinal      Kind = "final"       // a top network trained again and scored on the test set
)

// Record is one sampled (or start/retrained/final) network.
type Record struct {
	ID      int      `json:"id"`      // 1-based order of sampling within the search (0 for start networks)
	Kind    Kind     `json:"kind"`    // KindSample, KindStart, ...
	Stage   int      `json:"stage"`   // 1-based
	Episode int      `json:"episode"` // 1-based, within the search
	Index   int      `json:"index"`   // position within the episode
	Parent  string   `json:"parent"`  // hash of the architecture it grew from
	Actions []string `json:"actions"`
	Arch    string   `json:"arch"`
	Hash    string   `json:"hash"`
	Depth   int      `json:"depth"`
	Params  int64    `json:"params"`
	MAdds   int64    `json:"madds"`
	ValAcc  float64  `json:"val_acc"`
	TestAcc float64  `json:"test_acc,omitempty"`
	Seconds float64  `json:"seconds"`
	Status  string   `json:"status"`
	Error   string   `json:"error,omitempty"`
	Time    string   `json:"time"`
	Weights string   `json:"weights,omitempty"` // checkpoint file, relative to the run dir
	// WeightsSHA256 is the checkpoint's hash when it was written, checked
	// before a resume uses it (empty in records of older runs).
	WeightsSHA256 string   `json:"weights_sha256,omitempty"`
	Reward        float64  `json:"reward,omitempty"`
	Epochs        int      `json:"epochs,omitempty"`
	Baseline      *float64 `json:"baseline,omitempty"`
	// RewardSeeds: the accuracy is the mean of this many trainings with
	// different data orders (reward_seeds; absent = 1) and Seconds their sum.
	RewardSeeds int `json:"reward_seeds,omitempty"`
}

// appendFile is what Append needs of the record file (an *os.File; tests
// put a failing one in its place).
type appendFile interface {
	Write([]byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Store is an open run directory.
type Store struct {
	Dir     string
	mu      sync.Mutex
	f       appendFile
	size    int64 // bytes of complete records in the file
	broken  error // set when a failed append could not be undone
	records []Record
	// Dropped is set when Open found and dropped a torn last line.
	Dropped bool
}

// Open opens (creating if needed) the run directory and reads its records.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		return nil, err
	}
	s := &Store{Dir: dir}
	path := filepath.Join(dir, "networks.jsonl")
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	good := 0 // bytes of complete, valid lines
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		end := good + len(b) + 1
		if end > len(data) { // last line without newline: torn write
			s.Dropped = true
			break
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			if end >= len(data) { // a torn final line
				s.Dropped = true
				break
			}
			return nil, fmt.Errorf("%s:%d: corrupt record: %v", path, line, err)
		}
		s.records = append(s.records, r)
		good = end
	}
	if s.Dropped {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, err
		}
	}
	s.size = int64(good)
	if !s.Dropped {
		s.size = int64(len(data))
	}
	s.f, err = os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the record file.
func (s *Store) Close() error { return s.f.Close() }

// Records returns a copy of all records in order.
func (s *Store) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

// Append writes one record durably (write + fsync) before returning.
func (s *Store) Append(r Record) error {
	if r.Time == "" {
		r.Time = time.Now().UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	path := filepath.Join(s.Dir, "networks.jsonl")
	n, err := s.f.Write(append(b, '\n'))
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		// A full disk can leave part of the line: cut it off, or the next
		// record (once space is freed) would follow a torn line and the
		// file would no longer open.
		if terr := s.f.Truncate(s.size); terr != nil {
			s.broken = fmt.Errorf("%s: a failed append (%v) left a partial record that could not be removed (%v): stop and resume", path, err, terr)
		}
		return fmt.Errorf("%s: appending record %d: %w", path, r.ID, err)
	}
	s.size += int64(n)
	s.records = append(s.records, r)
	return nil
}

// WriteFileAtomic writes data to dir/name via a temporary file, fsync and rename,
// so a crash leaves either the old or the new content.
func WriteFileAtomic(path string, data []byte) error {
	return WriteFileAtomicPerm(path, data, 0o644)
}

// WriteFileAtomicPerm is WriteFileAtomic with the file's permissions (a
// file rewritten in place keeps its own).
func WriteFileAtomicPerm(path string, data []byte, perm os.FileMode) error {
	if err := writeFileAtomic(path, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced; a failure
	// here is a failed write like any other.
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing its folder: %w", err)
	}
	return nil
}

// ControllerState is the controller's state after a finished episode.
type ControllerState struct {
	Stage   int    `json:"stage"`
	Episode int    `json:"episode"` // last finished episode (1-based)
	Sampled int    `json:"sampled"` // networks sampled so far in the search
	State   []byte `json:"state"`   // the controller's Save()
}

// SaveController replaces controller.json atomically.
func (s *Store) SaveController(c ControllerState) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(s.Dir, "controller.json"), b)
}

// LoadController returns the saved state, or ok=false when there is none.
func (s *Store) LoadController() (c ControllerState, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, "controller.json"))
	if errors.Is(err, os.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, false, fmt.Errorf("%s: %v", filepath.Join(s.Dir, "controller.json"), err)
	}
	return c, true, nil
}
