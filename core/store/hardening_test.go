package store

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/eas-go/eas/internal/testfs"
)

// fullDisk writes half of the next `fail` writes and then reports ENOSPC,
// like a file system that fills up in the middle of a record.
type fullDisk struct {
	*os.File
	fail int
}

func (f *fullDisk) Write(b []byte) (int, error) {
	if f.fail > 0 {
		f.fail--
		n, _ := f.File.Write(b[:len(b)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(b)
}

// TestFailedAppendLeavesNoTornLine: a record whose write failed half way is
// reported, not kept, and does not corrupt the records appended after it.
func TestFailedAppendLeavesNoTornLine(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(Record{ID: 1, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	s.f = &fullDisk{File: s.f.(*os.File), fail: 1}
	err = s.Append(Record{ID: 2, Status: StatusOK, Arch: strings.Repeat("FC(8) ", 50) + "SM(2)"})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "networks.jsonl") {
		t.Fatalf("failed append: %v", err)
	}
	if err := s.Append(Record{ID: 3, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen after a failed append: %v", err)
	}
	var ids []int
	for _, r := range s.Records() {
		ids = append(ids, r.ID)
	}
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 3 || s.Dropped {
		t.Fatalf("records %v (dropped %v), want [1 3]", ids, s.Dropped)
	}
}

func TestWriteFileAtomicReportsFailure(t *testing.T) {
	err := WriteFileAtomic(filepath.Join(t.TempDir(), "no", "such", "dir", "x.json"), []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), "x.json") {
		t.Fatalf("got %v", err)
	}
}

// TestFullFileSystem runs appends and atomic writes on a real, tiny tmpfs
// (needs root and mount; skipped otherwise): every failure is an error, and
// what was recorded before stays readable.
func TestFullFileSystem(t *testing.T) {
	dir := testfs.Tmpfs(t, "64k")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := strings.Repeat("C(16,3,1) ", 100) + "SM(10)"
	var appendErr error
	n := 0
	for i := 1; i < 1000 && appendErr == nil; i++ {
		if appendErr = s.Append(Record{ID: i, Arch: big, Status: StatusOK}); appendErr == nil {
			n++
		}
	}
	if !errors.Is(appendErr, syscall.ENOSPC) {
		t.Fatalf("appends on a full file system: %v after %d records", appendErr, n)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "checkpoints", "net.safetensors"), make([]byte, 128<<10)); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("atomic write on a full file system: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "checkpoints", ".tmp-*")); len(m) != 0 {
		t.Errorf("temporary files left behind: %v", m)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if got := len(s2.Records()); got != n || s2.Dropped {
		t.Errorf("%d records readable (dropped %v), want the %d that were appended", got, s2.Dropped, n)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := TryLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = TryLock(dir) // another open file description: refused even in this process
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+itoa(os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := TryLock(dir)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	l2.Unlock()
	// A lock file left by a dead process (text, no kernel lock) is stale.
	os.WriteFile(filepath.Join(dir, LockName), []byte("easrun pid 999999 on elsewhere since 2000-01-01T00:00:00Z\n"), 0o644)
	l3, err := TryLock(dir)
	if err != nil {
		t.Fatalf("stale lock file blocked: %v", err)
	}
	l3.Unlock()
}

func itoa(n int) string { return strconv.Itoa(n) }
