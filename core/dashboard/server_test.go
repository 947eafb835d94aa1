package dashboard

import (
	"bufio"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/store"
)

func TestRunsListAndRunPage(t *testing.T) {
	root := fixture(t)
	_, ts := serve(t, Options{Roots: []string{root}})
	code, body := get(t, ts, "/")
	if code != 200 || !strings.Contains(body, `href="/runs/quickstart/"`) || !strings.Contains(body, "state-finished") || !strings.Contains(body, "24") {
		t.Fatalf("runs list: %d\n%s", code, body)
	}
	code, body = get(t, ts, "/runs/quickstart/")
	if code != 200 {
		t.Fatalf("run page: %d", code)
	}
	for _, want := range []string{`id="count-networks">24<`, "Figure 4", "Figure 5", `Search &#34;rl&#34;: sampled networks`, "table-summary", "table-comparison",
		"one run: no interval", "control (start retrained)"} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if n := strings.Count(body, "<svg"); n != 3 {
		t.Errorf("%d plots, want 3 (two searches and their comparison)", n)
	}
	// Every sampled network is a dot linking to its page.
	if n := strings.Count(body, `<a href="network?search=rl&amp;id=`); n != 12 {
		t.Errorf("%d links to rl's networks in its plot, want 12", n)
	}
	if code, _ := get(t, ts, "/runs/quickstart"); code != 200 {
		t.Errorf("run page without the slash: %d", code)
	}
}

// TestTraversal: no URL reaches a file outside the served runs, however
// the path is spelled.
func TestTraversal(t *testing.T) {
	root := fixture(t)
	secret := filepath.Join(filepath.Dir(root), "secret.safetensors")
	os.WriteFile(secret, []byte("TOPSECRET"), 0o644)
	// A record that names a checkpoint outside its run, and one that is a
	// link pointing outside.
	rl := filepath.Join(root, "quickstart", "rl")
	os.Symlink(secret, filepath.Join(rl, "checkpoints", "link.safetensors"))
	appendRecord(t, rl, store.Record{ID: 90, Kind: "sample", Arch: "FC(8) SM(10)", Status: "ok"})
	b, _ := os.ReadFile(filepath.Join(rl, "networks.jsonl"))
	b = append(b, []byte(`{"id":91,"kind":"sample","arch":"SM(10)","status":"ok","weights":"../../../secret.safetensors"}`+"\n"+
		`{"id":92,"kind":"sample","arch":"SM(10)","status":"ok","weights":"checkpoints/link.safetensors"}`+"\n"+
		`{"id":93,"kind":"sample","arch":"SM(10)","status":"ok","weights":"/etc/passwd"}`+"\n")...)
	os.WriteFile(filepath.Join(rl, "networks.jsonl"), b, 0o644)
	_, ts := serve(t, Options{Roots: []string{root}, Export: func(string, string) error { return errors.New("not reached") }})
	for _, p := range []string{
		"/runs/../../etc/passwd", "/runs/%2e%2e/%2e%2e/etc/passwd", "/runs/..%2f..%2fetc%2fpasswd/", "/runs/..%252f..%252fetc/",
		"/runs/quickstart/../../../etc/passwd", "/runs/quickstart/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/../../etc/passwd",
		"/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd", "/runs/quickstart/export/..%2f..%2fsecret.safetensors?search=rl&n=2",
		"/runs/quickstart/checkpoint?search=../../etc&n=0", "/runs/quickstart/checkpoint?search=rl%2f..%2f..&n=0",
		"/runs/quickstart/checkpoint?search=rl&id=91", "/runs/quickstart/checkpoint?search=rl&id=92", "/runs/quickstart/checkpoint?search=rl&id=93",
		"/runs/quickstart/export/model.py?search=rl&id=91", "/runs/quickstart/export/model.py?search=rl&id=92",
		"//etc/passwd", "/runs/quickstart/network?search=rl&n=../../etc/passwd",
	} {
		code, body := get(t, ts, p)
		if code == 200 || strings.Contains(body, "TOPSECRET") || strings.Contains(body, "root:") {
			t.Errorf("GET %s: %d\n%.300s", p, code, body)
		}
	}
	// The checkpoint a record rightly names is served.
	if code, body := get(t, ts, "/runs/quickstart/checkpoint?search=rl&id=1"); code != 200 || !strings.Contains(body, "weights") {
		t.Errorf("own checkpoint: %d %.100q", code, body)
	}
}

func TestBadQueries(t *testing.T) {
	root := fixture(t)
	_, ts := serve(t, Options{Roots: []string{root}})
	for _, c := range []struct {
		path string
		code int
		says string
	}{
		{"/runs/quickstart/networks?page=abc", 400, "page="},
		{"/runs/quickstart/networks?page=0", 400, "page="},
		{"/runs/quickstart/networks?page=99999999999999999999", 400, "page="},
		{"/runs/quickstart/networks?per=0", 400, "per="},
		{"/runs/quickstart/networks?per=5000", 400, "per="},
		{"/runs/quickstart/networks?sort=evil", 400, "sort="},
		{"/runs/quickstart/networks?dir=up", 400, "dir="},
		{"/runs/quickstart/networks?acc_min=x", 400, "acc_min="},
		{"/runs/quickstart/networks?gain_max=NaN", 400, "gain_max="},
		{"/runs/quickstart/networks?search=nope", 400, "no such search"},
		{"/runs/quickstart/networks?status=great", 400, "status="},
		{"/runs/quickstart/networks?kind=%3Cscript%3E", 400, "kind="},
		{"/runs/quickstart/networks?q=" + strings.Repeat("a", 300), 400, "q:"},
		{"/runs/quickstart/network?search=rl&n=999", 404, "n="},
		{"/runs/quickstart/network?search=rl&n=-1", 404, "n="},
		{"/runs/quickstart/network?search=rl&id=x", 404, "id="},
		{"/runs/quickstart/network?search=rl&id=77", 404, "id=77"},
		{"/runs/quickstart/network", 404, "search="},
		{"/runs/nope/", 404, "no run"},
		{"/events?run=nope", 404, "no run"},
		{"/runs/quickstart/export/evil.sh?search=rl&n=2", 404, "model.py"},
		{"/nothing", 404, "no such page"},
	} {
		code, body := get(t, ts, c.path)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("GET %s: %d, want %d saying %q\n%.400s", c.path, code, c.code, c.says, body)
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("GET %s echoes markup unescaped", c.path)
		}
	}
	// A page past the last is the last page, not an error.
	if code, body := get(t, ts, "/runs/quickstart/networks?page=50"); code != 200 || !strings.Contains(body, "page 1 of 1") {
		t.Errorf("page past the end: %d", code)
	}
}

func TestNetworksTable(t *testing.T) {
	root := fixture(t)
	_, ts := serve(t, Options{Roots: []string{root}, PageSize: 5})
	rows := regexp.MustCompile(`<tr class="net status-`)
	_, body := get(t, ts, "/runs/quickstart/networks")
	if n := len(rows.FindAllString(body, -1)); n != 5 || !strings.Contains(body, `id="count-records">28<`) || !strings.Contains(body, "page 1 of 6") {
		t.Fatalf("first page: %d rows\n%s", n, body)
	}
	_, body = get(t, ts, "/runs/quickstart/networks?search=rl&kind=sample&sort=acc&per=100")
	if !strings.Contains(body, `id="count-matched">12<`) {
		t.Fatalf("rl samples: %s", body)
	}
	// Sorted by accuracy, best first: the first row holds rl's best, 80.31.
	first := body[strings.Index(body, `<tr class="net`):]
	if !strings.Contains(first[:strings.Index(first, "</tr>")], "80.31") {
		t.Errorf("first row by accuracy: %s", first[:strings.Index(first, "</tr>")])
	}
	_, body = get(t, ts, "/runs/quickstart/networks?kind=sample&acc_min=74&gain_min=10")
	if !strings.Contains(body, `id="count-matched">3<`) {
		t.Errorf("acc >= 74 and gain >= 10 points: %s", regexp.MustCompile(`count-matched">\d+`).FindString(body))
	}
	_, body = get(t, ts, "/runs/quickstart/networks?q=C(96,5,1)&depth_max=7&params_min=1&seconds_max=100")
	if strings.Contains(body, `id="count-matched">0<`) || strings.Contains(body, `id="count-matched">28<`) {
		t.Errorf("architecture filter: %s", regexp.MustCompile(`count-matched">\d+`).FindString(body))
	}
}

func TestNetworkPage(t *testing.T) {
	root := fixture(t)
	exports := 0
	cache := filepath.Join(t.TempDir(), "cache")
	_, ts := serve(t, Options{Roots: []string{root}, CacheDir: cache,
		Layers: func(dir, arch string) (string, error) { return "LAYERS OF " + arch, nil },
		Export: func(ck, out string) error {
			exports++
			os.WriteFile(filepath.Join(out, "model.py"), []byte("# model of "+filepath.Base(ck)), 0o644)
			return os.WriteFile(filepath.Join(out, "model.safetensors"), []byte("W"), 0o644)
		}})
	before := tree(t, root)
	code, body := get(t, ts, "/runs/quickstart/network?search=rl&id=3")
	if code != 200 {
		t.Fatalf("network page: %d", code)
	}
	for _, want := range []string{"LAYERS OF C(24,3,1)", "Lineage from the start network", "start #0", "checkpoint?search=rl&amp;n=", "export/model.py", `&#34;val_acc&#34;`} {
		if !strings.Contains(body, want) {
			t.Errorf("network page lacks %q", want)
		}
	}
	// The lineage ends at the start network and holds this network.
	lin := body[strings.Index(body, `<ol class="lineage">`):]
	lin = lin[:strings.Index(lin, "</ol>")]
	if !strings.HasPrefix(strings.TrimPrefix(lin, `<ol class="lineage">`), `<li><a href="network?search=rl&amp;n=0">start #0</a>`) || !strings.Contains(lin, `class="here"`) {
		t.Errorf("lineage: %s", lin)
	}
	for i := 0; i < 2; i++ {
		code, body = get(t, ts, "/runs/quickstart/export/model.py?search=rl&id=3")
		if code != 200 || body != "# model of net-0003.safetensors" {
			t.Fatalf("export: %d %q", code, body)
		}
	}
	if exports != 1 {
		t.Errorf("exported %d times, want once (then cached)", exports)
	}
	if after := tree(t, root); after != before {
		t.Errorf("the run directory changed:\n%s\nthen\n%s", before, after)
	}
	// A network without a checkpoint says so; its download is refused.
	_, body = get(t, ts, "/runs/quickstart/network?search=rl&id=4")
	if !strings.Contains(body, "no checkpoint") {
		t.Errorf("network without checkpoint: %s", body)
	}
	if code, _ := get(t, ts, "/runs/quickstart/checkpoint?search=rl&id=4"); code != 404 {
		t.Errorf("missing checkpoint: %d", code)
	}
}

func TestExportCacheOutsideRuns(t *testing.T) {
	root := fixture(t)
	if _, err := New(Options{Roots: []string{root}, CacheDir: filepath.Join(root, "quickstart", "cache")}); err == nil || !strings.Contains(err.Error(), "inside the served folder") {
		t.Fatalf("cache inside a run: %v", err)
	}
}

func TestExportError(t *testing.T) {
	root := fixture(t)
	_, ts := serve(t, Options{Roots: []string{root}, Export: func(string, string) error { return errors.New("holds no weights (a dry run)") }})
	code, body := get(t, ts, "/runs/quickstart/export/model.safetensors?search=rl&id=1")
	if code != 422 || !strings.Contains(body, "holds no weights") {
		t.Errorf("%d %s", code, body)
	}
}

// TestTornAndDamagedRecords: a last line being written is left out and
// left alone (the dashboard never repairs a file), shown once complete; a
// damaged middle line is reported and skipped.
func TestTornAndDamagedRecords(t *testing.T) {
	root := fixture(t)
	rl := filepath.Join(root, "quickstart", "rl")
	f, _ := os.OpenFile(filepath.Join(rl, "networks.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":13,"kind":"sample","arch":"FC(`)
	f.Close()
	_, ts := serve(t, Options{Roots: []string{root}})
	code, body := get(t, ts, "/runs/quickstart/")
	if code != 200 || !strings.Contains(body, `count-networks">24<`) || !strings.Contains(body, "incomplete") {
		t.Fatalf("torn line: %d %s", code, body)
	}
	st, _ := os.Stat(filepath.Join(rl, "networks.jsonl"))
	f, _ = os.OpenFile(filepath.Join(rl, "networks.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`8) SM(10)","status":"ok","val_acc":0.5}` + "\n")
	f.Close()
	if st2, _ := os.Stat(filepath.Join(rl, "networks.jsonl")); st2.Size() <= st.Size() {
		t.Fatal("the dashboard truncated the torn line")
	}
	_, body = get(t, ts, "/runs/quickstart/")
	if !strings.Contains(body, `count-networks">25<`) || strings.Contains(body, "incomplete") {
		t.Fatalf("completed line: %s", regexp.MustCompile(`count-networks">\d+`).FindString(body))
	}
	// Damage in the middle: reported, the rest still shown.
	rnd := filepath.Join(root, "quickstart", "random", "networks.jsonl")
	b, _ := os.ReadFile(rnd)
	lines := strings.SplitAfter(string(b), "\n")
	lines[5] = "not json\n"
	os.WriteFile(rnd, []byte(strings.Join(lines, "")), 0o644)
	_, body = get(t, ts, "/runs/quickstart/")
	if !strings.Contains(body, "line 6: not a record") || !strings.Contains(body, `count-networks">24<`) {
		t.Errorf("damaged line: %s", body)
	}
	if _, body = get(t, ts, "/"); !strings.Contains(body, "state-failed") {
		t.Errorf("a run with damaged records is not shown as failed")
	}
}

// TestOddRunDirs: missing files, a run with no record yet, a lone search
// folder from an older version (no controls, no experiment file).
func TestOddRunDirs(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "fresh")
	os.MkdirAll(empty, 0o755)
	os.WriteFile(filepath.Join(empty, "experiment.eas"), []byte("experiment \"fresh\"\n"), 0o644)
	old := filepath.Join(dir, "old", "rl")
	os.MkdirAll(old, 0o755)
	os.WriteFile(filepath.Join(old, "networks.jsonl"), []byte(`{"id":1,"kind":"sample","arch":"C(8,3,1) SM(10)","val_acc":0.5,"status":"ok"}`+"\n"+
		`{"id":2,"kind":"sample","arch":"C(8,3,1) SM(10)","val_acc":0,"status":"failed","error":"out of memory","unknown_field":[1,2]}`+"\n"), 0o644)
	gone := filepath.Join(dir, "gone")
	os.MkdirAll(gone, 0o755)
	_, ts := serve(t, Options{Runs: []string{empty, old, gone}, Experiment: func(string) (*experiment.Experiment, error) { return nil, errors.New("bad file: line 1") }})
	for _, p := range []string{"/", "/runs/fresh/", "/runs/rl/", "/runs/gone/", "/runs/rl/networks", "/runs/rl/network?search=rl&n=1", "/runs/fresh/networks",
		"/runs/fresh/workers", "/runs/rl/workers"} {
		if code, body := get(t, ts, p); code != 200 {
			t.Errorf("GET %s: %d %.300s", p, code, body)
		}
	}
	_, body := get(t, ts, "/runs/fresh/")
	if !strings.Contains(body, "no records yet") || !strings.Contains(body, "bad file") {
		t.Errorf("fresh run: %s", body)
	}
	_, body = get(t, ts, "/runs/rl/network?search=rl&n=1")
	if !strings.Contains(body, "out of memory") {
		t.Errorf("failed network's error not shown")
	}
	os.RemoveAll(old)
	if code, _ := get(t, ts, "/runs/rl/"); code != 200 {
		t.Errorf("run removed while served: %d", code)
	}
}

func TestTokenAndHost(t *testing.T) {
	root := fixture(t)
	tok := "0123456789abcdef0123"
	_, ts := serve(t, Options{Roots: []string{root}, Token: tok})
	if code, _ := get(t, ts, "/"); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := get(t, ts, "/?token=wrong"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	resp, err := ts.Client().Get(ts.URL + "/?token=" + tok)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token in the URL: %v %v", err, resp)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "eas_token" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly {
		t.Fatalf("no HttpOnly cookie: %v", resp.Cookies())
	}
	req, _ := http.NewRequest("GET", ts.URL+"/runs/quickstart/", nil)
	req.AddCookie(cookie)
	if resp, _ := ts.Client().Do(req); resp.StatusCode != 200 {
		t.Errorf("cookie: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", ts.URL+"/runs/quickstart/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, _ := ts.Client().Do(req); resp.StatusCode != 200 {
		t.Errorf("bearer: %d", resp.StatusCode)
	}
	// Without a token only loopback host names are served (DNS rebinding).
	_, open := serve(t, Options{Roots: []string{root}})
	req, _ = http.NewRequest("GET", open.URL+"/", nil)
	req.Host = "evil.example:80"
	if resp, _ := open.Client().Do(req); resp.StatusCode != 403 {
		t.Errorf("foreign Host: %d", resp.StatusCode)
	}
	resp, _ = open.Client().Post(open.URL+"/", "text/plain", strings.NewReader("x"))
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if h := resp.Header.Get("Content-Security-Policy"); !strings.Contains(h, "default-src 'self'") {
		t.Errorf("CSP: %q", h)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:1": true, "[::1]:80": true, "0.0.0.0:8080": false, ":8080": false, "10.1.2.3:80": false, "nonsense": false} {
		if IsLoopback(addr) != want {
			t.Errorf("IsLoopback(%q) = %v", addr, !want)
		}
	}
}

// TestEvents: a record appended to a run is announced on its event stream
// within 2 s.
func TestEvents(t *testing.T) {
	root := fixture(t)
	_, ts := serve(t, Options{Roots: []string{root}, Poll: 200 * time.Millisecond})
	resp, err := ts.Client().Get(ts.URL + "/events?run=quickstart")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %v %v", err, resp)
	}
	defer resp.Body.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(300 * time.Millisecond)
	appendRecord(t, filepath.Join(root, "quickstart", "rl"), store.Record{ID: 13, Kind: "sample", Arch: "SM(10)", Status: "ok", ValAcc: 0.5})
	deadline := time.After(2 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream closed")
			}
			if l == "event: change" {
				return
			}
		case <-deadline:
			t.Fatal("no change event within 2 s of an appended record")
		}
	}
}

// TestPanicIsAPlainPage: a failure inside a handler answers a 500 page,
// never a stack trace.
func TestPanicIsAPlainPage(t *testing.T) {
	root := fixture(t)
	_, ts := serve(t, Options{Roots: []string{root}, Layers: func(string, string) (string, error) { panic("checker exploded") }})
	code, body := get(t, ts, "/runs/quickstart/network?search=rl&id=1")
	if code != 500 || strings.Contains(body, "exploded") || !strings.Contains(body, "internal error") {
		t.Errorf("%d %s", code, body)
	}
}

func TestWorkersPage(t *testing.T) {
	root := fixture(t)
	run := filepath.Join(root, "quickstart")
	_, ts := serve(t, Options{Roots: []string{root}})
	if _, body := get(t, ts, "/runs/quickstart/workers"); !strings.Contains(body, "not a distributed run") {
		t.Errorf("no dist: %s", body)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	os.WriteFile(filepath.Join(run, DistFile), []byte(`{"time":"`+now+`","status":{"Workers":[{"id":"w1","host":"gpu1","slots":2,"running":["rl #14"],"done":6,
		"images_per_sec":1234.7,"since":"`+now+`","build":{"version":"v1.2","commit":"abc123"}},{"id":7},"junk"],"Queued":3,"Running":1,"Done":20,"Failed":1,"Retried":2,"Extra":{"x":1}}}`), 0o644)
	time.Sleep(150 * time.Millisecond)
	_, body := get(t, ts, "/runs/quickstart/workers")
	for _, want := range []string{">w1<", ">gpu1<", ">1235<", "v1.2 abc123", "rl #14", `<td class="num">3</td><td class="num">1</td><td class="num">20</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("workers page lacks %q", want)
		}
	}
	if _, body = get(t, ts, "/runs/quickstart/"); !strings.Contains(body, `href="workers"`) {
		t.Errorf("run page does not link the workers page")
	}
	os.WriteFile(filepath.Join(run, DistFile), []byte(`{"time": 12, "status": [`), 0o644)
	if code, body := get(t, ts, "/runs/quickstart/workers"); code != 200 || !strings.Contains(body, "not readable") {
		t.Errorf("garbage dist.json: %d %s", code, body)
	}
}

// TestRepeatedSearches: runs r1, r2 of each search are grouped; Figure 5
// draws each search's mean over seeds with a ± sd band, and the comparison
// gives intervals.
func TestRepeatedSearches(t *testing.T) {
	root := fixture(t)
	exp := filepath.Join(root, "quickstart")
	for _, s := range []string{"rl", "random"} {
		for _, k := range []string{"r1", "r2"} {
			os.CopyFS(filepath.Join(exp, s+"x", k), os.DirFS(filepath.Join(exp, s)))
		}
		os.RemoveAll(filepath.Join(exp, s))
		os.Rename(filepath.Join(exp, s+"x"), filepath.Join(exp, s))
	}
	// The second seed of rl did better: its records' accuracies shifted.
	p := filepath.Join(exp, "rl", "r2", "networks.jsonl")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.ReplaceAll(string(b), `"val_acc":0.7`, `"val_acc":0.8`)), 0o644)
	_, ts := serve(t, Options{Roots: []string{root}})
	_, body := get(t, ts, "/runs/quickstart/")
	for _, want := range []string{"rl best (mean of 2 seeds)", "rl best ± sd", "<polygon", `Search &#34;rl/r2&#34;`, `id="count-networks">48<`} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if strings.Contains(body, "one run: no interval") {
		t.Errorf("two seeds a side still say there is no interval")
	}
	if _, body = get(t, ts, "/runs/quickstart/networks?search=rl/r2"); !strings.Contains(body, `id="count-matched">14<`) {
		t.Errorf("networks of rl/r2: %s", regexp.MustCompile(`count-matched">\d+`).FindString(body))
	}
}
