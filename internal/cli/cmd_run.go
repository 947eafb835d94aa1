package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/report"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/train"
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
	Evaluator string            `default:"local" enum:"local,virtual,nats" help:"local: train every child here; nats: train on easrun workers through NATS JetStream (see --listen, --connect); virtual: score architectures by a deterministic formula (seconds, for dry runs)."`
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

	ckpt ckptAdapter // saves networks with the data's metadata (set once the data is loaded)

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

// PluginHost resolves the transforms and the controller of a search; the
// closer ends the plugins it started.
type PluginHost interface {
	Search(ctx context.Context, easFile string, s experiment.Search, logFile string) (map[string]sdk.Transform, sdk.Controller, io.Closer, error)
}

// hostPlugins is the default PluginHost: plugins/host with the built-ins.
type hostPlugins struct {
	timeout   time.Duration
	inProcess bool
}

func (h hostPlugins) Search(ctx context.Context, easFile string, s experiment.Search, logFile string) (map[string]sdk.Transform, sdk.Controller, io.Closer, error) {
	tfs, ctl, set, err := searchPlugins(ctx, easFile, s, pluginOptions(logFile, h.timeout, h.inProcess))
	if err != nil {
		return nil, nil, nil, err
	}
	return tfs, ctl, closerFunc(set.Close), nil
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// loadSplit is the default RunDeps.Data.
func loadSplit(d experiment.Dataset) (*data.Split, error) {
	return data.LoadSplit(d.Kind+":"+d.Path, splitOptions(d))
}

// ckptAdapter saves and loads a search's networks; every checkpoint it
// writes also records the training data's normalisation and split (meta).
type ckptAdapter struct{ meta map[string]string }

// weightsKey marks a checkpoint that holds an architecture only (dry runs).
const weightsKey = "weights"

func (a ckptAdapter) Save(path string, n sdk.Network, meta map[string]string) error {
	meta = withMeta(a.meta, meta)
	if n.Weights == nil {
		meta[weightsKey] = "none"
	}
	return checkpoint.Save(path, n.Arch, n.Input, n.Weights, meta)
}

// Load accepts the architecture-only checkpoints of dry runs too (Weights
// nil); loadNetwork, for commands that need weights, refuses them.
func (ckptAdapter) Load(path string) (sdk.Network, error) {
	n, _, err := readNetwork(path, true)
	return n, err
}

// loadNetwork reads a checkpoint and checks its weights against its
// architecture; the checkpoint is returned for its metadata.
func loadNetwork(path string) (sdk.Network, *checkpoint.Checkpoint, error) {
	return readNetwork(path, false)
}

func readNetwork(path string, archOnly bool) (sdk.Network, *checkpoint.Checkpoint, error) {
	ck, err := checkpoint.Load(path)
	if err != nil {
		return sdk.Network{}, nil, err
	}
	a, l := dsl.ParseArch(path, ck.ArchString)
	if err := l.Err(); err != nil {
		return sdk.Network{}, nil, err
	}
	g, err := ir.Lower(a, ck.Input)
	if err != nil {
		return sdk.Network{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	if ck.Meta[weightsKey] == "none" && len(ck.Params) == 0 {
		if !archOnly {
			return sdk.Network{}, nil, fmt.Errorf("%s holds an architecture without weights (written by a dry run, --evaluator virtual)", path)
		}
		return sdk.Network{Arch: a, Input: ck.Input}, ck, nil
	}
	if err := ck.Verify(g); err != nil {
		return sdk.Network{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return sdk.Network{Arch: a, Input: ck.Input, Weights: ck.Weights()}, ck, nil
}

// Run performs the experiment.
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
	if !filepath.IsLocal(e.Name) { // the parser refuses such names; this guards other producers of an Experiment
		return fmt.Errorf("experiment name %q does not name a folder inside --out", e.Name)
	}
	expDir := filepath.Join(c.Out, e.Name)
	lock, err := store.TryLock(expDir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	manifest, err := c.checkRunDir(expDir, src, e)
	if err != nil {
		return err
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
	virtual := c.Evaluator == "virtual"
	var split *data.Split
	in := e.Start.Input
	if !virtual {
		load := c.Deps.Data
		if load == nil {
			load = loadSplit
		}
		log.printf("loading %s data from %s", e.Dataset.Kind, e.Dataset.Path)
		split, err = load(e.Dataset)
		if err != nil {
			return fmt.Errorf("dataset %q: %w (set --data %s=PATH or EAS_DATA_%s)", e.Dataset.Name, err, e.Dataset.Name, strings.ToUpper(e.Dataset.Name))
		}
		in = split.TrainSet.Shape
		log.printf("data: %s", split.Describe())
		d := e.Dataset
		c.ckpt.meta = splitMeta(d.Kind+":"+d.Path, data.SplitOptions{Validation: d.Validation, Seed: d.ValidationSeed, Limit: d.Limit,
			Normalize: d.Normalize, Augment: d.Augment}, split)
	}
	be, err := openEngine(c.EngineFlags, 0)
	if err != nil {
		return err
	}
	log.printf("engine: %s", be.Describe())
	if err := recordEngine(expDir, be); err != nil {
		return err
	}
	var notes strings.Builder
	blasNotes(&notes)
	for _, l := range strings.Split(strings.TrimSpace(notes.String()), "\n") {
		if l != "" {
			log.printf("%s", l)
		}
	}
	eval := c.Deps.Evaluator
	remote := false // the start network trains through eval too
	switch {
	case eval != nil:
	case c.Evaluator == "nats":
		n, err := startNats(ctx, c.NatsFlags, expDir, e, split, log)
		if err != nil {
			return err
		}
		defer n.Close()
		eval, remote = n.ev, true
	case virtual:
		d, err := virtualDelay()
		if err != nil {
			return err
		}
		eval = &search.Virtual{Delay: d}
	default:
		pool := c.Workers
		if pool <= 0 {
			pool = autoPool(runtime.NumCPU(), totalMemGiB())
		}
		workers := max(1, runtime.NumCPU()/pool)
		child, err := openEngine(c.EngineFlags, workers)
		if err != nil {
			return err
		}
		log.printf("evaluator: %d children in parallel, %d engine workers each", pool, workers)
		eval = &search.Local{Data: split, Workers: pool, Backend: child}
	}
	var startEval search.Evaluator
	if remote {
		startEval = eval
	}
	start, startAcc, err := c.startNetwork(ctx, e, expDir, manifest, in, split, be, startEval, log)
	if err != nil {
		return err
	}
	if start.Weights == nil && !virtual {
		return fmt.Errorf("%s holds a dry run's start network (an architecture without weights, from --evaluator virtual): choose another --out to train for real", expDir)
	}
	plugins := c.Deps.Plugins
	if plugins == nil {
		plugins = hostPlugins{timeout: c.Timeout, inProcess: !c.Isolate}
	}
	var dirs []string
	for _, s := range e.Searches {
		if len(c.Search) > 0 && !slices.Contains(c.Search, s.Name) {
			continue
		}
		if !filepath.IsLocal(s.Name) {
			return fmt.Errorf("search name %q does not name a folder inside %s", s.Name, expDir)
		}
		if c.Repeat > 0 {
			s.Repeat = c.Repeat
		}
		for k := 1; k <= s.Runs(); k++ {
			dir, run := filepath.Join(expDir, s.Name), s
			if s.Runs() > 1 {
				// One run directory per seed, grouped under the search's folder.
				dir = filepath.Join(dir, fmt.Sprintf("r%d", k))
				run.Name, run.Seed = fmt.Sprintf("%s/r%d", s.Name, k), s.RunSeed(k)
				if _, err := os.Stat(filepath.Join(expDir, s.Name, "networks.jsonl")); err == nil {
					return fmt.Errorf("%s holds a single run of search %q; repeat = %d needs another --out", filepath.Join(expDir, s.Name), s.Name, s.Runs())
				}
			}
			dirs = append(dirs, dir)
			if err := c.runSearch(ctx, e, run, dir, start, startAcc, eval, split, plugins, log); err != nil {
				return fmt.Errorf("search %q: %w", run.Name, err)
			}
		}
	}
	if e.Final.Top > 0 && !virtual {
		for _, dir := range dirs {
			if err := c.final(ctx, e, dir, eval, log); err != nil {
				return err
			}
		}
	}
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

// virtualDelay reads EAS_VIRTUAL_DELAY (e.g. 50ms), used by crash tests.
func virtualDelay() (time.Duration, error) {
	v := os.Getenv("EAS_VIRTUAL_DELAY")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("EAS_VIRTUAL_DELAY: %w", err)
	}
	return d, nil
}

// checkRunDir starts a new run directory (the experiment file's copy, its
// hash, versions.json) or, with --resume, checks that the directory still
// matches its inputs: the run's own experiment.eas is kept, must be as the
// run wrote it, and must not differ from the given file in anything that
// changes results. Called with the directory locked.
func (c *RunCmd) checkRunDir(dir string, src []byte, e *experiment.Experiment) (store.Manifest, error) {
	runEAS := filepath.Join(dir, "experiment.eas")
	old, err := os.ReadFile(runEAS)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, err := os.Stat(filepath.Join(dir, "start.safetensors")); err == nil {
			return store.Manifest{}, fmt.Errorf("%s holds a start network but no experiment.eas: not a run directory this easrun can continue; choose another --out", dir)
		}
		m := store.Manifest{Experiment: store.SHA256(src)}
		if err := store.WriteFileAtomic(runEAS, src); err != nil {
			return m, err
		}
		if err := store.WriteManifest(dir, m); err != nil {
			return m, err
		}
		return m, writeProvenance(dir)
	case err != nil:
		return store.Manifest{}, err
	case !c.Resume:
		return store.Manifest{}, fmt.Errorf("%s already holds a run: add --resume to continue it, or choose another --out", dir)
	}
	m, ok, err := store.ReadManifest(dir)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, fmt.Errorf("%s has no %s (made by an older easrun?): cannot check that it matches %s; start a new run with another --out", dir, store.ManifestName, c.File)
	}
	if store.SHA256(old) != m.Experiment {
		return m, fmt.Errorf("%s was edited after the run started (its hash differs from the one in %s): the run's record of what ran is no longer trustworthy", runEAS, store.ManifestName)
	}
	was, l := dsl.ParseExperiment(runEAS, old, knownNamesFor(c.File))
	if err := l.Err(); err != nil {
		return m, fmt.Errorf("the run's own experiment file no longer parses: %w", err)
	}
	if d := experiment.ResumeDiff(was, e); len(d) > 0 {
		return m, fmt.Errorf("%s differs from the experiment this run was started with (%s) in what changes results:\n  %s\nrestore those settings to resume, or start a new run (another --out or experiment name)",
			c.File, runEAS, strings.Join(d, "\n  "))
	}
	return m, nil
}

func writeProvenance(dir string) error {
	v := map[string]string{"go": runtime.Version(), "blas": nn.BLASName(), "blas_core": nn.BLASCore(), "blas_core_note": nn.BLASCoreNote(), "kernels": nn.KernelsName(), "os": runtime.GOOS + "/" + runtime.GOARCH,
		"started": time.Now().UTC().Format(time.RFC3339)}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v["eas"] = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v["revision"] = s.Value
			}
		}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(dir, "versions.json"), b)
}

// startNetwork trains (or loads) the start network once for all searches.
// With eval set (a distributed run) the training is one job of eval.
func (c *RunCmd) startNetwork(ctx context.Context, e *experiment.Experiment, dir string, manifest store.Manifest, in ir.Shape, split *data.Split, be engine.Backend, eval search.Evaluator, log *logger) (sdk.Network, float64, error) {
	path := filepath.Join(dir, "start.safetensors")
	ck := c.ckpt
	if _, err := os.Stat(path); err == nil {
		if err := store.VerifyFile(path, manifest.Start, "start network"); err != nil {
			return sdk.Network{}, 0, fmt.Errorf("resuming: %w", err)
		}
		n, meta, err := readNetwork(path, true) // a dry run's start has no weights
		if err != nil {
			return sdk.Network{}, 0, fmt.Errorf("resuming: %w", err)
		}
		acc, err := strconv.ParseFloat(meta.Meta["val_acc"], 64)
		if err != nil {
			return sdk.Network{}, 0, fmt.Errorf("resuming: %s: metadata val_acc %q: not a number", path, meta.Meta["val_acc"])
		}
		log.printf("start network from %s: %s (validation accuracy %.2f%%)", path, n.Arch, 100*acc)
		return n, acc, nil
	}
	var net sdk.Network
	if e.Start.Checkpoint != "" {
		n, err := ck.Load(e.Start.Checkpoint)
		if err != nil {
			return net, 0, err
		}
		net = n
	} else {
		a := e.Start.Arch
		g, err := ir.Lower(a, in)
		if err != nil {
			return net, 0, fmt.Errorf("start network on %s images: %w", shapeHWC(in), err)
		}
		if err := train.FitsMemory(nil, g, e.Start.Train.Batch); err != nil {
			return net, 0, fmt.Errorf("start network: %w", err)
		}
		net = sdk.Network{Arch: a, Input: in, Weights: nn.InitParams(g, e.Start.Train.Seed+1)}
	}
	g, err := ir.Lower(net.Arch, net.Input)
	if err != nil {
		return net, 0, err
	}
	var acc float64
	if split == nil {
		// A dry run transforms architectures only: no weights, no data.
		net.Weights = nil
		acc = search.VirtualScore(net.Arch, net.Input)
	} else {
		if got := g.Nodes[g.Output()].Out.C; got != split.TrainSet.Classes {
			return net, 0, fmt.Errorf("the start network ends in SM(%d) but the data set has %d classes", got, split.TrainSet.Classes)
		}
		tr := e.Start.Train
		if e.Start.Checkpoint != "" && tr.Epochs == experiment.PaperChild().Epochs {
			tr.Epochs = 0 // a given checkpoint is used as it is unless epochs are set
		}
		log.printf("training the start network %s for %d epochs", net.Arch, tr.Epochs)
		if eval != nil {
			out := eval.Evaluate(ctx, []search.Job{{ID: 0, Arch: net.Arch, Input: net.Input, Weights: net.Weights, Training: tr}}, nil)
			if out[0].Err != nil {
				return net, 0, fmt.Errorf("training the start network: %w", out[0].Err)
			}
			acc = out[0].Acc
		} else {
			bar := newEpochBar(log.w, c.Plain)
			res, err := train.Train(ctx, g, net.Weights, split.Train(tr.Seed, tr.Batch), split.Val(256), train.Config{Training: tr, Backend: be}, bar.event)
			if err != nil {
				return net, 0, fmt.Errorf("training the start network: %w", err)
			}
			acc = res.ValAcc
		}
	}
	// The hash is recorded before the file exists: a crash in between
	// leaves no start network, which the resume makes again.
	meta := withMeta(c.ckpt.meta, map[string]string{"val_acc": fmt.Sprint(acc)})
	if net.Weights == nil {
		meta[weightsKey] = "none" // a dry run's architecture-only start
	}
	b, err := checkpoint.Encode(net.Arch, net.Input, net.Weights, meta)
	if err != nil {
		return net, 0, fmt.Errorf("start network: %w", err)
	}
	manifest.Start = store.SHA256(b)
	if err := store.WriteManifest(dir, manifest); err != nil {
		return net, 0, err
	}
	if err := store.WriteFileAtomic(path, b); err != nil {
		return net, 0, err
	}
	log.printf("start network: %s, validation accuracy %.2f%%", net.Arch, 100*acc)
	return net, acc, nil
}

func (c *RunCmd) runSearch(ctx context.Context, e *experiment.Experiment, s experiment.Search, dir string, start sdk.Network, startAcc float64,
	eval search.Evaluator, split *data.Split, plugins PluginHost, log *logger) error {
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Dropped {
		log.printf("%s: dropped a torn last record left by a crash", dir)
	}
	hasStart := false
	for _, r := range st.Records() {
		hasStart = hasStart || r.Kind == "start"
	}
	if !hasStart {
		g, err := ir.Lower(start.Arch, start.Input)
		if err != nil {
			return fmt.Errorf("start network: %w", err)
		}
		p, m := g.Cost()
		if err := st.Append(store.Record{Kind: "start", Stage: 1, Arch: start.Arch.String(), Hash: start.Arch.Hash(), Depth: start.Arch.Depth(),
			Params: p, MAdds: m, ValAcc: startAcc, Status: store.StatusOK, Weights: "../start.safetensors"}); err != nil {
			return err
		}
	}
	// Transforms and controllers come from the plugin host: built-ins
	// (in-process, or separate processes with --isolate) and the search's
	// plugins (plugins = [...], ./plugins next to the file, $EAS_PLUGIN_PATH).
	tfs, ctrl, set, err := plugins.Search(ctx, c.File, s, filepath.Join(filepath.Dir(dir), "plugins.log"))
	if err != nil {
		return err
	}
	defer set.Close()
	var d search.Data
	if split != nil {
		d = split
	}
	r := &search.Runner{Exp: e, Search: s, Transforms: tfs, Controller: ctrl, Eval: eval, Data: d, Store: st, Ckpt: c.ckpt,
		Start: start, StartAcc: startAcc, OnEvent: log.progress}
	log.begin(s)
	err = r.Run(ctx)
	log.end()
	return err
}

// final trains the top networks of a search on the full training data and
// scores them on the test set.
func (c *RunCmd) final(ctx context.Context, e *experiment.Experiment, dir string, eval search.Evaluator, log *logger) error {
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	done := map[string]bool{}
	for _, r := range st.Records() {
		if r.Kind == "final" {
			done[r.Arch] = true
		}
	}
	for _, top := range search.Top(st.Records(), e.Final.Top) {
		if done[top.Arch] {
			continue
		}
		var net sdk.Network
		if top.Weights != "" {
			path := filepath.Join(dir, top.Weights)
			err := store.VerifyRecorded(path, top.WeightsSHA256, fmt.Sprintf("checkpoint of network %d", top.ID))
			var n sdk.Network
			if err == nil {
				n, err = (ckptAdapter{}).Load(path)
			}
			if err != nil {
				log.printf("network %d: %v; training it from scratch", top.ID, err)
			}
			net = n
		}
		if net.Weights == nil { // no checkpoint kept: train from scratch
			a, l := dsl.ParseArch(dir, top.Arch)
			if err := l.Err(); err != nil {
				return err
			}
			start, err := (ckptAdapter{}).Load(filepath.Join(filepath.Dir(dir), "start.safetensors"))
			if err != nil {
				return err
			}
			g, err := ir.Lower(a, start.Input)
			if err != nil {
				return err
			}
			net = sdk.Network{Arch: a, Input: start.Input, Weights: nn.InitParams(g, e.Final.Training.Seed+7)}
		}
		log.printf("final training of network %d (%s) for %d epochs", top.ID, net.Arch, e.Final.Training.Epochs)
		out := eval.Evaluate(ctx, []search.Job{{ID: top.ID, Arch: net.Arch, Input: net.Input, Weights: net.Weights, Training: e.Final.Training, Full: e.Final.FullData}}, nil)
		rec := store.Record{ID: top.ID, Kind: "final", Arch: top.Arch, Hash: top.Hash, Depth: top.Depth, Params: top.Params, MAdds: top.MAdds,
			ValAcc: top.ValAcc, Epochs: e.Final.Training.Epochs, Seconds: out[0].Duration.Seconds(), Status: store.StatusOK}
		if out[0].Err != nil {
			if errors.Is(out[0].Err, context.Canceled) {
				return out[0].Err
			}
			rec.Status, rec.Error = store.StatusFailed, out[0].Err.Error()
		} else {
			rec.TestAcc = out[0].Acc
			rec.Weights = filepath.Join("checkpoints", fmt.Sprintf("final-%04d.safetensors", top.ID))
			if err := c.ckpt.Save(filepath.Join(dir, rec.Weights), net, map[string]string{"test_acc": fmt.Sprint(out[0].Acc)}); err != nil {
				return fmt.Errorf("network %d: %w", top.ID, err)
			}
		}
		if err := st.Append(rec); err != nil {
			return err
		}
		log.printf("network %d: test accuracy %.2f%%", top.ID, 100*rec.TestAcc)
	}
	return nil
}

// logger prints search progress to the command's Stderr: a bar on a
// terminal, plain lines otherwise.
type logger struct {
	w     io.Writer
	plain bool
	bar   *progressbar.ProgressBar
}

func newLogger(g *Globals, plain bool) *logger {
	return &logger{w: g.Stderr, plain: plain || !isTerminal(g.Stderr)}
}

func (l *logger) out(s string) { fmt.Fprintln(l.w, s) }

func (l *logger) printf(format string, args ...any) {
	if l.bar != nil {
		l.bar.Clear()
	}
	l.out(fmt.Sprintf(format, args...))
}

func (l *logger) begin(s experiment.Search) {
	l.printf("search %q: controller %s, %d networks, %d per episode", s.Name, s.Controller, s.Budget, s.PerEpisode)
	if !l.plain {
		l.bar = progressbar.NewOptions(s.Budget, progressbar.OptionSetWriter(l.w), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(25), progressbar.OptionSetDescription(s.Name))
	}
}

func (l *logger) end() {
	if l.bar != nil {
		l.bar.Finish()
		fmt.Fprintln(l.w)
		l.bar = nil
	}
}

func (l *logger) progress(p search.Progress) {
	eta := ""
	if p.EstimatedTotal > 0 {
		eta = ", ETA " + fmtDuration(p.EstimatedTotal-p.Elapsed)
	}
	if l.bar != nil {
		l.bar.Describe(fmt.Sprintf("%s stage %d episode %d best %.2f%%%s", p.Search, max(p.Stage, 1), p.Episode, 100*p.Best, eta))
		l.bar.Set(p.Done)
		if p.Last == nil && p.Message != "" {
			l.printf("%s", p.Message)
		}
		return
	}
	if p.Last != nil {
		r := p.Last
		status := fmt.Sprintf("%.2f%%", 100*r.ValAcc)
		if r.Status == store.StatusFailed {
			status = "failed: " + firstLine(r.Error)
		} else if r.Status == store.StatusCached {
			status += " (cached)"
		}
		l.out(fmt.Sprintf("[%s] stage %d episode %d network %d/%d: %s %s; best %.2f%%%s", p.Search, max(p.Stage, 1), p.Episode, r.ID, p.Total, status, r.Arch, 100*p.Best, eta))
		return
	}
	if p.Message != "" {
		l.out(fmt.Sprintf("[%s] %s", p.Search, p.Message))
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// autoPool picks how many children train at once: the engine scales well to
// about 4 cores per network (it splits a batch of 64 over its workers), and a
// child rarely needs more than 2 GiB.
func autoPool(cores int, memGiB float64) int {
	p := max(1, cores/4)
	if memGiB > 0 {
		p = min(p, max(1, int(memGiB/2)))
	}
	return p
}

// totalMemGiB reads MemTotal from /proc/meminfo (0 where unavailable).
func totalMemGiB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0
			}
			return kb / (1 << 20)
		}
	}
	return 0
}
