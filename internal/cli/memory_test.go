package cli

import (
	"strings"
	"testing"
)

// A network too large for the memory available is refused before anything
// is allocated, with the estimate and where the limit comes from; check
// prints the estimate. (Before: check passed and train died with a runtime
// out-of-memory stack.)
func TestTrainRefusesWhatCannotFit(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir)
	t.Setenv("EAS_MEMORY_LIMIT", "64MiB")
	// About 100 MiB for batch 16 on the 8x8 images: small enough that training
	// it without the check succeeds, so the test fails without the check.
	arch := "C(4096,3,1) GAP SM(10)"
	_, errs, code := run(t, "train", "--data", "idx:"+dir, "--arch", arch, "--epochs", "1", "--validation", "40", "--batch", "16", "--plain")
	if code == 0 || !strings.Contains(errs, "needs about") || !strings.Contains(errs, "64.0 MiB is available (EAS_MEMORY_LIMIT)") {
		t.Fatalf("code %d: %s", code, errs)
	}
	out, errs, code := run(t, "check", arch, "--input", "8x8x1", "--batch", "16")
	if code != 0 || !strings.Contains(out, "memory: about") || !strings.Contains(errs, "train and run will refuse it") {
		t.Fatalf("check: code %d\n%s\n%s", code, out, errs)
	}
	t.Setenv("EAS_MEMORY_LIMIT", "lots")
	_, errs, code = run(t, "train", "--data", "idx:"+dir, "--arch", "C(4,3,1) GAP SM(10)", "--epochs", "1", "--validation", "40")
	if code == 0 || !strings.Contains(errs, `EAS_MEMORY_LIMIT="lots"`) {
		t.Fatalf("bad limit: code %d: %s", code, errs)
	}
}
