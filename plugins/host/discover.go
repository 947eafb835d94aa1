package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/eas-go/eas/plugins/sdk"
)

// PathEnv lists extra plugin directories, colon-separated.
const PathEnv = "EAS_PLUGIN_PATH"

// Candidate is a plugin executable found by Discover.
type Candidate struct {
	Path string // absolute
	From string // "explicit", "plugins/ next to FILE", "$EAS_PLUGIN_PATH", or the directory given
}

// Discover finds plugin executables: the explicit paths (relative ones are
// taken from baseDir, the .eas file's folder), every executable in
// baseDir/plugins, in each directory of $EAS_PLUGIN_PATH and in dirs. Each
// executable appears once, at its first place in that order. An explicit
// path that is not an executable file is an error naming it; other
// non-executables are skipped.
func Discover(baseDir string, explicit, dirs []string) ([]Candidate, error) {
	var out []Candidate
	seen := map[string]bool{}
	add := func(p, from string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, Candidate{Path: p, From: from})
		}
	}
	for _, e := range explicit {
		p := e
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		p, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", e, err)
		}
		if !isExecutable(p) {
			return nil, fmt.Errorf("plugin %s: %s is not an executable file (build it with go build -o)", e, p)
		}
		add(p, "explicit")
	}
	scan := func(dir, from string) error {
		ents, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("plugin directory %s: %w", dir, err)
		}
		for _, e := range ents {
			p, err := filepath.Abs(filepath.Join(dir, e.Name()))
			if err != nil {
				return fmt.Errorf("plugin directory %s: %w", dir, err)
			}
			if !strings.HasPrefix(e.Name(), ".") && isExecutable(p) {
				add(p, from)
			}
		}
		return nil
	}
	if baseDir != "" {
		if err := scan(filepath.Join(baseDir, "plugins"), "plugins/ next to the .eas file"); err != nil {
			return nil, err
		}
	}
	for _, d := range filepath.SplitList(os.Getenv(PathEnv)) {
		if d != "" {
			if err := scan(d, "$"+PathEnv); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range dirs {
		if err := scan(d, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Set resolves transform and controller names to proxies: plugins launched
// from paths first, then built-ins, started on first use.
type Set struct {
	opts      Options
	mu        sync.Mutex
	plugins   []*Plugin
	byName    map[string]*Plugin   // kind + "/" + name
	ambiguous map[string]Collision // kind + "/" + name declared twice
}

// Open launches every plugin in paths. A name that a built-in or another
// plugin also declares cannot be resolved (Transform and Controller refuse
// it, naming every declaration), so names in a .eas file stay unambiguous;
// the other names of those plugins remain usable.
func Open(ctx context.Context, paths []string, o Options) (*Set, error) {
	s := &Set{opts: o, byName: map[string]*Plugin{}, ambiguous: map[string]Collision{}}
	var found []Found
	for _, path := range paths {
		p, err := Launch(ctx, path, o)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.plugins = append(s.plugins, p)
		found = append(found, Found{Candidate: Candidate{Path: path}, Infos: p.Infos()})
		for _, i := range p.Infos() {
			s.byName[i.Kind+"/"+i.Name] = p
		}
	}
	for _, c := range Collisions(found, o.Builtins) {
		s.ambiguous[c.Kind+"/"+c.Name] = c
	}
	return s, nil
}

func (s *Set) isBuiltin(kind, name string) bool {
	b := s.opts.Builtins
	switch kind { // names alone do not start a built-in
	case sdk.KindTransform:
		return b.Transform != nil && b.has(kind, name)
	case sdk.KindController:
		return b.Controller != nil && b.has(kind, name)
	}
	return false
}

func (s *Set) get(ctx context.Context, kind, name string) (*Plugin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.ambiguous[kind+"/"+name]; ok {
		return nil, errors.New(c.String())
	}
	if p, ok := s.byName[kind+"/"+name]; ok {
		return p, nil
	}
	if !s.isBuiltin(kind, name) {
		var names []string
		for k := range s.byName {
			if strings.HasPrefix(k, kind+"/") {
				names = append(names, strings.TrimPrefix(k, kind+"/"))
			}
		}
		if kind == sdk.KindTransform {
			names = append(names, s.opts.Builtins.TransformNames...)
		} else {
			names = append(names, s.opts.Builtins.ControllerNames...)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no %s named %q (known: %s)", kind, name, strings.Join(names, ", "))
	}
	p, err := Builtin(ctx, kind, name, s.opts)
	if err != nil {
		return nil, err
	}
	s.plugins = append(s.plugins, p)
	s.byName[kind+"/"+name] = p
	return p, nil
}

// Plugin returns the plugin serving kind/name (started on first use for a
// built-in), with the same errors as Transform and Controller.
func (s *Set) Plugin(ctx context.Context, kind, name string) (*Plugin, error) {
	return s.get(ctx, kind, name)
}

// Transform returns the named transform's proxy.
func (s *Set) Transform(ctx context.Context, name string) (sdk.Transform, error) {
	p, err := s.get(ctx, sdk.KindTransform, name)
	if err != nil {
		return nil, err
	}
	return p.Transform()
}

// Controller returns the named controller's proxy.
func (s *Set) Controller(ctx context.Context, name string) (sdk.Controller, error) {
	p, err := s.get(ctx, sdk.KindController, name)
	if err != nil {
		return nil, err
	}
	return p.Controller()
}

// Plugins lists the plugins started so far.
func (s *Set) Plugins() []*Plugin {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Plugin(nil), s.plugins...)
}

// Close stops every plugin of the set.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.plugins {
		p.Close()
	}
	s.plugins = nil
}
