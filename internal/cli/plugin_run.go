package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/eas-go/eas/builtin"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/pipeline"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/host"
	"github.com/eas-go/eas/plugins/sdk"
)

// pluginsFile is a search run's record of the third-party plugins it uses
// (path, version, SHA-256) and of the guard's checks.
const pluginsFile = "plugins.json"

// pluginUse is one third-party plugin a search uses.
type pluginUse struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	host.Provenance
}

type pluginRecord struct {
	Plugins []pluginUse       `json:"plugins"`
	Guards  []host.GuardCheck `json:"guards,omitempty"`
}

// openSearchPlugins resolves a search's plugins (searchPlugins), records
// their provenance in the run's plugins.json, refuses a resumed search whose
// plugins changed after it started, and guards every third-party transform:
// its first application with weights is checked for function preservation.
func openSearchPlugins(ctx context.Context, easFile string, s experiment.Search, run pipeline.SearchRun, o host.Options) (map[string]sdk.Transform, sdk.Controller, io.Closer, error) {
	tfs, ctl, set, err := searchPlugins(ctx, easFile, s, o)
	if err != nil {
		return nil, nil, nil, err
	}
	rec := &pluginRecorder{}
	if run.Dir != "" {
		rec.path = filepath.Join(run.Dir, pluginsFile)
	}
	uses, err := pluginUses(ctx, set, s)
	if err == nil {
		err = rec.begin(uses, run.Started, s.Name)
	}
	if err != nil {
		set.Close()
		return nil, nil, nil, err
	}
	g := &host.Guard{Forward: engineForward, Record: rec.guard}
	for _, u := range uses {
		if u.Kind == sdk.KindTransform {
			tfs[u.Name] = g.Wrap(tfs[u.Name], u.Name+" ("+u.Path+")")
		}
	}
	return tfs, ctl, closerFunc(set.Close), nil
}

// pluginUses lists the third-party plugins serving the search's steps and
// controller, in the search's order.
func pluginUses(ctx context.Context, set *host.Set, s experiment.Search) ([]pluginUse, error) {
	var out []pluginUse
	add := func(kind, name string) error {
		if _, ok := builtin.Transform(name); ok && kind == sdk.KindTransform {
			return nil
		}
		if _, ok := builtin.Controller(name); ok && kind == sdk.KindController {
			return nil
		}
		if slices.ContainsFunc(out, func(u pluginUse) bool { return u.Kind == kind && u.Name == name }) {
			return nil
		}
		p, err := set.Plugin(ctx, kind, name)
		if err != nil {
			return err
		}
		out = append(out, pluginUse{Kind: kind, Name: name, Provenance: p.Provenance()})
		return nil
	}
	if err := add(sdk.KindController, s.Controller); err != nil {
		return nil, err
	}
	for _, st := range s.Steps {
		if err := add(sdk.KindTransform, st.Transform); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pluginRecorder keeps a search run's plugins.json.
type pluginRecorder struct {
	path string
	mu   sync.Mutex
	rec  pluginRecord
}

// begin compares uses with what the run recorded before, refusing a change
// once the search has started, and writes the file.
func (r *pluginRecorder) begin(uses []pluginUse, started bool, search string) error {
	if r.path == "" {
		return nil
	}
	b, err := os.ReadFile(r.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		var was pluginRecord
		if err := json.Unmarshal(b, &was); err != nil {
			return fmt.Errorf("%s: %w (a file this easrun wrote; restore it or start a new run)", r.path, err)
		}
		d := pluginChanges(was.Plugins, uses)
		if len(d) > 0 && started {
			return fmt.Errorf("the plugins of search %q changed since it started (%s):\n  %s\nresults would mix two plugins: restore the plugin the run used, or start a new run (another --out)",
				search, r.path, strings.Join(d, "\n  "))
		}
		if len(d) == 0 {
			r.rec.Guards = was.Guards
		}
	}
	r.rec.Plugins = append([]pluginUse{}, uses...) // [] rather than null: none is an answer
	return r.write()
}

func (r *pluginRecorder) guard(c host.GuardCheck) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.Guards = append(r.rec.Guards, c)
	_ = r.write() // the check's verdict stands; a failed write loses only its note
}

func (r *pluginRecorder) write() error {
	if r.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(r.rec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return err
	}
	return store.WriteFileAtomic(r.path, append(b, '\n'))
}

// pluginChanges says, in words, how the plugins now differ from those recorded.
func pluginChanges(was, now []pluginUse) []string {
	var d []string
	find := func(us []pluginUse, u pluginUse) (pluginUse, bool) {
		for _, v := range us {
			if v.Kind == u.Kind && v.Name == u.Name {
				return v, true
			}
		}
		return pluginUse{}, false
	}
	for _, u := range now {
		v, ok := find(was, u)
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("%s %s: now from plugin %s, not used before", u.Kind, u.Name, u.Path))
		case v.Path != u.Path:
			d = append(d, fmt.Sprintf("%s %s: plugin %s -> %s", u.Kind, u.Name, v.Path, u.Path))
		case v.Version != u.Version:
			d = append(d, fmt.Sprintf("%s %s: version %s -> %s (%s)", u.Kind, u.Name, v.Version, u.Version, u.Path))
		case v.SHA256 != u.SHA256:
			d = append(d, fmt.Sprintf("%s %s: %s was rebuilt (SHA-256 %.12s -> %.12s, version %s unchanged)", u.Kind, u.Name, u.Path, v.SHA256, u.SHA256, u.Version))
		}
	}
	for _, v := range was {
		if _, ok := find(now, v); !ok {
			d = append(d, fmt.Sprintf("%s %s: plugin %s no longer used", v.Kind, v.Name, v.Path))
		}
	}
	return d
}

// engineForward runs a network on the CPU engine in evaluation mode (the
// guard's forward pass).
func engineForward(_ context.Context, net sdk.Network, x *tensor.Tensor) ([]float32, error) {
	g, err := ir.Lower(net.Arch, net.Input)
	if err != nil {
		return nil, err
	}
	n, err := nn.Build(g, net.Weights, x.Shape[0])
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), n.Forward(x, false).Data...), nil
}
