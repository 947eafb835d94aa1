package cli

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/eas-go/eas/plugins/host"
)

// guideFiles returns the code blocks of a Markdown page whose info string
// names a file (```go file=main.go), by file name.
func guideFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	open := regexp.MustCompile("^```\\S*\\s+file=(\\S+)\\s*$")
	files := map[string]string{}
	cur, in := "", false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case !in && strings.HasPrefix(l, "```"):
			in = true
			if m := open.FindStringSubmatch(l); m != nil {
				cur = m[1]
			}
		case in && l == "```":
			in, cur = false, ""
		case cur != "":
			files[cur] += l + "\n"
		}
	}
	return files
}

// TestPluginGuide builds the plugin of docs/guide/plugins.md from the page's
// own text in a fresh module (go.mod as the page makes it, with replace to
// this repository), runs its tests, `plugin check` on it and a dry run of
// the page's experiment with it in plugins/, so the guide cannot rot.
func TestPluginGuide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin module")
	}
	files := guideFiles(t, "../../docs/guide/plugins.md")
	for _, f := range []string{"main.go", "main_test.go", "study.eas"} {
		if files[f] == "" {
			t.Fatalf("the guide has no block for %s (```go file=%s)", f, f)
		}
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The module as the guide's commands make it; offline, eas's
	// dependencies come from the module cache (go.sum from the repository).
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644)
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	goCmd("mod", "init", "example.com/padkernel")
	goCmd("mod", "edit", "-require=github.com/eas-go/eas@v0.0.0", "-replace=github.com/eas-go/eas="+repo)
	// go mod tidy, offline: the repository's own requirements (tidy would
	// look up test dependencies of dependencies, which are not cached).
	reqs, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gomod := filepath.Join(mod, "go.mod")
	m, _ := os.ReadFile(gomod)
	if i := bytes.Index(reqs, []byte("\nrequire")); i >= 0 {
		m = append(m, reqs[i:]...)
	}
	os.WriteFile(gomod, m, 0o644)
	goCmd("test", "-count=1", "./...")
	study := t.TempDir()
	bin := filepath.Join(study, "plugins", "padkernel")
	goCmd("build", "-o", bin, ".")

	t.Setenv(host.PathEnv, "")
	code, out, errOut := runMain("plugin", "check", bin, "--cases", "4")
	if code != 0 || !strings.Contains(out, "preservation plain (default noise)") {
		t.Fatalf("plugin check: exit %d\n%s%s", code, out, errOut)
	}
	eas := filepath.Join(study, "study.eas")
	os.WriteFile(eas, []byte(files["study.eas"]), 0o644)
	runs := filepath.Join(study, "runs")
	if code, _, errOut := runMain("run", eas, "--evaluator", "virtual", "--out", runs, "--plain"); code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, errOut)
	}
	recs, err := os.ReadFile(filepath.Join(runs, "padkernel-study", "kernels", "networks.jsonl"))
	if err != nil || !strings.Contains(string(recs), `padkernel(layer=`) {
		t.Fatalf("no padkernel action in the dry run's records (%v):\n%s", err, recs)
	}
}
