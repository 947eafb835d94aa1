package dashboard

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/report"
	"github.com/eas-go/eas/core/store"
)

// run is one experiment folder (or a lone search folder) being served.
type run struct {
	id, dir string
	parse   func(string) (*experiment.Experiment, error)

	mu        sync.Mutex
	searches  []searchDir
	logs      map[string]*recordLog // by search folder
	exp       *experiment.Experiment
	expErr    error
	expSig    string
	sig       string // the other files' sizes and times, and the lock
	version   uint64
	held      bool
	holder    string
	view      *view // derived from the records at version (built lazily)
	viewMu    sync.Mutex
	built     time.Time     // when view was built
	buildTime time.Duration // how long that took
}

func newRun(id, dir string, parse func(string) (*experiment.Experiment, error)) *run {
	return &run{id: id, dir: dir, parse: parse, logs: map[string]*recordLog{}}
}

// refresh stats the run's files and reads appended records; it reports
// whether anything a page shows changed (and then bumps the version).
func (r *run) refresh() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	searches := searchDirs(r.dir)
	if !slices.Equal(searches, r.searches) {
		r.searches, changed = searches, true
	}
	for _, s := range r.searches {
		l := r.logs[s.dir]
		if l == nil {
			l = &recordLog{path: filepath.Join(s.dir, "networks.jsonl")}
			r.logs[s.dir] = l
		}
		if l.update() {
			changed = true
		}
	}
	held, who := lockHeld(r.dir)
	sig := fmt.Sprint(held, who, statSig(r.dir, "report.md", "dist.json", "versions.json", "run.json"))
	if sig != r.sig {
		r.sig, r.held, r.holder, changed = sig, held, who, true
	}
	if es := statSig(r.dir, "experiment.eas"); es != r.expSig {
		r.expSig, changed = es, true
		r.exp, r.expErr = nil, nil
		if r.parse != nil && isFile(filepath.Join(r.dir, "experiment.eas")) {
			r.exp, r.expErr = r.parse(filepath.Join(r.dir, "experiment.eas"))
		}
	}
	if changed {
		r.version++
	}
	return changed
}

// statSig is the sizes and modification times of dir's files.
func statSig(dir string, names ...string) string {
	var b strings.Builder
	for _, n := range names {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", n, st.Size(), st.ModTime().UnixNano())
		}
	}
	return b.String()
}

// snap is a consistent copy of what a run's pages read: record slices are
// shared (logs only append, or start a new slice), never modified.
type snap struct {
	id, dir  string
	version  uint64
	held     bool
	holder   string
	exp      *experiment.Experiment
	expErr   error
	searches []searchSnap
}

type searchSnap struct {
	searchDir
	recs    []store.Record // in file order: a network's number is its index here
	partial bool
	bad     []string
	err     error
}

func (r *run) snapshot() snap {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := snap{id: r.id, dir: r.dir, version: r.version, held: r.held, holder: r.holder, exp: r.exp, expErr: r.expErr}
	for _, sd := range r.searches {
		l := r.logs[sd.dir]
		s.searches = append(s.searches, searchSnap{searchDir: sd, recs: l.recs[:len(l.recs):len(l.recs)], partial: l.partial, bad: l.bad[:len(l.bad):len(l.bad)], err: l.err})
	}
	return s
}

// search finds a search by name.
func (s snap) search(name string) (searchSnap, bool) {
	for _, x := range s.searches {
		if x.name == name {
			return x, true
		}
	}
	return searchSnap{}, false
}

// reportSearches are the searches as core/report takes them (records
// sorted the way report.Load sorts them).
func (s snap) reportSearches() []report.Search {
	var out []report.Search
	for _, x := range s.searches {
		recs := slices.Clone(x.recs)
		sort.SliceStable(recs, func(i, j int) bool {
			if (recs[i].Kind == store.KindSample) != (recs[j].Kind == store.KindSample) {
				return recs[i].Kind != store.KindSample && recs[i].Kind != store.KindFinal
			}
			return recs[i].ID < recs[j].ID
		})
		out = append(out, report.Search{Name: x.name, Group: x.group, Dir: x.dir, Records: recs})
	}
	return out
}

// summary is a run's line in the runs list.
type summary struct {
	ID, Dir, Experiment, State, Holder string
	Done, Budget                       int
	Best, Control                      float64 // NaN when unknown
	Started                            string
	Notes                              []string
}

// summarize reads the runs-list line of a snapshot.
func (s snap) summarize() summary {
	out := summary{ID: s.id, Dir: s.dir, Experiment: filepath.Base(s.dir), Best: nan, Control: nan, Holder: s.holder}
	if s.exp != nil {
		out.Experiment = s.exp.Name
		out.Budget = budget(s.exp)
	}
	damaged := false
	var newest time.Time
	for _, x := range s.searches {
		if st, err := os.Stat(x.dir + "/networks.jsonl"); err == nil && st.ModTime().After(newest) {
			newest = st.ModTime()
		}
		if x.err != nil || len(x.bad) > 0 {
			damaged = true
		}
		for _, r := range x.recs {
			switch {
			case r.Kind == store.KindSample:
				out.Done++
				if r.Status != store.StatusFailed && (isNaN(out.Best) || r.ValAcc > out.Best) {
					out.Best = r.ValAcc
				}
			case r.Kind == store.KindControl && r.Status == store.StatusOK && isNaN(out.Control):
				out.Control = r.ValAcc
			}
		}
	}
	out.Started = startTime(s.dir)
	out.State = runState(s.dir, s.held, damaged, out.Budget > 0 && out.Done >= out.Budget, newest)
	if len(s.searches) == 0 {
		out.Notes = append(out.Notes, "no records yet")
	}
	if s.expErr != nil {
		out.Notes = append(out.Notes, "experiment.eas: "+firstLine(s.expErr.Error()))
	}
	return out
}

// budget is the networks every search of the experiment samples, seeds
// included.
func budget(e *experiment.Experiment) int {
	n := 0
	for _, s := range e.Searches {
		n += s.Budget * max(1, s.Runs())
	}
	return n
}

// startTime is when the run began: versions.json's "started", else the
// time of run.json or experiment.eas (older runs have no versions.json).
func startTime(dir string) string {
	if b, err := os.ReadFile(filepath.Join(dir, "versions.json")); err == nil {
		var v struct {
			Started string `json:"started"`
		}
		if json.Unmarshal(b, &v) == nil && v.Started != "" {
			if t, err := time.Parse(time.RFC3339, v.Started); err == nil {
				return t.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
	}
	for _, n := range []string{"run.json", "experiment.eas"} {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return st.ModTime().UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return "-"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
