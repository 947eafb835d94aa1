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
