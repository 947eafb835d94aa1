package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/eas-go/eas/plugins/sdk"
)

// Found is one discovered plugin executable and what it declares, asked once
// when it is found: names are resolved against these declarations, never
// against file names.
type Found struct {
	Candidate
	Infos      []sdk.Info
	Provenance Provenance
	Err        error // it could not be hashed, started or described
}

// Provenance identifies a plugin executable in a run's records: a rebuilt
// plugin has another SHA-256 even when its version string stayed the same.
type Provenance struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// FileSHA256 hashes an executable.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Survey launches each candidate once, asks what it serves and stops it. A
// candidate that does not start keeps its error in Found.Err; the others are
// still surveyed.
func Survey(ctx context.Context, cands []Candidate, o Options) []Found {
	out := make([]Found, len(cands))
	for i, c := range cands {
		out[i] = surveyOne(ctx, c, o)
	}
	return out
}

func surveyOne(ctx context.Context, c Candidate, o Options) Found {
	f := Found{Candidate: c, Provenance: Provenance{Path: c.Path}}
	p, err := Launch(ctx, c.Path, o)
	if err != nil {
		f.Err = err
		return f
	}
	defer p.Close()
	f.Infos, f.Provenance = p.Infos(), p.Provenance()
	return f
}

// versions is the version of a plugin: one per kind it serves when they differ.
func versions(infos []sdk.Info) string {
	var vs []string
	for _, i := range infos {
		if len(vs) == 0 || vs[len(vs)-1] != i.Version {
			vs = append(vs, i.Version)
		}
	}
	return strings.Join(vs, "/")
}

// Declares reports whether f serves kind/name.
func (f Found) Declares(kind, name string) bool {
	for _, i := range f.Infos {
		if i.Kind == kind && i.Name == name {
			return true
		}
	}
	return false
}

// Collision is one transform or controller name declared more than once:
// by a built-in and a plugin, or by two plugins.
type Collision struct {
	Kind, Name string
	Builtin    bool     // a built-in has the name too
	Paths      []string // the plugins that declare it, in discovery order
}

func (c Collision) String() string {
	who := make([]string, 0, len(c.Paths)+1)
	if c.Builtin {
		who = append(who, "the built-in")
	}
	for _, p := range c.Paths {
		who = append(who, "plugin "+p)
	}
	return fmt.Sprintf("%s %q is declared by %s: a step or controller of that name would be ambiguous; rename one (its Describe's Name) or remove it from the plugin folders",
		c.Kind, c.Name, strings.Join(who, " and "))
}

// Collisions lists the names declared by two of found, or by one of found
// and a built-in, sorted by kind and name.
func Collisions(found []Found, b Builtins) []Collision {
	by := map[[2]string]*Collision{}
	for _, f := range found {
		for _, i := range f.Infos {
			k := [2]string{i.Kind, i.Name}
			c := by[k]
			if c == nil {
				c = &Collision{Kind: i.Kind, Name: i.Name, Builtin: b.has(i.Kind, i.Name)}
				by[k] = c
			}
			c.Paths = append(c.Paths, f.Path)
		}
	}
	var out []Collision
	for _, c := range by {
		if len(c.Paths) > 1 || c.Builtin {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind > out[j].Kind // transforms first
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// has reports whether kind/name is a built-in.
func (b Builtins) has(kind, name string) bool {
	switch kind {
	case sdk.KindTransform:
		if b.Transform != nil {
			_, ok := b.Transform(name)
			return ok
		}
		return contains(b.TransformNames, name)
	case sdk.KindController:
		if b.Controller != nil {
			_, ok := b.Controller(name)
			return ok
		}
		return contains(b.ControllerNames, name)
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Provenance is where the plugin came from: its executable, version and
// SHA-256 (path "builtin" and no hash for built-ins, which are part of easrun).
func (p *Plugin) Provenance() Provenance {
	if p.builtin {
		return Provenance{Path: "builtin", Version: versions(p.infos)}
	}
	return Provenance{Path: p.path, Version: versions(p.infos), SHA256: p.sha256}
}

// Catalog surveys the plugins the searches of one .eas file can reach, each
// executable once, so that every step and controller name is resolved
// against what the plugins declare before anything trains.
type Catalog struct {
	base string   // the .eas file's folder ("" for none)
	dirs []string // extra plugin directories
	opts Options
	mu   sync.Mutex
	seen map[string]Found
}

// NewCatalog surveys plugins relative to baseDir (the .eas file's folder:
// its plugins/ folder and relative plugins = [...] paths) plus dirs and
// $EAS_PLUGIN_PATH.
func NewCatalog(baseDir string, dirs []string, o Options) *Catalog {
	return &Catalog{base: baseDir, dirs: dirs, opts: o, seen: map[string]Found{}}
}

// Reach returns the plugins a search whose plugins = [...] is listed can
// use, in discovery order (listed ones first: From "explicit"). A listed path
// that is not an executable is an error; a plugin that does not start keeps
// its error in Found.Err.
func (c *Catalog) Reach(ctx context.Context, listed []string) ([]Found, error) {
	cands, err := Discover(c.base, listed, c.dirs)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Found, len(cands))
	for i, cd := range cands {
		f, ok := c.seen[cd.Path]
		if !ok {
			f = surveyOne(ctx, cd, c.opts)
			c.seen[cd.Path] = f
		}
		f.Candidate = cd
		out[i] = f
	}
	return out, nil
}
