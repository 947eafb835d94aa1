package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/fidelity"
	"github.com/eas-go/eas/core/pipeline"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/dsl/diag"
	"github.com/eas-go/eas/plugins/host"
	"github.com/eas-go/eas/plugins/sdk"
)

// FidelityCmd checks, before a search spends its budget, whether its reward
// (a child's validation accuracy after the child schedule) ranks children as
// longer training would.
type FidelityCmd struct {
	File            string            `arg:"" optional:"" type:"existingfile" help:"Experiment file (.eas)."`
	Show            string            `type:"existingfile" help:"Print the report of a check's result file (<search>.json, or a check in progress: <search>.partial.json, analysed over what every network finished) instead of running one."`
	Search          string            `help:"The search whose reward is checked (default: the file's first)."`
	Children        int               `default:"8" help:"Children sampled as the search's first episode would (K, at least 3)."`
	Seeds           int               `default:"3" help:"Data-order seeds each network is trained with at the child schedule (R, at least 2)."`
	ReferenceEpochs int               `help:"Epochs of the reference schedule (0: 4x the child epochs)."`
	ReferenceSeeds  int               `default:"1" help:"Data-order seeds at the reference schedule."`
	Out             string            `default:"runs" help:"Folder for run directories; the check writes to <out>/<experiment>/fidelity/."`
	Data            map[string]string `help:"Dataset location overrides, NAME=PATH (also EAS_DATA_<NAME>)."`
	Workers         int               `help:"Networks trained in parallel (0: chosen from cores and memory, as easrun run does)."`
	Plain           bool              `help:"Accepted for symmetry with easrun run (the check prints one line per training)."`

	// Deps: as RunCmd's (data, evaluator, plugin host); nil fields take the defaults.
	Deps RunDeps `kong:"-"`
}

// Run trains the check's networks and prints its report.
func (c *FidelityCmd) Run(g *Globals) error {
	if c.Show != "" {
		return showFidelity(g, c.Show)
	}
	if c.File == "" {
		return errors.New("give an experiment file (easrun fidelity FILE.eas) or --show RESULT.json")
	}
	src, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	e, l := dsl.ParseExperiment(c.File, src, knownNamesFor(c.File))
	diag.Write(g.Stderr, string(src), l)
	if l.HasErrors() {
		return Exit(1)
	}
	s, err := pickSearch(e, c.Search)
	if err != nil {
		return err
	}
	cfg := fidelity.Config{Children: c.Children, Seeds: c.Seeds, ReferenceEpochs: c.ReferenceEpochs, ReferenceSeeds: c.ReferenceSeeds}
	if cfg, err = cfg.Resolve(e.Child.Epochs); err != nil {
		return err
	}
	if !s.Control {
		return fmt.Errorf("search %q: %w", s.Name, fidelity.ErrNoControl)
	}
	dir := filepath.Join(c.Out, e.Name, "fidelity")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer host.CleanupAll()
	log := newLogger(g, true)
	rc := &RunCmd{File: c.File, Out: c.Out, Resume: true, Plain: true, Workers: c.Workers, Deps: c.Deps, Timeout: 10 * time.Minute}
	dsl.ResolveData(&e.Dataset, c.Data, filepath.Dir(c.File))
	be, err := openEngine(rc.EngineFlags, 0)
	if err != nil {
		return err
	}
	// The check keeps its own start network (trained once, reused by later
	// checks of the same file) in its folder, checked like a run's.
	pc := pipeline.Config{File: c.File, Source: src, Exp: e, Dir: dir, Resume: true, Parse: experimentParser(c.File),
		Data: c.Deps.Data, Meta: dataMeta, Backend: be, Log: log,
		Evaluator: func(_ context.Context, _ string, split *data.Split) (pipeline.Evaluation, error) {
			ev, err := rc.localEval(split, log)
			return pipeline.Evaluation{Eval: ev}, err
		}}
	if pc.Data == nil {
		pc.Data = loadSplit
	}
	sess, err := pipeline.Open(ctx, pc)
	if err != nil {
		return err
	}
	defer sess.Close()
	start, startAcc, eval, split := sess.Start, sess.StartAcc, sess.Eval, sess.Split
	res, err := rc.checkFidelity(ctx, e, s, cfg, start, startAcc, eval, split, dir, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, res.Markdown())
	fmt.Fprintf(g.Stdout, "wrote %s and %s\n", filepath.Join(dir, s.Name+".md"), filepath.Join(dir, s.Name+".json"))
	return nil
}

// pickSearch finds the named search, or the first.
func pickSearch(e *experiment.Experiment, name string) (experiment.Search, error) {
	if len(e.Searches) == 0 {
		return experiment.Search{}, fmt.Errorf("%s has no search block", e.Name)
	}
	if name == "" {
		return e.Searches[0], nil
	}
	var names []string
	for _, s := range e.Searches {
		if s.Name == name {
			return s, nil
		}
		names = append(names, fmt.Sprintf("%q", s.Name))
	}
	return experiment.Search{}, fmt.Errorf("no search %q in %s (it has %s)", name, e.Name, strings.Join(names, ", "))
}

// localEval is RunDeps.Evaluator or a local pool of --workers networks.
func (c *RunCmd) localEval(split *data.Split, log *logger) (search.Evaluator, error) {
	if c.Deps.Evaluator != nil {
		return c.Deps.Evaluator, nil
	}
	pool := c.Workers
	if pool <= 0 {
		pool = autoPool(runtime.NumCPU(), totalMemGiB())
	}
	workers := max(1, runtime.NumCPU()/pool)
	child, err := openEngine(c.EngineFlags, workers)
	if err != nil {
		return nil, err
	}
	log.printf("evaluator: %d networks in parallel, %d engine workers each", pool, workers)
	return &search.Local{Data: split, Workers: pool, Backend: child}, nil
}

// checkFidelity runs the check of search s with fresh plugins and writes
// <dir>/<search>.json and .md.
func (c *RunCmd) checkFidelity(ctx context.Context, e *experiment.Experiment, s experiment.Search, cfg fidelity.Config, start sdk.Network, startAcc float64,
	eval search.Evaluator, split *data.Split, dir string, log *logger) (*fidelity.Result, error) {
	plugins := c.Deps.Plugins
	if plugins == nil {
		plugins = hostPlugins{timeout: c.Timeout, inProcess: !c.Isolate}
	}
	return c.fidelityIn(ctx, e, s, cfg, start, startAcc, eval, split, plugins, dir, s.Name, filepath.Join(dir, "plugins.log"), log)
}

// fidelityIn runs a check of search s with fresh plugins (the search's own
// controller is not touched) into dir/name.{json,md}.
func (c *RunCmd) fidelityIn(ctx context.Context, e *experiment.Experiment, s experiment.Search, cfg fidelity.Config, start sdk.Network, startAcc float64,
	eval search.Evaluator, split *data.Split, plugins PluginHost, dir, name, pluginLog string, log *logger) (*fidelity.Result, error) {
	tfs, ctl, closer, err := plugins.Search(ctx, c.File, s, pipeline.SearchRun{Log: pluginLog})
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	log.printf("fidelity of search %q: %d children and the control, %d seeds at %d epochs and %d at %d epochs",
		s.Name, cfg.Children, cfg.Seeds, e.Child.Epochs, cfg.ReferenceSeeds, cfg.ReferenceEpochs)
	began := time.Now()
	res, err := fidelity.RunIn(ctx, fidelity.Setup{Exp: e, Search: s, Transforms: tfs, Controller: ctl, Eval: eval, Data: split,
		Start: start, StartAcc: startAcc, ValImages: split.ValSet.N, TrainImages: split.TrainSet.N,
		Progress: func(done, total int, what string) {
			log.printf("[fidelity %s] %d/%d %s (%s)", s.Name, done, total, what, fmtDuration(time.Since(began)))
		}}, cfg, dir, name, func(m string) { log.printf("%s", m) })
	if err != nil {
		return nil, fmt.Errorf("fidelity of search %q: %w", s.Name, err)
	}
	return res, nil
}

// showFidelity prints a recorded check, analysed afresh (a partial one over
// the seeds every network finished).
func showFidelity(g *Globals, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	res, err := fidelity.Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprint(g.Stdout, res.Trimmed().Markdown())
	return nil
}
