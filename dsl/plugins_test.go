package dsl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eas-go/eas/dsl/diag"
)

// fakePlugins: listed paths map to plugins by path; every search also reaches
// the folder plugins.
func fakePlugins(listed map[string]PluginDecl, folder ...PluginDecl) PluginsFunc {
	return func(ls []string) ([]PluginDecl, error) {
		var out []PluginDecl
		for _, l := range ls {
			d, ok := listed[l]
			if !ok {
				return nil, fmt.Errorf("plugin %s: not an executable file", l)
			}
			d.Listed = true
			out = append(out, d)
		}
		return append(out, folder...), nil
	}
}

func easWith(searches ...string) string {
	return `dataset cifar10 { path = "x" }
start { arch = "C(16,3,1) GAP SM(10)" }
` + strings.Join(searches, "\n") + "\n"
}

func search(name, extra string) string {
	return fmt.Sprintf("search %q {\n  budget = 4\n%s\n}", name, extra)
}

// TestPluginNames: steps and controllers resolve against what the plugins a
// search reaches declare, per search, whatever their file names; each
// problem is one error at the name.
func TestPluginNames(t *testing.T) {
	stretch := PluginDecl{Path: "/p/v2-build", Transforms: []string{"stretch"}}
	other := PluginDecl{Path: "/p/other", Transforms: []string{"stretch"}}
	shadow := PluginDecl{Path: "/p/mine", Transforms: []string{"wider"}, Controllers: []string{"greedy"}}
	listed := map[string]PluginDecl{"./v2-build": stretch, "./other": other, "./mine": shadow}
	cases := []struct {
		name   string
		src    string
		folder []PluginDecl
		want   string // "" for no error; else the message and its line:col
	}{
		{"listed plugin named anything", easWith(search("a", "controller = random\nplugins = [\"./v2-build\"]\nsteps = [stretch x 2, wider]")), nil, ""},
		{"plugins folder", easWith(search("a", "controller = random\nsteps = [stretch]")), []PluginDecl{stretch}, ""},
		{"plugin controller", easWith(search("a", "controller = greedy\nplugins = [\"./mine\"]\nsteps = [deeper]")), nil, ""},
		{"unknown", easWith(search("a", "controller = random\nplugins = [\"./v2-build\"]\nsteps = [strech]")), nil,
			`7:10: error: unknown transform "strech": built-ins are wider, deeper, densewider, densedeeper; the plugins this search reaches declare stretch (did you mean stretch?)`},
		{"collides with a built-in", easWith(search("a", "controller = random\nplugins = [\"./mine\"]\nsteps = [wider]")), nil,
			`7:10: error: transform "wider" is declared by the built-in and plugin /p/mine: the name is ambiguous`},
		{"two plugins", easWith(search("a", "controller = random\nplugins = [\"./v2-build\"]\nsteps = [deeper, stretch]")), []PluginDecl{other}, `7:18: error: transform "stretch" is declared by plugin /p/v2-build and plugin /p/other`},
		{"listed in another search", easWith(search("a", "controller = random\nplugins = [\"./v2-build\"]\nsteps = [stretch]"), search("b", "controller = random\nsteps = [wider, stretch]")), nil,
			`12:17: error: transform "stretch" is served by plugin /p/v2-build, which search "a" lists but search "b" does not: add it to this search's plugins = [...]`},
		{"plugin does not start", easWith(search("a", "controller = random\nplugins = [\"./gone\"]\nsteps = [wider]")), nil,
			`6:1: error: search "a": plugins: plugin ./gone: not an executable file`},
		{"controller from another search", easWith(search("a", "controller = greedy\nplugins = [\"./mine\"]\nsteps = [deeper]"), search("b", "controller = greedy\nsteps = [deeper]")), nil,
			`11:14: error: controller "greedy" is served by plugin /p/mine, which search "a" lists but search "b" does not`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			known := testBuiltins
			known.Plugins = fakePlugins(listed, c.folder...)
			_, l := ParseExperiment("x.eas", []byte(c.src), known)
			var b strings.Builder
			diag.Write(&b, c.src, l)
			got := b.String()
			if c.want == "" {
				if l.HasErrors() {
					t.Fatalf("unexpected errors:\n%s", got)
				}
				return
			}
			if n := strings.Count(got, "error:"); n != 1 || !strings.Contains(got, "x.eas:"+c.want) {
				t.Fatalf("got %d errors:\n%s\nwant x.eas:%s", n, got, c.want)
			}
		})
	}
	// A run's own file: any name no built-in has was a plugin's.
	known := testBuiltins
	known.Plugins = AnyPlugin
	if _, l := ParseExperiment("x.eas", []byte(easWith(search("a", "controller = greedy\nsteps = [stretch, wider]"))), known); l.HasErrors() {
		t.Errorf("AnyPlugin: %v", l.Err())
	}
	// Without a lookup, a plugin's name is unknown (file names are no guess).
	_, l := ParseExperiment("x.eas", []byte(easWith(search("a", "controller = random\nplugins = [\"./stretch\"]\nsteps = [stretch]"))), testBuiltins)
	if !l.HasErrors() {
		t.Error("a plugin name was accepted from the file name")
	}
}
