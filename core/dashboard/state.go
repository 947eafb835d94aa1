package dashboard

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/eas-go/eas/core/store"
)

// Run states shown on the pages.
const (
	StateRunning     = "running"
	StateFinished    = "finished"
	StateFailed      = "failed"
	StateInterrupted = "interrupted"
)

// lockHeld reports whether a process holds the run's lock (store.TryLock's
// flock on .lock), and who, without taking it: on Linux from /proc/locks
// (the kernel's list of held locks), elsewhere from the file's text, which
// the holder writes and clears when it lets go (a killed holder leaves it,
// so there a killed run shows as running until its next start).
func lockHeld(dir string) (held bool, who string) {
	path := filepath.Join(dir, store.LockName)
	b, err := os.ReadFile(path)
	if err != nil {
		return false, ""
	}
	who = strings.TrimSpace(string(b))
	st, err := os.Stat(path)
	if err != nil {
		return false, ""
	}
	if held, known := procLocksHold(st); known {
		return held, who
	}
	return who != "", who
}

// sameLockID compares "MAJ:MIN:INODE" ids, tolerating zero-padding.
func sameLockID(a, b string) bool {
	pa, pb := strings.Split(a, ":"), strings.Split(b, ":")
	if len(pa) != 3 || len(pb) != 3 {
		return false
	}
	for i := range 3 {
		base := 16
		if i == 2 {
			base = 10
		}
		x, e1 := strconv.ParseUint(pa[i], base, 64)
		y, e2 := strconv.ParseUint(pb[i], base, 64)
		if e1 != nil || e2 != nil || x != y {
			return false
		}
	}
	return true
}

// runState classifies a run: running while its lock is held; finished
// when report.md is at least as new as every record (a run writes it
// last); failed when every search spent its budget but no report followed
// (the final training or the report failed), or the records are damaged;
// interrupted when it stopped before its budget (Ctrl-C, a kill, a crash:
// `easrun FILE.eas --resume` continues it).
func runState(dir string, held, damaged, budgetDone bool, newest time.Time) string {
	switch {
	case held:
		return StateRunning
	case damaged:
		return StateFailed
	}
	if st, err := os.Stat(filepath.Join(dir, "report.md")); err == nil && !st.ModTime().Before(newest) {
		return StateFinished
	}
	if budgetDone {
		return StateFailed
	}
	return StateInterrupted
}
