package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/pipeline"
	"github.com/eas-go/eas/core/report"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/dsl/diag"
	"github.com/eas-go/eas/plugins/host"
	"github.com/eas-go/eas/plugins/sdk"
)

// RunCmd runs the searches of an experiment file.
type RunCmd struct {
	File      string            `arg:"" type:"existingfile" help:"Experiment file (.eas)."`
	Out       string            `default:"runs" help:"Folder for run directories (runs/<experiment>/<search>/)."`
	Resume    bool              `help:"Continue an interrupted run in the same folder instead of refusing to overwrite it."`
	Evaluator string            `default:"local" help:"An evaluator registered with core/pipeline. local: train every child here; nats: train on easrun workers through NATS JetStream (see --listen, --connect); virtual: score architectures by a deterministic formula (seconds, for dry runs)."`
	Workers   int               `help:"Children trained in parallel (0: chosen from cores and memory: one per 4 cores, at most one per 2 GiB; the cores are shared out among them)."`
	Data      map[string]string `help:"Dataset location overrides, NAME=PATH (also EAS_DATA_<NAME>)."`
	Plain     bool              `help:"One line per event instead of progress bars."`
	Search    []string          `help:"Run only these searches (default: all)."`
	Repeat    int               `help:"Run every search with N seeds (seed, seed+1, ...), for means and confidence intervals; 0: as each search's repeat says."`
	Isolate   bool              `help:"Serve the built-in transforms and controllers from separate easrun processes over the plugin wire too (default: in-process, measured about 15x cheaper per call); third-party plugins always run as separate processes."`
	Timeout   time.Duration     `default:"10m" help:"Deadline of one plugin call (a hung plugin is restarted and its network marked failed)."`
	NatsFlags `embed:""`

	RunServeFlags `embed:""` // --serve: the run's live dashboard

	// Deps are the command's collaborators besides the file system; easrun
	// leaves them empty and gets the defaults built from the flags, tests
	// inject their own.
	Deps RunDeps `kong:"-"`

	EngineFlags `embed:""`
}

// RunDeps are what `easrun run` trains with, reads data from and resolves
// plugins through. Nil fields take the defaults.
type RunDeps struct {
	// Data opens the experiment's data set (default: data.LoadSplit of the
	// dataset's KIND:PATH). It is not called with --evaluator virtual.
	Data func(d experiment.Dataset) (*data.Split, error)
	// Evaluator trains and scores the children (default: search.Local with
	// --workers children at once, or search.Virtual with --evaluator virtual).
	Evaluator search.Evaluator
	// Plugins resolves a search's transforms and controller (default: the
	// plugin host with the built-ins, in-process unless --isolate).
	Plugins PluginHost
}

// PluginHost resolves the transforms and the controller of a search.
type PluginHost = pipeline.PluginHost

// hostPlugins is the default PluginHost: plugins/host with the built-ins.
type hostPlugins struct {
	timeout   time.Duration
	inProcess bool
}

func (h hostPlugins) Search(ctx context.Context, easFile string, s experiment.Search, run pipeline.SearchRun) (map[string]sdk.Transform, sdk.Controller, io.Closer, error) {
	return openSearchPlugins(ctx, easFile, s, run, pluginOptions(run.Log, h.timeout, h.inProcess))
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// loadSplit is the default RunDeps.Data.
func loadSplit(d experiment.Dataset) (*data.Split, error) {
	return data.LoadSplit(d.Kind+":"+d.Path, splitOptions(d))
}

// dataMeta is what every checkpoint of a run records about its data.
func dataMeta(d experiment.Dataset, s *data.Split) map[string]string {
	return splitMeta(d.Kind+":"+d.Path, splitOptions(d), s)
}

// Run performs the experiment: the pipeline does the work, this wires the
// flags in and writes the report.
func (c *RunCmd) Run(g *Globals) error {
	src, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	e, l := dsl.ParseExperiment(c.File, src, knownNamesFor(c.File))
	diag.Write(g.Stderr, string(src), l)
	if l.HasErrors() {
		return Exit(1)
	}
	dsl.ResolveData(&e.Dataset, c.Data, filepath.Dir(c.File))
	defer host.CleanupAll()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(g, c.Plain)
	stopDashboard, err := c.serveDashboard(ctx, g, filepath.Join(c.Out, e.Name))
	if err != nil {
		return err
	}
	defer stopDashboard()
	be, err := openEngine(c.EngineFlags, 0)
	if err != nil {
		return err
	}
	kind, err := pipeline.LookupEvaluator(c.Evaluator)
	if err != nil {
		return fmt.Errorf("--evaluator: %w", err)
	}
	cfg := pipeline.Config{File: c.File, Source: src, Exp: e, Out: c.Out, Resume: c.Resume, Only: c.Search, Repeat: c.Repeat,
		DryRun: kind.DryRun, Parse: experimentParser(c.File), Data: c.Deps.Data, Meta: dataMeta, Backend: be,
		Evaluator: c.evaluator(kind, e, be, log), Plugins: c.Deps.Plugins, Log: log}
	if cfg.Data == nil {
		cfg.Data = loadSplit
	}
	if cfg.Plugins == nil {
		cfg.Plugins = hostPlugins{timeout: c.Timeout, inProcess: !c.Isolate}
	}
	expDir, err := pipeline.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return writeRunReport(g, expDir, e)
}

// experimentParser reads the run directory's own copy of an experiment
// file, with the names the plugins reachable from file declare.
func experimentParser(file string) func(name string, src []byte) (*experiment.Experiment, error) {
	return func(name string, src []byte) (*experiment.Experiment, error) {
		e, l := dsl.ParseExperiment(name, src, knownNamesFor(file))
		return e, l.Err()
	}
}

// evaluator makes the --evaluator chosen (pipeline.RegisterEvaluator)
// once the data is loaded.
func (c *RunCmd) evaluator(kind pipeline.EvaluatorKind, e *experiment.Experiment, be engine.Backend, log *logger) func(context.Context, string, *data.Split) (pipeline.Evaluation, error) {
	return func(ctx context.Context, expDir string, split *data.Split) (pipeline.Evaluation, error) {
		log.printf("engine: %s", be.Describe())
		if err := recordEngine(expDir, be); err != nil {
			return pipeline.Evaluation{}, err
		}
		var notes strings.Builder
		blasNotes(&notes)
		for _, l := range strings.Split(strings.TrimSpace(notes.String()), "\n") {
			if l != "" {
				log.printf("%s", l)
			}
		}
		if c.Deps.Evaluator != nil {
			return pipeline.Evaluation{Eval: c.Deps.Evaluator}, nil
		}
		pool := c.Workers
		if pool <= 0 {
			pool = autoPool(runtime.NumCPU(), totalMemGiB())
		}
		engineFor := func(workers int) (engine.Backend, error) { return openEngine(c.EngineFlags, workers) }
		return kind.New(ctx, pipeline.EvaluatorEnv{Dir: expDir, Exp: e, Data: split, Workers: pool, Engine: engineFor, Log: log, Settings: c})
	}
}

// writeRunReport writes the experiment's tables and plots.
func writeRunReport(g *Globals, expDir string, e *experiment.Experiment) error {
	ss, err := report.Load(expDir)
	if err != nil {
		return err
	}
	every := 10
	if len(e.Searches) > 0 {
		every = e.Searches[0].PerEpisode
	}
	fmt.Fprintln(g.Stdout)
	files, err := report.Write(g.Stdout, expDir, ss, e.Report, every)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "wrote %d report files to %s (report.md, *.csv, *.png, *.svg)\n", len(files), expDir)
	return nil
}
