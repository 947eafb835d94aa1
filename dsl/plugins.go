package dsl

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/eas-go/eas/dsl/diag"
)

// PluginDecl is one plugin a search can reach and the names it declares
// (asked from the plugin itself: file names mean nothing).
type PluginDecl struct {
	Path        string // as messages show it
	Listed      bool   // named in the search's plugins = [...] (not found in a folder)
	Transforms  []string
	Controllers []string
	// Any declares every name no built-in or other plugin has: for
	// reading a run's own experiment file, whose names were resolved when
	// the run started (see AnyPlugin).
	Any bool
}

// AnyPlugin accepts every name that is not a built-in's: for tools that read
// a finished run's experiment.eas (report, dashboard) and need no plugin.
func AnyPlugin([]string) ([]PluginDecl, error) {
	return []PluginDecl{{Path: "(resolved when the run started)", Any: true}}, nil
}

// PluginsFunc returns the plugins a search reaches given its plugins = [...]
// list (relative to the .eas file): the listed ones, the plugins/ folder next
// to the file and $EAS_PLUGIN_PATH. An error (a listed path that is not an
// executable, a plugin that does not start) is reported at the plugins line.
type PluginsFunc func(listed []string) ([]PluginDecl, error)

// Kinds of names a search refers to.
const (
	kindTransform  = "transform"
	kindController = "controller"
)

func (d PluginDecl) declares(kind, name string) bool {
	if kind == kindController {
		return slices.Contains(d.Controllers, name)
	}
	return slices.Contains(d.Transforms, name)
}

// nameRef is one use of a transform or controller name in a search.
type nameRef struct {
	kind, name string
	pos        lexer.Position
}

// searchNames is what a search refers to, for resolveNames.
type searchNames struct {
	name       string
	pos        lexer.Position // the search statement
	plugins    []string
	pluginsPos *lexer.Position // the plugins = [...] statement, if any
	refs       []nameRef
}

// resolveNames checks, per search, every step and the controller against
// the built-ins and what the search's plugins declare: unknown names,
// names declared twice (a plugin reusing a built-in's name, or two plugins),
// and names only another search's plugins serve are errors at the name.
func (w *walker) resolveNames(searches []searchNames, known Builtins) {
	decls := make([][]PluginDecl, len(searches))
	for i, s := range searches {
		if known.Plugins == nil {
			continue
		}
		ds, err := known.Plugins(s.plugins)
		if err != nil {
			pos, n := s.pos, len("search")
			if s.pluginsPos != nil {
				pos, n = *s.pluginsPos, len("plugins")
			}
			w.errf(pos, n, "search %q: plugins: %v", s.name, err)
		}
		decls[i] = ds
	}
	for i, s := range searches {
		for _, r := range s.refs {
			w.resolveName(r, s.name, decls[i], searches, decls, known)
		}
	}
}

func (w *walker) resolveName(r nameRef, search string, ds []PluginDecl, all []searchNames, allDecls [][]PluginDecl, known Builtins) {
	builtins := known.Transforms
	if r.kind == kindController {
		builtins = known.Controllers
	}
	isBuiltin := slices.Contains(builtins, r.name)
	var by []string
	anyDecl := false
	for _, d := range ds {
		anyDecl = anyDecl || d.Any
		if d.declares(r.kind, r.name) {
			by = append(by, "plugin "+d.Path)
		}
	}
	switch {
	case !isBuiltin && len(by) == 0 && anyDecl:
		return
	case isBuiltin && len(by) == 0, !isBuiltin && len(by) == 1:
		return
	case len(by) > 0:
		if isBuiltin {
			by = append([]string{"the built-in"}, by...)
		}
		w.errf(r.pos, len(r.name), "%s %q is declared by %s: the name is ambiguous; rename the plugin's %s (the Name its Describe returns) or remove the plugin from this search's reach (plugins = [...], the plugins/ folder, $EAS_PLUGIN_PATH)",
			r.kind, r.name, strings.Join(by, " and "), r.kind)
		return
	}
	for j, s := range all {
		for _, d := range allDecls[j] {
			if s.name != search && d.Listed && d.declares(r.kind, r.name) {
				w.errf(r.pos, len(r.name), "%s %q is served by plugin %s, which search %q lists but search %q does not: add it to this search's plugins = [...]",
					r.kind, r.name, d.Path, s.name, search)
				return
			}
		}
	}
	names := slices.Clone(builtins)
	var found []string
	for _, d := range ds {
		if r.kind == kindController {
			found = append(found, d.Controllers...)
		} else {
			found = append(found, d.Transforms...)
		}
	}
	sort.Strings(found)
	msg := fmt.Sprintf("unknown %s %q: built-ins are %s", r.kind, r.name, strings.Join(builtins, ", "))
	switch {
	case known.Plugins == nil:
		msg += " (plugins were not looked up)"
	case len(found) > 0:
		msg += fmt.Sprintf("; the plugins this search reaches declare %s", strings.Join(found, ", "))
	default:
		msg += fmt.Sprintf("; this search reaches %d plugins and none declares it (plugins come from plugins = [...], the plugins/ folder next to the file and $EAS_PLUGIN_PATH; easrun plugin list --eas FILE shows them)", len(ds))
	}
	w.at(r.pos, len(r.name), diag.Error, diag.DidYouMean(r.name, append(names, found...)), "%s", msg)
}
