// Package testfs gives tests a real, tiny file system that fills up, so that
// write-error paths are exercised against the kernel's own ENOSPC rather than
// only an injected writer. Only tests import it.
package testfs

import (
	"os/exec"
	"strings"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size ("64k") on a fresh temporary folder
// and returns its path; it is unmounted when the test ends. It needs root and
// mount, and skips the test where they are missing (and under -short).
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, strings.TrimSpace(string(out)))
		}
	})
	return dir
}
