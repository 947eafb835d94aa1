package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eas-go/eas/plugins/host"
)

// guardExperiment: one search whose steps use the stretch transform (the
// anyname plugin, found in plugins/ next to the file).
const guardExperiment = `dataset cifar10 { path = "/nowhere" }
start { arch = "C(8,3,1) P(2,2,MAX) FC(16) SM(10)" }
search "s" {
  controller = random
  steps = [stretch, deeper]
  per_episode = 2
  budget = 4
}
`

func guardRun(t *testing.T, file string, extra ...string) (dir string, code int, errs string) {
	t.Helper()
	t.Setenv(host.PathEnv, "")
	dir = t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	anyname(t, filepath.Join(dir, "plugins"), file)
	f := filepath.Join(dir, "exp.eas")
	os.WriteFile(f, []byte(guardExperiment), 0o644)
	_, errs, code = run(t, append([]string{"run", f, "--evaluator", "virtual", "--out", filepath.Join(dir, "runs"), "--plain"}, extra...)...)
	return dir, code, errs
}

func readPluginRecord(t *testing.T, dir string) pluginRecord {
	t.Helper()
	var rec pluginRecord
	b, err := os.ReadFile(filepath.Join(dir, "runs", "exp", "s", pluginsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestRunGuards: in a (dry) run, a non-preserving plugin is refused on its
// first application with the measured difference, before any child trains;
// a good one passes and both are recorded with the plugin's provenance; a
// plugin returning a wrong shape fails there too (the dry run has weights);
// and when every network of an episode fails the run says why and where
// the plugin log is.
func TestRunGuards(t *testing.T) {
	t.Run("preserving", func(t *testing.T) {
		dir, code, errs := guardRun(t, "stretch")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, errs)
		}
		rec := readPluginRecord(t, dir)
		if len(rec.Plugins) != 1 || rec.Plugins[0].Name != "stretch" || len(rec.Plugins[0].SHA256) != 64 || rec.Plugins[0].Version != "0.0.1-" ||
			!strings.HasSuffix(rec.Plugins[0].Path, filepath.Join("plugins", "stretch")) {
			t.Errorf("provenance %+v", rec.Plugins)
		}
		if len(rec.Guards) != 1 || !rec.Guards[0].Passed || rec.Guards[0].Noise != 0 || rec.Guards[0].RelDiff > host.ExactTol {
			t.Errorf("guards %+v", rec.Guards)
		}
		// The report reads the run's experiment.eas, plugin steps and all.
		out, errs, code := run(t, "report", filepath.Join(dir, "runs", "exp"))
		if code != 0 || !strings.Contains(out, "wrote") {
			t.Errorf("report: %d\n%s%s", code, out, errs)
		}
	})
	t.Run("not preserving", func(t *testing.T) {
		dir, code, errs := guardRun(t, "stretch.scale")
		if code == 0 || !strings.Contains(errs, "transform stretch is not function-preserving") || !strings.Contains(errs, "changed the logits by a relative") {
			t.Fatalf("exit %d:\n%s", code, errs)
		}
		if recs, _ := os.ReadFile(filepath.Join(dir, "runs", "exp", "s", "networks.jsonl")); strings.Contains(string(recs), `"sample"`) {
			t.Errorf("children were recorded:\n%s", recs)
		}
		if rec := readPluginRecord(t, dir); len(rec.Guards) != 1 || rec.Guards[0].Passed || rec.Guards[0].RelDiff < 0.1 {
			t.Errorf("guards %+v", rec.Guards)
		}
	})
	t.Run("wrong shape", func(t *testing.T) {
		_, _, errs := guardRun(t, "stretch.badshape")
		if !strings.Contains(errs, "l4.sm.weight of shape [1 1]") {
			t.Fatalf("a wrong-shape transform passed the dry run:\n%s", errs)
		}
	})
	t.Run("panics", func(t *testing.T) {
		dir, _, errs := guardRun(t, "stretch.panic")
		log := filepath.Join(dir, "runs", "exp", "plugins.log")
		if !strings.Contains(errs, "every network of episode ") || !strings.Contains(errs, "anyname panics on purpose") || !strings.Contains(errs, log) {
			t.Fatalf("no reason or log on screen:\n%s", errs)
		}
	})
}

// TestResumePluginChange: --resume refuses a rebuilt plugin for a search
// that has started, saying what changed, and accepts a plugin change (its
// file, or the search's plugins line) for a search that has not.
func TestResumePluginChange(t *testing.T) {
	t.Setenv(host.PathEnv, "")
	dir := t.TempDir()
	first := anyname(t, dir, "stretch")
	exp := func(listed string) string {
		return `dataset cifar10 { path = "/nowhere" }
start { arch = "C(8,3,1) P(2,2,MAX) FC(16) SM(10)" }
search "a" {
  controller = random
  plugins = ["./stretch"]
  steps = [stretch]
  per_episode = 2
  budget = 2
}
search "b" {
  controller = random
  plugins = [` + listed + `]
  steps = [stretch, wider]
  per_episode = 2
  budget = 2
}
`
	}
	f := filepath.Join(dir, "exp.eas")
	os.WriteFile(f, []byte(exp(`"./stretch"`)), 0o644)
	runs := filepath.Join(dir, "runs")
	args := []string{"run", f, "--evaluator", "virtual", "--out", runs, "--plain"}
	if _, errs, code := run(t, append(args, "--search", "a")...); code != 0 {
		t.Fatalf("first run: %d\n%s", code, errs)
	}
	// Search b has not started: another build under another name, listed
	// on b's edited plugins line, is accepted.
	anyname(t, dir, "stretch.v2")
	os.WriteFile(f, []byte(exp(`"./stretch.v2"`)), 0o644)
	if _, errs, code := run(t, append(args, "--resume")...); code != 0 {
		t.Fatalf("resume with a new plugin for the unstarted search: %d\n%s", code, errs)
	}
	// Search a has started: its rebuilt plugin is refused.
	b, _ := os.ReadFile(first)
	os.WriteFile(first, append(b, 0), 0o755)
	_, errs, code := run(t, append(args, "--resume")...)
	if code == 0 || !strings.Contains(errs, `the plugins of search "a" changed since it started`) || !strings.Contains(errs, "was rebuilt (SHA-256") {
		t.Fatalf("rebuilt plugin: exit %d\n%s", code, errs)
	}
}
