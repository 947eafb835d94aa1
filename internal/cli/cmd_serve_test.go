package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/core/dashboard"
	"github.com/eas-go/eas/core/dist"
)

func TestServeRefusesBeyondLoopbackWithoutToken(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"serve", "--runs", t.TempDir(), "--listen", "0.0.0.0:0"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "beyond loopback") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// TestServeCommand: easrun serve prints its URL (with the token from the
// token file it creates) and serves the runs list and a run's layer table.
func TestServeCommand(t *testing.T) {
	runs := t.TempDir()
	var out bytes.Buffer
	if code := Main([]string{"../../experiments/quickstart.eas", "--evaluator", "virtual", "--plain", "--out", runs}, &out, &out); code != 0 {
		t.Skipf("could not make a run to serve (exit %d): %s", code, out.String())
	}
	tok := filepath.Join(t.TempDir(), "token")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	g := &Globals{Stdout: io.Discard, Stderr: io.Discard}
	go func() {
		done <- DashboardFlags{TokenFile: tok, Cache: t.TempDir()}.serve(ctx, g, "127.0.0.1:0", dashboard.Options{Roots: []string{runs}}, ready)
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("not listening")
	}
	b, _ := os.ReadFile(tok)
	if !strings.HasSuffix(url, "/?token="+strings.TrimSpace(string(b))) {
		t.Fatalf("URL %s does not carry the token %q", url, b)
	}
	base := strings.TrimSuffix(url[:strings.Index(url, "?")], "/")
	for path, want := range map[string]string{
		"/": "quickstart",
		"/runs/quickstart/network?search=rl&id=1": "mult-adds", // the layer table, as easrun check prints it
	} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, lacks %q", path, resp.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("serve did not stop with its context")
	}
}

// TestRunServe: easrun FILE.eas --serve ADDR serves the run while it runs
// (and refuses an address beyond loopback without a token before running).
func TestRunServe(t *testing.T) {
	runs := t.TempDir()
	var out bytes.Buffer
	code := Main([]string{"../../experiments/quickstart.eas", "--evaluator", "virtual", "--plain", "--out", runs, "--serve", "0.0.0.0:0"}, &out, &out)
	if code == 0 || !strings.Contains(out.String(), "beyond loopback") {
		t.Fatalf("--serve beyond loopback without a token: exit %d\n%s", code, out.String())
	}
	out.Reset()
	code = Main([]string{"../../experiments/quickstart.eas", "--evaluator", "virtual", "--plain", "--out", runs, "--serve", "127.0.0.1:0",
		"--dashboard-cache", t.TempDir()}, &out, &out)
	if code != 0 || !strings.Contains(out.String(), "dashboard: http://127.0.0.1:") {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
}

// TestDistStatusReachesTheDashboard: what the driver publishes is what the
// workers page shows (the file is the contract between core/dist's status
// and core/dashboard).
func TestDistStatusReachesTheDashboard(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "experiment.eas"), []byte("experiment \"x\"\n"), 0o644)
	writeDistStatus(dir, dist.Status{Queued: 4, Running: 2, Done: 9, Failed: 1, Retried: 3, Rejected: 1,
		Workers: []dist.WorkerInfo{{ID: "gpu-box-1", Host: "gpu1", Slots: 2, Running: []string{"rl #7"}, Done: 9, ImagesPerSec: 4321, Since: time.Now().Add(-time.Hour)}}})
	srv, err := dashboard.New(dashboard.Options{Runs: []string{dir}, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/runs/"+filepath.Base(dir)+"/workers", nil))
	body := rec.Body.String()
	for _, want := range []string{">gpu-box-1<", ">gpu1<", ">4321<", "rl #7", `<td class="num">4</td><td class="num">2</td><td class="num">9</td><td class="num">1</td><td class="num">3</td><td class="num">1</td>`, ">9.0<"} {
		if !strings.Contains(body, want) {
			t.Errorf("workers page lacks %q", want)
		}
	}
}
