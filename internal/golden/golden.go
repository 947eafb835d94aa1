// Package golden is the one golden-file helper of the tests: it compares
// output with a file under testdata/ or, with `go test -update`, rewrites the
// file. Review the diff of a rewritten file before committing it.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/ instead of comparing with them")

// Update reports whether the test run was asked to rewrite golden files.
func Update() bool { return *update }

// Check compares got with the golden file at path; with -update it writes got
// there instead. norm, when given, is applied to both sides before comparing
// (e.g. to ignore padding that depends on a temporary path).
func Check(t testing.TB, path, got string, norm ...func(string) string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it)", err)
	}
	want, have := string(b), got
	for _, f := range norm {
		want, have = f(want), f(have)
	}
	if want != have {
		t.Errorf("%s differs from the output; diff it, then run go test with -update if the change is intended:\n--- got\n%s", path, got)
	}
}
