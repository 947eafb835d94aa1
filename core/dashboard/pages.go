package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/eas-go/eas/core/report"
)

//go:embed assets
var assets embed.FS

func staticFS() fs.FS {
	sub, err := fs.Sub(assets, "assets/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

var funcs = template.FuncMap{
	"pct":      report.Pct,
	"points":   report.Points,
	"commas":   commas,
	"millions": func(p int64) string { return fmt.Sprintf("%.2fM", float64(p)/1e6) },
	"secs":     func(s float64) string { return fmt.Sprintf("%.1f", s) },
	"join":     strings.Join,
	"q":        urlQuery,
	"add":      func(a, b int) int { return a + b },
	"path":     url.PathEscape,
}

var pages = map[string]*template.Template{}

func init() {
	for _, p := range []string{"runs", "run", "networks", "network", "workers", "error"} {
		pages[p] = template.Must(template.New("").Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+p+".html"))
	}
}

// page is what every template gets besides its own data.
type page struct {
	Title string
	Run   string // run id ("" outside a run): the live stream to follow
	Live  bool
	Tab   string
	Data  any
}

// render executes a page into a buffer first, so a template error becomes
// an error page instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	var b bytes.Buffer
	if err := pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		fmt.Fprintf(s.opt.Log, "dashboard: %s: template %s: %v\n", r.URL.Path, name, err)
		s.fail(w, r, http.StatusInternalServerError, "internal error while making this page (logged by the server)")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// fail answers an error page with a plain message (no trace, no path of
// the server's files unless the message names one on purpose).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	var b bytes.Buffer
	p := page{Title: http.StatusText(code), Data: struct {
		Code int
		Msg  string
	}{code, msg}}
	if err := pages["error"].ExecuteTemplate(&b, "layout", p); err != nil {
		http.Error(w, msg, code)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

func (s *Server) runOf(w http.ResponseWriter, r *http.Request) (*run, snap, bool) {
	id := r.PathValue("run")
	rn, ok := s.lookup(id)
	if !ok {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no run %q here: the runs list shows what this server serves", id))
		return nil, snap{}, false
	}
	rn.refresh()
	return rn, rn.snapshot(), true
}

func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	var rows []summary
	for _, rn := range s.list() {
		rows = append(rows, rn.snapshot().summarize())
	}
	s.render(w, r, "runs", page{Title: "Runs", Live: true, Data: rows})
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	rn, sn, ok := s.runOf(w, r)
	if !ok {
		return
	}
	v := rn.viewOf(sn)
	type table struct {
		report.Table
		ID string
	}
	var ts []table
	for _, t := range v.Tables {
		ts = append(ts, table{t, "table-" + t.Name})
	}
	s.render(w, r, "run", page{Title: v.Summary.Experiment, Run: sn.id, Live: true, Tab: "run", Data: struct {
		S        summary
		V        *view
		Tables   []table
		HasDist  bool
		Networks int
	}{v.Summary, v, ts, hasDist(sn.dir), v.Networks}})
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func urlQuery(s string) string { return url.QueryEscape(s) }
