package torch

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShimErrors: a missing shim, a file that is not a library, a library
// that is not a shim and a shim of another ABI version each give one clear
// line naming the file and saying how to fix it.
func TestShimErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(LibEnv, filepath.Join(dir, "missing.so"))
	_, err := open(findLib())
	if !errors.Is(err, ErrNoShim) || !strings.Contains(err.Error(), "make torch") || !strings.Contains(err.Error(), "missing.so") {
		t.Errorf("missing shim: %v", err)
	}
	junk := filepath.Join(dir, "junk.so")
	os.WriteFile(junk, []byte("not a library"), 0o644)
	if _, err := open(junk, nil); err == nil || !strings.Contains(err.Error(), "junk.so") || !strings.Contains(err.Error(), "rebuild it with `make torch`") {
		t.Errorf("junk file: %v", err)
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("skipping the wrong-library cases: no gcc (%v)", err)
	}
	for _, tc := range []struct{ src, want string }{
		{"int not_a_shim(void) { return 0; }", "is not an eas libtorch shim"},
		{"int eas_abi_version(void) { return 99; }", "has shim ABI version 99, this eas needs 1"},
		{"int eas_abi_version(void) { return 1; }", "lacks eas_versions: a shim of another version"},
	} {
		c, so := filepath.Join(dir, "x.c"), filepath.Join(dir, "lib"+strings.Fields(tc.want)[1]+".so")
		os.WriteFile(c, []byte(tc.src), 0o644)
		if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, c).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		if _, err := open(so, nil); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), so) {
			t.Errorf("%s: %v; want %q", tc.src, err, tc.want)
		}
	}
}

// TestBackendSettingsAndDevices: settings of another backend and unknown
// or absent devices are refused by name.
func TestBackendSettingsAndDevices(t *testing.T) {
	for _, d := range []string{"tpu", "cuda:-1", "cuda:x"} {
		if _, err := ParseDevice(d); err == nil || !strings.Contains(err.Error(), d) {
			t.Errorf("device %q: %v", d, err)
		}
	}
	b := openCPU(t)
	if b.v.GPUs == 0 {
		if _, err := NewBackend(engineOptions("cuda")); err == nil || !strings.Contains(err.Error(), "sees no CUDA GPU") {
			t.Errorf("cuda without a GPU: %v", err)
		}
	}
	o := engineOptions("cpu")
	o.Settings = "x"
	if _, err := NewBackend(o); err == nil || !strings.Contains(err.Error(), "torch.Settings") {
		t.Errorf("foreign settings: %v", err)
	}
}
