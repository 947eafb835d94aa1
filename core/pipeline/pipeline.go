package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/train"
	"github.com/eas-go/eas/plugins/sdk"
)

// Config is everything a run needs besides the file system.
type Config struct {
	File   string                 // the experiment file (plugins are looked up next to it; messages name it)
	Source []byte                 // its text, copied into the run directory
	Exp    *experiment.Experiment // parsed from Source, data paths resolved
	Out    string                 // run directories go to Out/<experiment>/<search>[/r<k>]
	Dir    string                 // the experiment's directory instead of Out/<experiment> (easrun fidelity)
	Resume bool                   // continue a run found there instead of refusing
	Only   []string               // run only these searches (nil: all)
	Repeat int                    // > 0: every search runs with this many seeds

	// DryRun scores architectures without data (the virtual evaluator):
	// Data is not called, networks carry random weights (transforms run on
	// real tensors) and checkpoints hold architectures only.
	DryRun bool
	// Parse reads the run directory's own copy of the experiment on resume.
	Parse func(name string, src []byte) (*experiment.Experiment, error)
	// Data loads the experiment's data set.
	Data func(d experiment.Dataset) (*data.Split, error)
	// Meta is what every checkpoint records about the data it was trained on.
	Meta func(d experiment.Dataset, s *data.Split) map[string]string
	// Backend trains the start network here (when the evaluator does not).
	Backend engine.Backend
	// Evaluator makes the evaluator once the data is loaded.
	Evaluator func(ctx context.Context, dir string, split *data.Split) (Evaluation, error)
	// Plugins resolves each search's transforms and controller.
	Plugins PluginHost
	Log     Logger
}

// Evaluation is the evaluator a run trains and scores with.
type Evaluation struct {
	Eval search.Evaluator
	// TrainsStart: the start network trains through Eval as well (remote
	// evaluators); otherwise it trains here on Config.Backend.
	TrainsStart bool
	Close       func() // nil: nothing to release
}

// PluginHost resolves the transforms and the controller of a search; the
// closer ends the plugins it started.
type PluginHost interface {
	Search(ctx context.Context, easFile string, s experiment.Search, run SearchRun) (map[string]sdk.Transform, sdk.Controller, io.Closer, error)
}

// SearchRun is where one search (one repeat) runs, for the plugin host.
type SearchRun struct {
	Dir     string // the search's run directory: the host records the plugins it uses there ("" for none)
	Log     string // the plugins' log (their stderr and stdout)
	Started bool   // it recorded sampled networks already: its plugins may no longer change
}

// Logger shows a run's progress.
type Logger interface {
	Printf(format string, args ...any)
	Begin(s experiment.Search) // a search starts
	End()                      // it ended
	Progress(p search.Progress)
	// Epochs receives the start network's training progress (nil: none).
	Epochs() func(train.Event)
}

// Session is a run directory made ready to search: locked, checked against
// its inputs, data loaded, evaluator made, start network trained or resumed.
type Session struct {
	Dir      string      // the run directory (Config.Dir, or Out/<experiment>)
	Split    *data.Split // nil in dry runs
	Eval     search.Evaluator
	Start    sdk.Network // the trained start network
	StartAcc float64     // its validation accuracy

	cfg      Config
	manifest store.Manifest
	ckpt     Checkpoints
	release  []func()
}

// Run performs the experiment and returns its directory, where the report
// is then written. The directory is locked while it runs.
func Run(ctx context.Context, c Config) (string, error) {
	s, err := Open(ctx, c)
	if err != nil {
		return s.dirOf(c), err
	}
	defer s.Close()
	return s.Dir, s.Searches(ctx)
}

// Open prepares the run directory (Config.Dir; default Out/<experiment>)
// for searches: Close releases it.
func Open(ctx context.Context, c Config) (s *Session, err error) {
	s = &Session{cfg: c}
	s.Dir = s.dirOf(c)
	if !filepath.IsLocal(c.Exp.Name) { // the parser refuses such names; this guards other producers of an Experiment
		return s, fmt.Errorf("experiment name %q does not name a folder inside the output folder", c.Exp.Name)
	}
	lock, err := store.TryLock(s.Dir)
	if err != nil {
		return s, err
	}
	s.release = append(s.release, func() { lock.Unlock() })
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.ckpt.RandomWeights = c.DryRun
	if s.manifest, err = s.checkRunDir(); err != nil {
		return s, err
	}
	if err := s.loadData(); err != nil {
		return s, err
	}
	ev, err := c.Evaluator(ctx, s.Dir, s.Split)
	if err != nil {
		return s, err
	}
	if ev.Close != nil {
		s.release = append(s.release, ev.Close)
	}
	s.Eval = ev.Eval
	var startEval search.Evaluator
	if ev.TrainsStart {
		startEval = ev.Eval
	}
	if s.Start, s.StartAcc, err = s.startNetwork(ctx, startEval); err != nil {
		return s, err
	}
	if s.Start.Weights == nil && !c.DryRun {
		return s, fmt.Errorf("%s holds a dry run's start network (an architecture without weights, from --evaluator virtual): choose another --out to train for real", s.Dir)
	}
	return s, nil
}

func (s *Session) dirOf(c Config) string {
	if c.Dir != "" {
		return c.Dir
	}
	return filepath.Join(c.Out, c.Exp.Name)
}

// Close releases the evaluator and the directory's lock.
func (s *Session) Close() {
	for i := len(s.release) - 1; i >= 0; i-- {
		s.release[i]()
	}
	s.release = nil
}

// Checkpoints is how the session saves networks (with the data's metadata).
func (s *Session) Checkpoints() Checkpoints { return s.ckpt }

// Searches runs the experiment's selected searches and then the final
// training of their top networks.
func (s *Session) Searches(ctx context.Context) error {
	dirs, err := s.searches(ctx)
	if err != nil {
		return err
	}
	if s.cfg.Exp.Final.Top > 0 && !s.cfg.DryRun {
		for _, dir := range dirs {
			if err := s.final(ctx, dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadData loads the split (not for dry runs) and the checkpoints' metadata.
func (r *Session) loadData() error {
	if r.cfg.DryRun {
		return nil
	}
	d := r.cfg.Exp.Dataset
	r.cfg.Log.Printf("loading %s data from %s", d.Kind, d.Path)
	split, err := r.cfg.Data(d)
	if err != nil {
		return fmt.Errorf("dataset %q: %w (set --data %s=PATH or EAS_DATA_%s)", d.Name, err, d.Name, strings.ToUpper(d.Name))
	}
	r.Split = split
	r.cfg.Log.Printf("data: %s", split.Describe())
	if r.cfg.Meta != nil {
		r.ckpt.Meta = r.cfg.Meta(d, split)
	}
	return nil
}

// searches runs every selected search, each repeat in its own directory,
// and returns the directories.
func (r *Session) searches(ctx context.Context) ([]string, error) {
	var dirs []string
	for _, s := range r.cfg.Exp.Searches {
		if len(r.cfg.Only) > 0 && !slices.Contains(r.cfg.Only, s.Name) {
			continue
		}
		if !filepath.IsLocal(s.Name) {
			return nil, fmt.Errorf("search name %q does not name a folder inside %s", s.Name, r.Dir)
		}
		if r.cfg.Repeat > 0 {
			s.Repeat = r.cfg.Repeat
		}
		for k := 1; k <= s.Runs(); k++ {
			dir, one := filepath.Join(r.Dir, s.Name), s
			one.Fidelity = s.Fidelity && k == 1 // one check per search, in its first run
			if s.Runs() > 1 {
				// One run directory per seed, grouped under the search's folder.
				dir = filepath.Join(dir, fmt.Sprintf("r%d", k))
				one.Name, one.Seed = fmt.Sprintf("%s/r%d", s.Name, k), s.RunSeed(k)
				if _, err := os.Stat(filepath.Join(r.Dir, s.Name, "networks.jsonl")); err == nil {
					return nil, fmt.Errorf("%s holds a single run of search %q; repeat = %d needs another --out", filepath.Join(r.Dir, s.Name), s.Name, s.Runs())
				}
			}
			dirs = append(dirs, dir)
			if err := r.search(ctx, one, dir); err != nil {
				return nil, fmt.Errorf("search %q: %w", one.Name, err)
			}
		}
	}
	return dirs, nil
}

// PluginLog is the file in the experiment's directory that receives the
// plugins' log and their stderr and stdout.
const PluginLog = "plugins.log"

// started reports whether a search recorded a sampled network: from then on
// what it ran with (plugins included) may not change on resume.
func started(st *store.Store) bool {
	for _, rec := range st.Records() {
		if rec.Kind == store.KindSample {
			return true
		}
	}
	return false
}

// search runs one search (one repeat) in dir.
func (r *Session) search(ctx context.Context, s experiment.Search, dir string) error {
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Dropped {
		r.cfg.Log.Printf("%s: dropped a torn last record left by a crash", dir)
	}
	if err := recordStart(st, r.Start, r.StartAcc); err != nil {
		return err
	}
	if err := r.fidelityStep(ctx, s, dir); err != nil {
		return err
	}
	// Transforms and controllers come from the plugin host: built-ins and
	// the search's plugins.
	log := filepath.Join(r.Dir, PluginLog)
	tfs, ctrl, set, err := r.cfg.Plugins.Search(ctx, r.cfg.File, s, SearchRun{Dir: dir, Log: log, Started: started(st)})
	if err != nil {
		return err
	}
	defer set.Close()
	var d search.Data
	if r.Split != nil {
		d = r.Split
	}
	sr := &search.Runner{Exp: r.cfg.Exp, Search: s, Transforms: tfs, Controller: ctrl, Eval: r.Eval, Data: d, Store: st, Ckpt: r.ckpt,
		Start: r.Start, StartAcc: r.StartAcc, OnEvent: r.cfg.Log.Progress, PluginLog: log}
	r.cfg.Log.Begin(s)
	err = sr.Run(ctx)
	r.cfg.Log.End()
	return err
}
