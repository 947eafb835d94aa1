package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eas-go/eas/plugins/host"
)

var (
	anyOnce sync.Once
	anyBin  string
	anyErr  error
)

// anyname copies the anyname test plugin (built once) to dir/file: its
// transform is named by the file name (NAME or NAME.MODE).
func anyname(t *testing.T, dir, file string) string {
	t.Helper()
	anyOnce.Do(func() {
		d, err := os.MkdirTemp("", "eas-cli-anyname")
		if anyErr = err; err != nil {
			return
		}
		anyBin = filepath.Join(d, "anyname")
		if out, err := exec.Command("go", "build", "-o", anyBin, "./testdata/anyname").CombinedOutput(); err != nil {
			anyErr = err
			t.Logf("%s", out)
		}
	})
	if anyErr != nil {
		t.Fatal(anyErr)
	}
	b, err := os.ReadFile(anyBin)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPluginNamesCollide: plugin list and plugin check refuse names that a
// built-in or another plugin also declares (they used to list two rows and
// exit 0, and the search refused them only after training the start network).
func TestPluginNamesCollide(t *testing.T) {
	t.Setenv(host.PathEnv, "")
	dupes, builtinName, clean := t.TempDir(), t.TempDir(), t.TempDir()
	anyname(t, dupes, "stretch")
	anyname(t, dupes, "stretch.v2") // file names differ, declared names do not
	anyname(t, builtinName, "wider")
	anyname(t, clean, "stretch")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"list two plugins", []string{"plugin", "list", "--dir", dupes}, 1, `transform "stretch" is declared by plugin ` + filepath.Join(dupes, "stretch") + " and plugin " + filepath.Join(dupes, "stretch.v2")},
		{"list built-in name", []string{"plugin", "list", "--dir", builtinName}, 1, `transform "wider" is declared by the built-in and plugin`},
		{"list clean", []string{"plugin", "list", "--dir", clean}, 0, ""},
		{"check built-in name", []string{"plugin", "check", filepath.Join(builtinName, "wider"), "--cases", "2"}, 1, `transform "wider" is declared by the built-in`},
		{"check other plugin", []string{"plugin", "check", filepath.Join(clean, "stretch"), "--cases", "2", "--dir", dupes}, 1, "and plugin " + filepath.Join(dupes, "stretch")},
		{"check clean", []string{"plugin", "check", filepath.Join(clean, "stretch"), "--cases", "2", "--dir", builtinName}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runMain(c.args...)
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout:\n%s\nstderr:\n%s", code, c.code, c.want, out, errOut)
			}
			if c.args[1] == "check" && !strings.Contains(out, "names") {
				t.Errorf("no names row:\n%s", out)
			}
		})
	}
}

// pluginExperiment has two searches; the first lists its plugins (LISTED),
// the second uses STEPS2.
func pluginExperiment(listed, steps1, steps2 string) string {
	return `dataset cifar10 { path = "/nowhere" }
start { arch = "C(8,3,1) P(2,2,MAX) FC(16) SM(10)" }
search "a" {
  controller = random
  plugins = [` + listed + `]
  steps = [` + steps1 + `]
  per_episode = 2
  budget = 4
}
search "b" {
  controller = random
  steps = [` + steps2 + `]
  per_episode = 2
  budget = 4
}
`
}

// TestStepsResolveAgainstDeclarations: a plugin whose file is named anything,
// found by any documented route (listed, the plugins/ folder, $EAS_PLUGIN_PATH),
// works in check and in a (dry) run; a search that lacks the plugin another
// search lists is refused by check with the position, before anything runs.
func TestStepsResolveAgainstDeclarations(t *testing.T) {
	kw := kernelwiden(t)
	cases := []struct {
		name             string
		route            string // "listed", "folder", "env"
		steps2           string
		checkCode, found int
		want             string
	}{
		{"listed, file named otherwise", "listed", "wider", 0, 0, ""},
		{"plugins folder", "folder", "kernelwiden", 0, 0, ""},
		{"EAS_PLUGIN_PATH", "env", "kernelwiden, deeper", 0, 0, ""},
		{"other search lacks it", "listed", "wider, kernelwiden", 1, 0,
			`exp.eas:12:19: error: transform "kernelwiden" is served by plugin `},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := os.ReadFile(kw)
			if err != nil {
				t.Fatal(err)
			}
			listed := ""
			t.Setenv(host.PathEnv, "")
			switch c.route {
			case "listed":
				os.WriteFile(filepath.Join(dir, "build-v2"), b, 0o755)
				listed = `"./build-v2"`
			case "folder":
				os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
				os.WriteFile(filepath.Join(dir, "plugins", "kw"), b, 0o755)
			case "env":
				env := t.TempDir()
				os.WriteFile(filepath.Join(env, "x1"), b, 0o755)
				t.Setenv(host.PathEnv, env)
			}
			f := filepath.Join(dir, "exp.eas")
			os.WriteFile(f, []byte(pluginExperiment(listed, "kernelwiden, wider", c.steps2)), 0o644)
			_, errs, code := run(t, "check", f)
			if code != c.checkCode || !strings.Contains(errs, c.want) {
				t.Fatalf("check: exit %d, want %d and %q:\n%s", code, c.checkCode, c.want, errs)
			}
			if c.checkCode != 0 {
				// run refuses the same way, before the start network.
				_, errs, code := run(t, "run", f, "--evaluator", "virtual", "--out", filepath.Join(dir, "runs"), "--plain")
				if code == 0 || !strings.Contains(errs, c.want) {
					t.Fatalf("run: exit %d:\n%s", code, errs)
				}
				if _, err := os.Stat(filepath.Join(dir, "runs", "exp", "start.safetensors")); err == nil {
					t.Error("the run made a start network before refusing")
				}
				return
			}
			_, errs, code = run(t, "run", f, "--evaluator", "virtual", "--out", filepath.Join(dir, "runs"), "--plain")
			recs, _ := os.ReadFile(filepath.Join(dir, "runs", "exp", "a", "networks.jsonl"))
			if code != 0 || !strings.Contains(string(recs), "kernelwiden(") {
				t.Fatalf("run: exit %d:\n%s\n%s", code, errs, recs)
			}
		})
	}
}
