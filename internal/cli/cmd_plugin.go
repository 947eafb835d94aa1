package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eas-go/eas/builtin"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/plugins/host"
	"github.com/eas-go/eas/plugins/plugintest"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/plugins/sdk/serve"
)

// PluginCmd lists and checks plugins.
type PluginCmd struct {
	List  PluginListCmd  `cmd:"" help:"List the built-in and discovered plugins (name, kind, version, protocol, path)."`
	Check PluginCheckCmd `cmd:"" help:"Run a plugin (an executable, or a built-in's name) through the conformance checks."`
}

// PluginListCmd prints every plugin it can find.
type PluginListCmd struct {
	Dir []string `help:"Extra plugin directories (repeatable); $EAS_PLUGIN_PATH is searched too." type:"existingdir"`
	Eas string   `help:"A .eas file: include the plugins/ folder next to it and its searches' plugins = [...]." type:"existingfile"`
	Log string   `help:"Append plugin logs (and their stderr) to this file."`
}

// PluginCheckCmd runs plugintest on one plugin.
type PluginCheckCmd struct {
	Path      string        `arg:"" help:"Plugin executable, or the name of a built-in transform or controller."`
	Cases     int           `default:"20" help:"Random networks per family for the preservation check."`
	Seed      int64         `default:"1" help:"Seed of the random networks and of the determinism checks."`
	Timeout   time.Duration `default:"30s" help:"Per-call deadline (a call of the checks takes milliseconds; a plugin that hangs fails each check after this)."`
	InProcess bool          `name:"in-process" help:"Run a built-in inside easrun instead of re-executing it."`
	Log       string        `help:"Append plugin logs (and their stderr) to this file."`
	Dir       []string      `help:"Plugin directories whose plugins' names it must not reuse (repeatable); $EAS_PLUGIN_PATH is searched too." type:"existingdir"`
}

// ServeCmd is the hidden `easrun __serve KIND NAME`: easrun re-executes
// itself with it to serve a built-in over the plugin protocol, so built-ins
// and third-party plugins take the same path.
type ServeCmd struct {
	Kind string `arg:"" enum:"transform,controller" help:"transform or controller."`
	Name string `arg:"" help:"Built-in name."`
}

// Run serves until the host closes the plugin.
func (c *ServeCmd) Run(g *Globals) error {
	var p serve.Plugins
	switch c.Kind {
	case sdk.KindTransform:
		// Transforms run networks on the CPU engine (activation
		// statistics): the EAS_* engine variables apply to them too.
		if _, err := openEngine(EngineFlags{Engine: "cpu", Device: "cpu"}, 0); err != nil {
			return err
		}
		t, ok := builtin.Transform(c.Name)
		if !ok {
			return fmt.Errorf("no built-in transform %q (built-ins: %s)", c.Name, strings.Join(builtin.TransformNames(), ", "))
		}
		p.Transform = t
	default:
		ctl, ok := builtin.Controller(c.Name)
		if !ok {
			return fmt.Errorf("no built-in controller %q (built-ins: %s)", c.Name, strings.Join(builtin.ControllerNames(), ", "))
		}
		p.Controller = ctl
	}
	if err := serve.Serve(p); err != nil {
		return fmt.Errorf("__serve is run by easrun itself, as a plugin; it is not meant to be typed: %w", err)
	}
	return nil
}

// knownNames are the registry's built-in names, for the DSL's checks; a
// plugin's names are unknown to it (see knownNamesFor).
func knownNames() dsl.Builtins {
	return dsl.Builtins{Transforms: builtin.TransformNames(), Controllers: builtin.ControllerNames(), DatasetKinds: data.Kinds}
}

// knownNamesRun is knownNames for reading a run's own experiment.eas: a
// name no built-in has was a plugin's, resolved when the run started.
func knownNamesRun() dsl.Builtins {
	k := knownNames()
	k.Plugins = dsl.AnyPlugin
	return k
}

// knownNamesFor adds to knownNames what the plugins each search of easFile
// reaches declare (its plugins = [...], the plugins/ folder next to the file,
// $EAS_PLUGIN_PATH): each plugin is started once, asked, and stopped.
func knownNamesFor(easFile string) dsl.Builtins {
	k := knownNames()
	cat := host.NewCatalog(filepath.Dir(easFile), nil, host.Options{CallTimeout: 30 * time.Second, StartTimeout: 30 * time.Second})
	k.Plugins = func(listed []string) ([]dsl.PluginDecl, error) {
		found, err := cat.Reach(context.Background(), listed)
		if err != nil {
			return nil, err
		}
		out := make([]dsl.PluginDecl, 0, len(found))
		for _, f := range found {
			if f.Err != nil {
				return nil, fmt.Errorf("%s (%s) cannot be asked what it serves: %w (try easrun plugin check %s)", f.Path, f.From, f.Err, f.Path)
			}
			d := dsl.PluginDecl{Path: f.Path, Listed: f.From == "explicit"}
			for _, i := range f.Infos {
				if i.Kind == sdk.KindController {
					d.Controllers = append(d.Controllers, i.Name)
				} else {
					d.Transforms = append(d.Transforms, i.Name)
				}
			}
			out = append(out, d)
		}
		return out, nil
	}
	return k
}

// pluginBuiltins hands the built-in registries to the plugin host.
func pluginBuiltins() host.Builtins {
	return host.Builtins{
		Transform:       builtin.Transform,
		Controller:      builtin.Controller,
		TransformNames:  builtin.TransformNames(),
		ControllerNames: builtin.ControllerNames(),
	}
}

// pluginOptions are the host options easrun uses; selfServe overrides the
// re-exec command (tests use their own binary).
func pluginOptions(logFile string, timeout time.Duration, inProcess bool) host.Options {
	return host.Options{LogFile: logFile, CallTimeout: timeout, Builtins: pluginBuiltins(), InProcess: inProcess, Self: selfServe}

}

// selfServe is the command that serves a built-in (nil: os.Executable() __serve).
var selfServe []string

// openPlugins discovers the plugins of a search (its plugins = [...] list,
// relative to the .eas file's folder, the plugins/ folder next to it and
// $EAS_PLUGIN_PATH), launches them and returns the set that resolves
// transform and controller names, built-ins included. Close it when done.
func openPlugins(ctx context.Context, easFile string, explicit []string, o host.Options) (*host.Set, error) {
	base := ""
	if easFile != "" {
		base = filepath.Dir(easFile)
	}
	found, err := host.Discover(base, explicit, nil)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(found))
	for i, f := range found {
		paths[i] = f.Path
	}
	return host.Open(ctx, paths, o)
}

// Run prints the table.
func (c *PluginListCmd) Run(g *Globals) error {
	ctx := context.Background()
	defer host.CleanupAll()
	var rows [][]string
	proto := fmt.Sprint(sdk.ProtocolVersion)
	for _, i := range append(builtin.TransformInfos(), builtin.ControllerInfos()...) {
		rows = append(rows, []string{i.Name, i.Kind, i.Version, proto, "built-in (easrun __serve)"})
	}
	base, explicit := "", []string(nil)
	if c.Eas != "" {
		base = filepath.Dir(c.Eas)
		src, err := os.ReadFile(c.Eas)
		if err != nil {
			return err
		}
		e, diags := dsl.ParseExperiment(c.Eas, src, knownNamesFor(c.Eas))
		if err := diags.Err(); err != nil {
			return err
		}
		for _, s := range e.Searches {
			explicit = append(explicit, s.Plugins...)
		}
	}
	cands, err := host.Discover(base, explicit, c.Dir)
	if err != nil {
		return err
	}
	failed := 0
	found := host.Survey(ctx, cands, host.Options{LogFile: c.Log, CallTimeout: 30 * time.Second, StartTimeout: 30 * time.Second})
	for _, f := range found {
		if f.Err != nil {
			failed++
			rows = append(rows, []string{filepath.Base(f.Path), "?", "?", "?", f.Path + " (" + f.From + "): " + f.Err.Error()})
			continue
		}
		for _, i := range f.Infos {
			rows = append(rows, []string{i.Name, i.Kind, i.Version, proto, f.Path})
		}
	}
	if err := printTable(g.Stdout, []string{"name", "kind", "version", "protocol", "path"}, rows, nil); err != nil {
		return err
	}
	collisions := host.Collisions(found, pluginBuiltins())
	for _, col := range collisions {
		fmt.Fprintln(g.Stderr, col)
	}
	if failed > 0 {
		fmt.Fprintf(g.Stderr, "%d plugin(s) failed to start\n", failed)
	}
	if failed > 0 || len(collisions) > 0 {
		return Exit(1)
	}
	return nil
}

// Run checks the plugin and exits non-zero when a check fails.
func (c *PluginCheckCmd) Run(g *Globals) error {
	ctx := context.Background()
	defer host.CleanupAll()
	o := pluginOptions(c.Log, c.Timeout, c.InProcess)
	var launch func(ctx context.Context) (*host.Plugin, error)
	_, isT := builtin.Transform(c.Path)
	_, isC := builtin.Controller(c.Path)
	st, statErr := os.Stat(c.Path)
	switch {
	case statErr == nil && !st.IsDir():
		launch = func(ctx context.Context) (*host.Plugin, error) { return host.Launch(ctx, c.Path, o) }
	case isT:
		launch = func(ctx context.Context) (*host.Plugin, error) {
			return host.Builtin(ctx, sdk.KindTransform, c.Path, o)
		}
	case isC:
		launch = func(ctx context.Context) (*host.Plugin, error) {
			return host.Builtin(ctx, sdk.KindController, c.Path, o)
		}
	default:
		return fmt.Errorf("plugin check %s: neither a file nor a built-in (built-ins: %s, %s)", c.Path,
			strings.Join(builtin.TransformNames(), ", "), strings.Join(builtin.ControllerNames(), ", "))
	}
	ts := map[string]sdk.Transform{}
	for _, n := range builtin.TransformNames() { // plugintest keeps those for plain CNNs
		ts[n], _ = builtin.Transform(n)
	}
	// Results go to stderr as they come, and a heartbeat says what is
	// going on while a call waits for its deadline (a hanging plugin used
	// to leave the terminal silent for minutes).
	var mu sync.Mutex
	begun, last := time.Now(), time.Now()
	progress := func(r plugintest.Result) {
		mu.Lock()
		defer mu.Unlock()
		last = time.Now()
		fmt.Fprintf(g.Stderr, "plugin check %s: %s %s (%s)\n", c.Path, r.Check, r.Status, fmtDuration(time.Since(begun)))
	}
	done := make(chan struct{})
	go func() {
		every := min(10*time.Second, max(time.Second, c.Timeout/3))
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				mu.Lock()
				if wait := time.Since(last); wait >= every {
					fmt.Fprintf(g.Stderr, "plugin check %s: no result for %s, waiting for the plugin (each call gives up after %s, --timeout)\n",
						c.Path, fmtDuration(wait), c.Timeout)
				}
				mu.Unlock()
			}
		}
	}()
	rs := plugintest.Check(ctx, plugintest.Target{Launch: launch},
		plugintest.Options{Cases: c.Cases, Seed: c.Seed, Transforms: ts, Progress: progress})
	if launch != nil && statErr == nil && !st.IsDir() {
		rs = append(rs, c.namesCheck(ctx))
		progress(rs[len(rs)-1])
	}
	close(done)
	rows := make([][]string, len(rs))
	for i, r := range rs {
		rows[i] = []string{r.Check, r.Status, r.Detail}
	}
	if err := printTable(g.Stdout, []string{"check", "result", "detail"}, rows, nil); err != nil {
		return err
	}
	if plugintest.Failed(rs) {
		fmt.Fprintf(g.Stderr, "plugin %s: some checks failed\n", c.Path)
		return Exit(1)
	}
	return nil
}

// namesCheck is the "names" row: the plugin may not reuse the name of a
// built-in or of a plugin found in --dir or $EAS_PLUGIN_PATH.
func (c *PluginCheckCmd) namesCheck(ctx context.Context) plugintest.Result {
	const name = "names"
	cands, err := host.Discover("", []string{c.Path}, c.Dir)
	if err != nil {
		return plugintest.Result{Check: name, Status: plugintest.Fail, Detail: err.Error()}
	}
	found := host.Survey(ctx, cands, host.Options{LogFile: c.Log, CallTimeout: c.Timeout, StartTimeout: c.Timeout})
	if found[0].Err != nil {
		return plugintest.Result{Check: name, Status: plugintest.Fail, Detail: found[0].Err.Error()}
	}
	var bad []string
	for _, col := range host.Collisions(found, pluginBuiltins()) {
		if slices.Contains(col.Paths, found[0].Path) {
			bad = append(bad, col.String())
		}
	}
	if len(bad) > 0 {
		return plugintest.Result{Check: name, Status: plugintest.Fail, Detail: strings.Join(bad, "; ")}
	}
	return plugintest.Result{Check: name, Status: plugintest.Pass,
		Detail: fmt.Sprintf("no built-in and none of %d other plugins found (--dir, $%s) declares its names", len(found)-1, host.PathEnv)}
}

// searchPlugins resolves a search's controller and step transforms through
// the plugin host: its plugins = [...] (relative to the .eas file), the
// plugins/ folder next to the file, $EAS_PLUGIN_PATH, then the built-ins
// (re-executed as `easrun __serve`, or in-process when inProcess). The
// returned set must be closed after the search.
func searchPlugins(ctx context.Context, easFile string, s experiment.Search, o host.Options) (map[string]sdk.Transform, sdk.Controller, *host.Set, error) {
	set, err := openPlugins(ctx, easFile, s.Plugins, o)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("search %s: %w", s.Name, err)
	}
	ctl, err := set.Controller(ctx, s.Controller)
	if err != nil {
		set.Close()
		return nil, nil, nil, fmt.Errorf("search %s: controller: %w", s.Name, err)
	}
	tfs := map[string]sdk.Transform{}
	for _, step := range s.Steps {
		if _, done := tfs[step.Transform]; done {
			continue
		}
		t, err := set.Transform(ctx, step.Transform)
		if err != nil {
			set.Close()
			return nil, nil, nil, fmt.Errorf("search %s: step %s: %w", s.Name, step.Transform, err)
		}
		tfs[step.Transform] = t
	}
	return tfs, ctl, set, nil
}
