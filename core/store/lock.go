package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockName is the lock file a run directory holds while a process works on it.
const LockName = ".lock"

// Lock is an exclusive hold on a run directory. The kernel lock (flock)
// belongs to the open file, so it ends with the process however it ends,
// SIGKILL included: a lock file left behind by a dead process is stale and
// never blocks the next run. The file's text (pid, host, start time) only
// names the holder for the message a second process prints.
type Lock struct {
	f    *os.File
	path string
}

// ErrLocked is wrapped by the error TryLock returns when another process
// holds the directory.
var ErrLocked = errors.New("run directory in use")

// TryLock takes the lock of dir (created if needed) or fails at once,
// naming the holder.
func TryLock(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	held, err := flock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !held {
		b, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(b))
		if who == "" {
			who = "another process"
		}
		return nil, fmt.Errorf("%s is in use by %s (lock %s): %w; wait for it to finish or stop it, then --resume",
			dir, who, path, ErrLocked)
	}
	host, _ := os.Hostname()
	info := fmt.Sprintf("easrun pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	// Who holds it is informational: a failure to record it must not stop
	// the run, the kernel lock is what counts.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(info), 0)
	}
	return &Lock{f: f, path: path}, nil
}

// Unlock releases the lock; the file stays (removing it would let a third
// process lock a new file while a second still waits on the old one).
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
