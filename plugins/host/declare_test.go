package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eas-go/eas/plugins/sdk"
)

// copyExe copies an executable to dir/name.
func copyExe(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSurveyAndCollisions: what a plugin serves comes from asking it, not
// from its file name; the same names twice, or a built-in's name, collide.
func TestSurveyAndCollisions(t *testing.T) {
	dir := t.TempDir()
	a := copyExe(t, fakePlugin(t), dir, "anything")
	b := copyExe(t, fakePlugin(t), dir, "other-name")
	bad := filepath.Join(dir, "broken")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	found := Survey(context.Background(), []Candidate{{Path: a}, {Path: b}, {Path: bad}}, Options{CallTimeout: testTimeout, StartTimeout: testTimeout})
	if len(found) != 3 {
		t.Fatalf("%d found", len(found))
	}
	for _, f := range found[:2] {
		if f.Err != nil || !f.Declares(sdk.KindTransform, "fake") || !f.Declares(sdk.KindController, "fakectl") || f.Declares(sdk.KindTransform, "anything") {
			t.Errorf("%s: %v %v", f.Path, f.Err, f.Infos)
		}
		if f.Provenance.Version != "0.1.0" || len(f.Provenance.SHA256) != 64 || f.Provenance.Path != f.Path {
			t.Errorf("provenance %+v", f.Provenance)
		}
	}
	if found[2].Err == nil {
		t.Error("a plugin that does not start has no error")
	}
	// Two copies: both names collide between plugins.
	cs := Collisions(found, Builtins{})
	if len(cs) != 2 || cs[0].Kind != sdk.KindTransform || cs[0].Name != "fake" || cs[0].Builtin || len(cs[0].Paths) != 2 {
		t.Fatalf("collisions %+v", cs)
	}
	if s := cs[0].String(); !strings.Contains(s, a) || !strings.Contains(s, b) || !strings.Contains(s, "rename") {
		t.Errorf("message %q", s)
	}
	// One copy against built-ins of the same names.
	cs = Collisions(found[:1], fakeBuiltins())
	if len(cs) != 2 || !cs[0].Builtin || !cs[1].Builtin || !strings.Contains(cs[1].String(), "the built-in and plugin "+a) {
		t.Fatalf("collisions with built-ins %+v", cs)
	}
	if cs := Collisions(found[:1], Builtins{TransformNames: []string{"wider"}}); len(cs) != 0 {
		t.Errorf("no collision expected: %+v", cs)
	}
	// A rebuilt plugin has another hash.
	p, err := Launch(context.Background(), a, Options{CallTimeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	pv := p.Provenance()
	p.Close()
	if pv != found[0].Provenance {
		t.Errorf("Launch provenance %+v, survey %+v", pv, found[0].Provenance)
	}
	if err := os.WriteFile(a, append(must(os.ReadFile(a)), 0), 0o755); err != nil {
		t.Fatal(err)
	}
	if again := Survey(context.Background(), []Candidate{{Path: a}}, Options{CallTimeout: testTimeout}); again[0].Provenance.SHA256 == pv.SHA256 {
		t.Error("a changed executable kept its hash")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
