package dashboard

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eas-go/eas/core/experiment"
)

// Options configure a Server.
type Options struct {
	// Roots are folders whose subfolders are runs (`--runs runs`); they are
	// rescanned, so runs started later appear.
	Roots []string
	// Runs are run directories served by themselves (an experiment folder,
	// or one search's folder).
	Runs []string
	// Token, when set, is required on every request (Authorization: Bearer,
	// or ?token= once, which sets a cookie).
	Token string
	// CacheDir holds PyTorch exports (default: the user's cache folder,
	// eas-dashboard). It must lie outside every run directory.
	CacheDir string
	// Poll is how often the watcher stats the run files (default 500ms).
	Poll time.Duration
	// PageSize is the networks table's default rows per page (default 100).
	PageSize int
	// Experiment parses a run's experiment.eas (budgets); nil: unknown.
	Experiment func(path string) (*experiment.Experiment, error)
	// Layers prints a network's layer table as `easrun check` does; runDir
	// is the experiment folder (its start network gives the input shape).
	Layers func(runDir, arch string) (string, error)
	// Export writes checkpoint as a PyTorch model (model.py,
	// model.safetensors) into outDir.
	Export func(checkpoint, outDir string) error
	// Log receives one line per server-side problem (default: discarded).
	Log io.Writer
}

// Server is the dashboard. Create it with New, serve Handler, and Close it.
type Server struct {
	opt     Options
	mu      sync.Mutex
	runs    map[string]*run
	order   []string // run ids in listing order
	bus     *bus
	exports *exportCache
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.Once
}

// New checks the options, reads the runs once and starts the watcher.
func New(opt Options) (*Server, error) {
	if len(opt.Roots) == 0 && len(opt.Runs) == 0 {
		return nil, errors.New("nothing to serve: give run directories or --runs DIR")
	}
	for _, d := range append(append([]string{}, opt.Roots...), opt.Runs...) {
		if !isDir(d) {
			return nil, fmt.Errorf("%s: no such folder (easrun serve shows run directories: name them, or the folder that holds them with --runs DIR)", d)
		}
	}
	if opt.Poll <= 0 {
		opt.Poll = 500 * time.Millisecond
	}
	if opt.PageSize <= 0 {
		opt.PageSize = 100
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	ec, err := newExportCache(opt.CacheDir, append(append([]string{}, opt.Roots...), opt.Runs...))
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, runs: map[string]*run{}, bus: newBus(), exports: ec, stop: make(chan struct{}), done: make(chan struct{})}
	s.scan()
	go s.watch()
	return s, nil
}

// Close stops the watcher and ends the event streams.
func (s *Server) Close() error {
	s.closeMu.Do(func() {
		close(s.stop)
		<-s.done
		s.bus.close()
	})
	return nil
}

// scan finds the runs (new folders under the roots) and refreshes each,
// telling subscribers about those that changed.
func (s *Server) scan() {
	type found struct{ id, dir string }
	var fs []found
	seen := map[string]bool{}
	add := func(base, dir string) {
		id := base
		for k := 2; seen[id]; k++ {
			id = fmt.Sprintf("%s~%d", base, k)
		}
		seen[id] = true
		fs = append(fs, found{id, dir})
	}
	for _, d := range s.opt.Runs {
		abs, _ := filepath.Abs(d)
		add(filepath.Base(abs), abs)
	}
	for _, root := range s.opt.Roots {
		abs, _ := filepath.Abs(root)
		if looksLikeRun(abs) {
			add(filepath.Base(abs), abs)
			continue
		}
		entries, _ := os.ReadDir(abs)
		for _, e := range entries {
			if sub := filepath.Join(abs, e.Name()); e.IsDir() && looksLikeRun(sub) {
				add(e.Name(), sub)
			}
		}
	}
	s.mu.Lock()
	var order []string
	for _, f := range fs {
		if r, ok := s.runs[f.id]; !ok || r.dir != f.dir {
			s.runs[f.id] = newRun(f.id, f.dir, s.opt.Experiment)
		}
		order = append(order, f.id)
	}
	s.order = order
	runs := make([]*run, 0, len(order))
	for _, id := range order {
		runs = append(runs, s.runs[id])
	}
	s.mu.Unlock()
	any := false
	for _, r := range runs {
		if r.refresh() {
			any = true
			r.prebuild()
			s.bus.publish(r.id)
		}
	}
	if any {
		s.bus.publish("") // the runs list
	}
}

// looksLikeRun: an experiment folder (its files or its searches' records)
// or a search folder.
func looksLikeRun(dir string) bool {
	for _, n := range []string{"experiment.eas", "run.json", "networks.jsonl"} {
		if isFile(filepath.Join(dir, n)) {
			return true
		}
	}
	return len(searchDirs(dir)) > 0
}

// watch rescans every Poll until Close.
func (s *Server) watch() {
	defer close(s.done)
	t := time.NewTicker(s.opt.Poll)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.scan()
		}
	}
}

// lookup finds a run by id (never by path).
func (s *Server) lookup(id string) (*run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if ok && !contains(s.order, id) {
		return nil, false
	}
	return r, ok
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *Server) list() []*run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*run, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.runs[id])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Handler is the dashboard's HTTP handler: routes behind the guards (GET
// and HEAD only, the token, a Host check against DNS rebinding, security
// headers, and a recover that answers a plain 500 page, never a trace).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleRuns)
	mux.HandleFunc("GET /runs/{run}/{$}", s.handleRun)
	mux.HandleFunc("GET /runs/{run}", redirectSlash)
	mux.HandleFunc("GET /runs/{run}/networks", s.handleNetworks)
	mux.HandleFunc("GET /runs/{run}/network", s.handleNetwork)
	mux.HandleFunc("GET /runs/{run}/checkpoint", s.handleCheckpoint)
	mux.HandleFunc("GET /runs/{run}/export/{file}", s.handleExport)
	mux.HandleFunc("GET /runs/{run}/workers", s.handleWorkers)
	mux.HandleFunc("GET /events", s.handleEvents)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(staticFS())))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "no such page: "+r.URL.Path)
	})
	return s.guard(mux)
}

func redirectSlash(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, r.URL.EscapedPath()+"/", http.StatusMovedPermanently)
}

func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				fmt.Fprintf(s.opt.Log, "dashboard: %s %s: internal error: %v\n", r.Method, r.URL.Path, v)
				s.fail(w, r, http.StatusInternalServerError, "internal error while making this page (logged by the server)")
			}
		}()
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			s.fail(w, r, http.StatusMethodNotAllowed, "the dashboard is read-only: only GET and HEAD")
			return
		}
		if !s.authorized(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized checks the token (when set) and, without one, that the Host
// is a loopback name: a page on another site that rebinds its name to
// 127.0.0.1 must not read the dashboard.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.opt.Token == "" {
		if !loopbackHost(r.Host) {
			s.fail(w, r, http.StatusForbidden, "this dashboard serves only loopback host names (localhost, 127.0.0.1, [::1]); to serve beyond loopback, start it with a token")
			return false
		}
		return true
	}
	given := ""
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		given = strings.TrimPrefix(a, "Bearer ")
	} else if q := r.URL.Query().Get("token"); q != "" {
		given = q
	} else if c, err := r.Cookie("eas_token"); err == nil {
		given = c.Value
	}
	if subtle.ConstantTimeCompare([]byte(given), []byte(s.opt.Token)) != 1 {
		s.fail(w, r, http.StatusUnauthorized, "a token is required: open the URL easrun serve printed (it ends in ?token=...), or send Authorization: Bearer TOKEN")
		return false
	}
	if r.URL.Query().Get("token") != "" {
		http.SetCookie(w, &http.Cookie{Name: "eas_token", Value: s.opt.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	return true
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether a listen address binds only loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve runs the dashboard on l until ctx ends; with cert and key it
// speaks TLS.
func (s *Server) Serve(ctx context.Context, l net.Listener, certFile, keyFile string) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: nil, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- hs.ServeTLS(l, certFile, keyFile)
		} else {
			errc <- hs.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		s.bus.close() // ends the event streams, so Shutdown need not wait for them
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		return nil
	}
}

var nan = math.NaN()

func isNaN(x float64) bool { return math.IsNaN(x) }
