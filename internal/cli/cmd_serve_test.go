package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/core/dashboard"
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
