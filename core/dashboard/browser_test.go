//go:build unix

package dashboard

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eas-go/eas/core/store"
)

// TestBrowser loads the dashboard in headless Chromium: the run page of a
// finished quick-start run and of a run in progress show their numbers of
// networks, and the page of the running one updates by itself when a
// record is appended (events, no reload). It saves a screenshot
// (EAS_DASHBOARD_SCREENSHOT=FILE keeps it, e.g. for the docs).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	c := startBrowser(t)
	root := fixture(t)
	// The run in progress: the same records, no report yet, its lock held
	// as easrun run holds it.
	live := filepath.Join(root, "live")
	os.CopyFS(live, os.DirFS(filepath.Join(root, "quickstart")))
	os.Remove(filepath.Join(live, "report.md"))
	lock, err := store.TryLock(live)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	_, ts := serve(t, Options{Roots: []string{root}, Poll: 250 * time.Millisecond})

	count := `document.getElementById("count-networks").textContent`
	if err := c.navigate(ts.URL + "/runs/quickstart/"); err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]any{
		count: "24",
		`document.querySelectorAll("svg.plot").length`:                                            float64(3),
		`document.querySelector("h1 .state").textContent`:                                         "finished",
		`document.querySelectorAll("#table-summary tbody tr").length`:                             float64(2),
		`document.querySelectorAll("svg.plot")[1].querySelectorAll("circle[r='3'] title").length`: float64(12),
	} {
		if got, err := c.eval(expr); err != nil || got != want {
			t.Errorf("finished run: %s = %v (%v), want %v", expr, got, err, want)
		}
	}
	if err := c.navigate(ts.URL + "/runs/live/"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.eval(`document.querySelector("h1 .state").textContent`); got != "running" {
		t.Errorf("run in progress shown as %v", got)
	}
	if got, _ := c.eval(count); got != "24" {
		t.Errorf("run in progress: %v networks, want 24", got)
	}
	// Mark the page: a reload would lose the mark.
	c.eval(`window.__same = true`)
	if err := c.until(10*time.Second, `document.getElementById("live-status").className.includes("ok")`); err != nil {
		t.Fatalf("the page's event stream did not open: %v", err)
	}
	start := time.Now()
	appendRecord(t, filepath.Join(live, "rl"), store.Record{ID: 13, Kind: "sample", Episode: 4, Arch: "C(24,3,1) P(2,2,MAX) C(64,3,1) GAP FC(64) SM(10)",
		Hash: "abc", Parent: "787da53aad979832", Depth: 4, Params: 40000, ValAcc: 0.91, Status: "ok"})
	if err := c.until(10*time.Second, count+` === "25"`); err != nil {
		t.Fatalf("the page did not update after a record was appended: %v", err)
	}
	took := time.Since(start)
	t.Logf("the page showed the appended record %v after it was written", took.Round(10*time.Millisecond))
	if took > 2*time.Second {
		t.Logf("warning: slower than the 2 s the dashboard promises (a loaded machine?)")
	}
	for expr, want := range map[string]any{
		`window.__same === true`:                                           true, // no reload
		`document.body.dataset.updates !== "0"`:                            true,
		`document.querySelector("#run-head b:nth-of-type(2)").textContent`: "91.00",
	} {
		if got, err := c.eval(expr); err != nil || got != want {
			t.Errorf("after the update: %s = %v (%v), want %v", expr, got, err, want)
		}
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if p := os.Getenv("EAS_DASHBOARD_SCREENSHOT"); p != "" {
		shot = p
	}
	if err := c.screenshot(shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	// The networks table of the running run pages in the browser too.
	if err := c.navigate(ts.URL + "/runs/live/networks?per=10"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.eval(`document.querySelectorAll("#networks tbody tr").length + "/" + document.getElementById("count-records").textContent`); got != fmt.Sprint("10/29") {
		t.Errorf("networks table: %v rows/records, want 10/29", got)
	}
}
