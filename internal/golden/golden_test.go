package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder captures failures instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, f) }
func (r *recorder) Fatalf(f string, a ...any) { r.errs = append(r.errs, f) }
func (r *recorder) Fatal(a ...any)            { r.errs = append(r.errs, "fatal") }

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a  b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	squash := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	cases := []struct {
		name, path, got string
		norm            []func(string) string
		fail            bool
	}{
		{"equal", path, "a  b\n", nil, false},
		{"different", path, "a b\n", nil, true},
		{"equal after norm", path, "a b", []func(string) string{squash}, false},
		{"missing file", path + ".none", "a", nil, true},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		Check(r, c.path, c.got, c.norm...)
		if (len(r.errs) > 0) != c.fail {
			t.Errorf("%s: failures %v, want failure %v", c.name, r.errs, c.fail)
		}
	}
	*update = true
	defer func() { *update = false }()
	p := filepath.Join(t.TempDir(), "sub", "new.golden")
	Check(t, p, "fresh")
	if b, err := os.ReadFile(p); err != nil || string(b) != "fresh" {
		t.Errorf("-update wrote %q, %v", b, err)
	}
}
