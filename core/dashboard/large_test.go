package dashboard

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// bigRun writes a run of one search with n sampled networks (and its start
// and control), like a search that ran for weeks.
func bigRun(t testing.TB, n int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "runs")
	dir := filepath.Join(root, "big", "rl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "networks.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	arch := "C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) C(64,3,1) GAP FC(64) SM(10)"
	fmt.Fprintf(w, `{"id":0,"kind":"start","stage":1,"arch":%q,"hash":"h0","depth":5,"params":28282,"val_acc":0.6,"status":"ok"}`+"\n", arch)
	fmt.Fprintf(w, `{"id":0,"kind":"control","stage":1,"arch":%q,"hash":"h0","parent":"h0","depth":5,"params":28282,"val_acc":0.62,"status":"ok"}`+"\n", arch)
	for i := 1; i <= n; i++ {
		status := "ok"
		if i%97 == 0 {
			status = "failed"
		}
		acc := 0.6 + 0.3*float64((i*7919)%1000)/1000
		fmt.Fprintf(w, `{"id":%d,"kind":"sample","stage":1,"episode":%d,"index":%d,"parent":"h0","actions":["wider(layer=1)","deeper(after=2, kernel=3)"],"arch":%q,"hash":"h%d","depth":%d,"params":%d,"madds":1923968,"val_acc":%g,"seconds":%d,"status":%q,"time":"2026-12-06T14:15:13Z"}`+"\n",
			i, (i+9)/10, (i-1)%10, arch, i, 5+i%7, 28282+i, acc, i%300, status)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return root
}

// TestHundredThousandNetworks: a run of 100,000 networks pages its table
// and keeps its run page small (the plots thin their points); speed is
// measured by BenchmarkLargeRun.
func TestHundredThousandNetworks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	root := bigRun(t, 100000)
	_, ts := serve(t, Options{Roots: []string{root}})
	code, body := get(t, ts, "/runs/big/")
	if code != 200 || !strings.Contains(body, `count-networks">100000<`) {
		t.Fatalf("run page: %d %.300s", code, body)
	}
	if len(body) > 1<<20 {
		t.Errorf("run page of 100,000 networks is %d bytes; the plots should thin their points", len(body))
	}
	rows := regexp.MustCompile(`<tr class="net status-`)
	_, body = get(t, ts, "/runs/big/networks?page=1000")
	if n := len(rows.FindAllString(body, -1)); n != 100 || !strings.Contains(body, "page 1000 of 1001") {
		t.Errorf("page 1000: %d rows, %s", n, regexp.MustCompile(`page \d+ of \d+`).FindString(body))
	}
	_, body = get(t, ts, "/runs/big/networks?page=1001")
	if n := len(rows.FindAllString(body, -1)); n != 2 {
		t.Errorf("last page: %d rows, want 2", n)
	}
	_, body = get(t, ts, "/runs/big/networks?status=failed&sort=acc&per=1000")
	if !strings.Contains(body, `count-matched">1030<`) {
		t.Errorf("failed networks: %s", regexp.MustCompile(`count-matched">\d+`).FindString(body))
	}
}

// BenchmarkLargeRun: page loads of a 100,000-network run once its records
// are read (the watcher reads them when the server starts).
func BenchmarkLargeRun(b *testing.B) {
	root := bigRun(b, 100000)
	_, ts := serve(b, Options{Roots: []string{root}})
	for _, p := range []string{"/", "/runs/big/", "/runs/big/networks", "/runs/big/networks?sort=acc&page=500", "/runs/big/network?search=rl&id=50000"} {
		get(b, ts, p) // warm: the first load builds the run's view
		b.Run(strings.NewReplacer("/", "_", "?", "_").Replace(p), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				get(b, ts, p)
			}
		})
	}
}
