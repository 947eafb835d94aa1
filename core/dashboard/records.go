package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/eas-go/eas/core/store"
)

// maxLine bounds one record line; a longer one is reported, not read.
const maxLine = 16 << 20

// recordLog is networks.jsonl of one search, read incrementally: only the
// bytes appended since the last read are parsed. A file that shrank or was
// replaced (a resume that dropped a torn line) is read again from the start.
type recordLog struct {
	path    string
	recs    []store.Record
	offset  int64  // bytes of complete lines consumed
	id      fileID // identity of the file read
	mod     time.Time
	partial bool     // bytes after the last newline: a record being written, or torn
	bad     []string // lines that are not records (kept out, named here)
	err     error    // the file could not be read
}

type fileID struct {
	dev, ino uint64
	ok       bool
}

// update reads what was appended; it reports whether anything changed.
func (l *recordLog) update() bool {
	st, err := os.Stat(l.path)
	if err != nil {
		changed := l.err == nil || len(l.recs) > 0
		if errors.Is(err, os.ErrNotExist) {
			err = nil // a search that has not written a record yet
		}
		*l = recordLog{path: l.path, err: err}
		return changed
	}
	id := idOf(st)
	if id != l.id || st.Size() < l.offset {
		*l = recordLog{path: l.path, id: id}
	}
	if st.Size() == l.offset && st.ModTime().Equal(l.mod) && l.err == nil {
		return false
	}
	l.mod = st.ModTime()
	l.err = l.readFrom(st.Size())
	return true
}

// readFrom parses the complete lines between l.offset and size.
func (l *recordLog) readFrom(size int64) error {
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, size-l.offset)
	n, err := f.ReadAt(buf, l.offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %v", l.path, err)
	}
	buf = buf[:n]
	line := len(l.recs) + len(l.bad)
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			l.partial = true
			if len(buf) > maxLine {
				l.bad = append(l.bad, fmt.Sprintf("line %d: over %d MiB without a line end; not read", line+1, maxLine>>20))
				l.offset += int64(len(buf))
			}
			return nil
		}
		line++
		b := bytes.TrimSpace(buf[:i])
		l.offset += int64(i + 1)
		buf = buf[i+1:]
		if len(b) == 0 {
			continue
		}
		var r store.Record
		if err := json.Unmarshal(b, &r); err != nil {
			l.bad = append(l.bad, fmt.Sprintf("line %d: not a record (%v)", line, err))
			continue
		}
		l.recs = append(l.recs, r)
	}
	l.partial = false
	return nil
}

// searchDirs finds the searches under an experiment folder the way
// report.Load does, without opening anything for writing: dir itself when
// it holds networks.jsonl, else each folder holding one, and the runs r1,
// r2, ... of a repeated search. Names are "rl" or "rl/r2"; group "rl".
func searchDirs(dir string) []searchDir {
	if isFile(filepath.Join(dir, "networks.jsonl")) && !isFile(filepath.Join(dir, "experiment.eas")) {
		return []searchDir{{name: filepath.Base(dir), group: filepath.Base(dir), dir: dir}}
	}
	entries, _ := os.ReadDir(dir)
	var out []searchDir
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "nats" || e.Name() == "checkpoints" {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if isFile(filepath.Join(sub, "networks.jsonl")) {
			out = append(out, searchDir{name: e.Name(), group: e.Name(), dir: sub})
			continue
		}
		for _, k := range repeatRuns(sub) {
			out = append(out, searchDir{name: e.Name() + "/" + k, group: e.Name(), dir: filepath.Join(sub, k)})
		}
	}
	return out
}

type searchDir struct{ name, group, dir string }

// repeatRuns lists r1, r2, ... in numeric order (those with records).
func repeatRuns(dir string) []string {
	var out []string
	for k := 1; k < 10000; k++ {
		name := fmt.Sprintf("r%d", k)
		if !isDir(filepath.Join(dir, name)) {
			break
		}
		if isFile(filepath.Join(dir, name, "networks.jsonl")) {
			out = append(out, name)
		}
	}
	return out
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
