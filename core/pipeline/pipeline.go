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
	Resume bool                   // continue a run found there instead of refusing
	Only   []string               // run only these searches (nil: all)
	Repeat int                    // > 0: every search runs with this many seeds

	// DryRun scores architectures without data or weights (the virtual
	// evaluator): Data is not called and checkpoints hold architectures only.
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
	Search(ctx context.Context, easFile string, s experiment.Search, logFile string) (map[string]sdk.Transform, sdk.Controller, io.Closer, error)
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

// run is one Run in progress.
type run struct {
	Config
	dir      string
	manifest store.Manifest
	split    *data.Split
	ckpt     Checkpoints
	eval     search.Evaluator
}

// Run performs the experiment and returns its directory (Out/<experiment>),
// where the report is then written. The directory is locked while it runs.
func Run(ctx context.Context, c Config) (string, error) {
	e := c.Exp
	if !filepath.IsLocal(e.Name) { // the parser refuses such names; this guards other producers of an Experiment
		return "", fmt.Errorf("experiment name %q does not name a folder inside the output folder", e.Name)
	}
	r := &run{Config: c, dir: filepath.Join(c.Out, e.Name)}
	lock, err := store.TryLock(r.dir)
	if err != nil {
		return r.dir, err
	}
	defer lock.Unlock()
	if r.manifest, err = r.checkRunDir(); err != nil {
		return r.dir, err
	}
	if err := r.loadData(); err != nil {
		return r.dir, err
	}
	ev, err := c.Evaluator(ctx, r.dir, r.split)
	if err != nil {
		return r.dir, err
	}
	if ev.Close != nil {
		defer ev.Close()
	}
	r.eval = ev.Eval
	var startEval search.Evaluator
	if ev.TrainsStart {
		startEval = ev.Eval
	}
	start, startAcc, err := r.startNetwork(ctx, startEval)
	if err != nil {
		return r.dir, err
	}
	if start.Weights == nil && !c.DryRun {
		return r.dir, fmt.Errorf("%s holds a dry run's start network (an architecture without weights, from --evaluator virtual): choose another --out to train for real", r.dir)
	}
	dirs, err := r.searches(ctx, start, startAcc)
	if err != nil {
		return r.dir, err
	}
	if e.Final.Top > 0 && !c.DryRun {
		for _, dir := range dirs {
			if err := r.final(ctx, dir); err != nil {
				return r.dir, err
			}
		}
	}
	return r.dir, nil
}

// loadData loads the split (not for dry runs) and the checkpoints' metadata.
func (r *run) loadData() error {
	if r.DryRun {
		return nil
	}
	d := r.Exp.Dataset
	r.Log.Printf("loading %s data from %s", d.Kind, d.Path)
	split, err := r.Data(d)
	if err != nil {
		return fmt.Errorf("dataset %q: %w (set --data %s=PATH or EAS_DATA_%s)", d.Name, err, d.Name, strings.ToUpper(d.Name))
	}
	r.split = split
	r.Log.Printf("data: %s", split.Describe())
	if r.Meta != nil {
		r.ckpt.Meta = r.Meta(d, split)
	}
	return nil
}

// searches runs every selected search, each repeat in its own directory,
// and returns the directories.
func (r *run) searches(ctx context.Context, start sdk.Network, startAcc float64) ([]string, error) {
	var dirs []string
	for _, s := range r.Exp.Searches {
		if len(r.Only) > 0 && !slices.Contains(r.Only, s.Name) {
			continue
		}
		if !filepath.IsLocal(s.Name) {
			return nil, fmt.Errorf("search name %q does not name a folder inside %s", s.Name, r.dir)
		}
		if r.Repeat > 0 {
			s.Repeat = r.Repeat
		}
		for k := 1; k <= s.Runs(); k++ {
			dir, one := filepath.Join(r.dir, s.Name), s
			if s.Runs() > 1 {
				// One run directory per seed, grouped under the search's folder.
				dir = filepath.Join(dir, fmt.Sprintf("r%d", k))
				one.Name, one.Seed = fmt.Sprintf("%s/r%d", s.Name, k), s.RunSeed(k)
				if _, err := os.Stat(filepath.Join(r.dir, s.Name, "networks.jsonl")); err == nil {
					return nil, fmt.Errorf("%s holds a single run of search %q; repeat = %d needs another --out", filepath.Join(r.dir, s.Name), s.Name, s.Runs())
				}
			}
			dirs = append(dirs, dir)
			if err := r.search(ctx, one, dir, start, startAcc); err != nil {
				return nil, fmt.Errorf("search %q: %w", one.Name, err)
			}
		}
	}
	return dirs, nil
}

// search runs one search (one repeat) in dir.
func (r *run) search(ctx context.Context, s experiment.Search, dir string, start sdk.Network, startAcc float64) error {
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Dropped {
		r.Log.Printf("%s: dropped a torn last record left by a crash", dir)
	}
	if err := recordStart(st, start, startAcc); err != nil {
		return err
	}
	// Transforms and controllers come from the plugin host: built-ins and
	// the search's plugins.
	tfs, ctrl, set, err := r.Plugins.Search(ctx, r.File, s, filepath.Join(filepath.Dir(dir), "plugins.log"))
	if err != nil {
		return err
	}
	defer set.Close()
	var d search.Data
	if r.split != nil {
		d = r.split
	}
	sr := &search.Runner{Exp: r.Exp, Search: s, Transforms: tfs, Controller: ctrl, Eval: r.eval, Data: d, Store: st, Ckpt: r.ckpt,
		Start: start, StartAcc: startAcc, OnEvent: r.Log.Progress}
	r.Log.Begin(s)
	err = sr.Run(ctx)
	r.Log.End()
	return err
}
