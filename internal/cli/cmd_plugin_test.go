package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/internal/golden"
	"github.com/eas-go/eas/plugins/host"
	"github.com/eas-go/eas/plugins/sdk"
)

// serveEnv makes a re-executed test binary behave as easrun, so that the
// built-ins go through the same re-exec path as in easrun (`__serve`).
const serveEnv = "EAS_CLI_TEST_AS_EASRUN"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) != "" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Setenv(serveEnv, "1")
	selfServe = []string{os.Args[0], "__serve"}
	code := m.Run()
	host.CleanupAll()
	if kwDir != "" {
		os.RemoveAll(kwDir)
	}
	os.Exit(code)
}

var (
	kwOnce sync.Once
	kwDir  string
	kwPath string
	kwErr  error
)

// kernelwiden builds the example plugin once per test run.
func kernelwiden(t *testing.T) string {
	t.Helper()
	kwOnce.Do(func() {
		if kwDir, kwErr = os.MkdirTemp("", "eas-cli-plugin"); kwErr != nil {
			return
		}
		kwPath = filepath.Join(kwDir, "kernelwiden")
		out, err := exec.Command("go", "build", "-o", kwPath, "../../plugins/examples/kernelwiden").CombinedOutput()
		if err != nil {
			kwErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if kwErr != nil {
		t.Fatal(kwErr)
	}
	return kwPath
}

func runMain(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestPluginCheck runs the conformance checks on every built-in through the
// re-exec path (as CI must) and on the kernelwiden example.
func TestPluginCheck(t *testing.T) {
	cases := []struct {
		target string
		rows   []string
	}{
		{"wider", []string{"preservation plain", "rejects invalid action"}},
		{"deeper", []string{"preservation plain", "rejects invalid action"}},
		{"densewider", []string{"preservation densenet"}},
		{"densedeeper", []string{"preservation densenet"}},
		{"reinforce", []string{"save/load", "determinism"}},
		{"random", []string{"save/load", "determinism"}},
		{"kernelwiden", []string{"preservation plain", "preservation densenet"}},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			target := c.target
			if target == "kernelwiden" {
				target = kernelwiden(t)
			}
			code, out, errOut := runMain("plugin", "check", target, "--cases", "6")
			if code != 0 || strings.Contains(out, "FAIL") {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			// Built-ins go through the re-exec path: this test binary, as easrun __serve.
			want := "subprocess " + filepath.Base(os.Args[0])
			if c.target == "kernelwiden" {
				want = "subprocess kernelwiden"
			}
			for _, r := range append(c.rows, want) {
				if !strings.Contains(out, r) {
					t.Errorf("no %q row in\n%s", r, out)
				}
			}
		})
	}
	// The same checks pass with the built-ins inside easrun.
	for _, c := range cases[:6] {
		t.Run(c.target+"/in-process", func(t *testing.T) {
			code, out, errOut := runMain("plugin", "check", c.target, "--cases", "6", "--in-process")
			if code != 0 || !strings.Contains(out, "in-process") {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

func TestPluginCheckFailures(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "notaplugin")
	os.WriteFile(script, []byte("#!/bin/sh\necho not a plugin\n"), 0o755)
	cases := []struct {
		name, target, out, errOut string
		code                      int
	}{
		{"no handshake", script, "handshake", "some checks failed", 1},
		{"unknown", "nosuchplugin", "", "neither a file nor a built-in", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runMain("plugin", "check", c.target)
			if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errOut) {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
		})
	}
}

func TestPluginList(t *testing.T) {
	dir := filepath.Dir(kernelwiden(t))
	t.Setenv(host.PathEnv, "")
	code, out, errOut := runMain("plugin", "list", "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	got := strings.ReplaceAll(out, dir, "$DIR")
	// Table columns widen with the temporary path: compare the rows only,
	// without padding.
	norm := func(s string) string {
		var rows []string
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "│") {
				rows = append(rows, strings.Join(strings.Fields(l), " "))
			}
		}
		return strings.Join(rows, "\n")
	}
	golden.Check(t, filepath.Join("testdata", "plugin_list.golden"), got, norm)
}

func TestServeByHand(t *testing.T) {
	code, _, errOut := runMain("__serve", "transform", "wider")
	if code == 0 || !strings.Contains(errOut, "not meant to be typed") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestSearchPlugins(t *testing.T) {
	kw := kernelwiden(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	if err := os.Symlink(kw, filepath.Join(dir, "plugins", "kernelwiden")); err != nil {
		t.Fatal(err)
	}
	eas := filepath.Join(dir, "exp.eas")
	ctx := context.Background()
	s := experiment.Search{Name: "s", Controller: "random", Plugins: []string{"./plugins/kernelwiden"},
		Steps: []experiment.StepSpec{{Transform: "kernelwiden", Count: 2}, {Transform: "wider", Count: 1}}}
	tfs, ctl, set, err := searchPlugins(ctx, eas, s, pluginOptions("", time.Minute, false))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	net := sdk.Network{Arch: dsl.MustArch("C(4,3,1) GAP SM(2)"), Input: ir.Shape{C: 1, H: 4, W: 4}}
	actsRes, err := tfs["kernelwiden"].Actions(ctx, sdk.ActionsRequest{Net: net, Space: ir.PaperSpace()})
	acts := actsRes.Actions
	if err != nil || len(acts) != 1 || acts[0].String() != "kernelwiden(layer=1, to=5)" {
		t.Fatalf("kernelwiden actions: %v, %v", acts, err)
	}
	if i, err := ctl.Describe(ctx); err != nil || i.Name != "random" {
		t.Fatalf("controller: %+v, %v", i, err)
	}
	s.Steps = append(s.Steps, experiment.StepSpec{Transform: "nosuch", Count: 1})
	if _, _, _, err := searchPlugins(ctx, eas, s, pluginOptions("", time.Minute, true)); err == nil || !strings.Contains(err.Error(), `no transform named "nosuch"`) {
		t.Errorf("unknown transform: %v", err)
	}
}
