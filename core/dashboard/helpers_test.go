package dashboard

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/core/store"
)

// fixture copies testdata/runs (a finished quick-start run made with
// `easrun experiments/quickstart.eas --evaluator virtual`) into a temporary
// folder, with fixed times: the records older than report.md.
func fixture(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "runs")
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err := filepath.WalkDir("testdata/runs", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/runs", p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return err
		}
		when := old
		if d.Name() == "report.md" {
			when = old.Add(time.Minute)
		}
		return os.Chtimes(out, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// serve starts a dashboard over opt on a test server.
func serve(t testing.TB, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	if opt.CacheDir == "" {
		opt.CacheDir = filepath.Join(t.TempDir(), "cache")
	}
	if opt.Poll == 0 {
		opt.Poll = 50 * time.Millisecond
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); ts.Close() }) // Close ends the event streams ts.Close waits for
	return s, ts
}

// get fetches a path (following redirects) and returns status and body.
func get(t testing.TB, ts *httptest.Server, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	noTrace(t, path, string(b))
	return resp.StatusCode, string(b)
}

// noTrace fails if a page shows a Go stack trace or a panic.
func noTrace(t testing.TB, path, body string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", "panic:", ".go:", "runtime."} {
		if strings.Contains(body, bad) {
			t.Fatalf("GET %s shows %q:\n%.600s", path, bad, body)
		}
	}
}

// appendRecord writes one line to a search's networks.jsonl.
func appendRecord(t testing.TB, dir string, r store.Record) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "networks.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, `{"id":%d,"kind":%q,"stage":1,"episode":%d,"arch":%q,"hash":%q,"parent":%q,"depth":%d,"params":%d,"val_acc":%g,"seconds":%g,"status":%q,"time":"2026-01-02T03:04:05Z"}`+"\n",
		r.ID, r.Kind, r.Episode, r.Arch, r.Hash, r.Parent, r.Depth, r.Params, r.ValAcc, r.Seconds, r.Status)
}

// tree lists every file under dir with its size, mode and time: a run
// directory must look the same after the dashboard served it.
func tree(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %v %d\n", p, st.Size(), st.Mode(), st.ModTime().UnixNano())
		return nil
	})
	return b.String()
}
