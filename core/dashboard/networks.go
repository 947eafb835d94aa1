package dashboard

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/eas-go/eas/core/store"
)

// netQuery is the networks table's filter, order and page, read from the
// URL and checked: a bad value is a 400 naming the parameter.
type netQuery struct {
	Search, Kind, Status, Q string
	Sort, Dir               string
	Page, Per               int
	ranges                  map[string][2]float64 // column -> [min, max] (NaN: open)
	Raw                     url.Values            // what the form shows again
}

// columns the table sorts and filters by: their value in a row.
var columns = map[string]func(netRow) float64{
	"id":      func(r netRow) float64 { return float64(r.rec.ID) },
	"acc":     func(r netRow) float64 { return 100 * r.rec.ValAcc },
	"gain":    func(r netRow) float64 { return 100 * r.gain },
	"depth":   func(r netRow) float64 { return float64(r.rec.Depth) },
	"params":  func(r netRow) float64 { return float64(r.rec.Params) },
	"seconds": func(r netRow) float64 { return r.rec.Seconds },
}

var kinds = []string{string(store.KindSample), string(store.KindControl), string(store.KindStart), string(store.KindStageStart), string(store.KindFinal)}
var statuses = []string{store.StatusOK, store.StatusFailed, store.StatusCached}

func parseNetQuery(v url.Values, searches []string, defPer int) (netQuery, error) {
	q := netQuery{Search: v.Get("search"), Kind: v.Get("kind"), Status: v.Get("status"), Q: v.Get("q"),
		Sort: v.Get("sort"), Dir: v.Get("dir"), Page: 1, Per: defPer, ranges: map[string][2]float64{}, Raw: v}
	if q.Search != "" && !slices.Contains(searches, q.Search) {
		return q, fmt.Errorf("search=%q: this run has no such search (it has %s)", q.Search, strings.Join(searches, ", "))
	}
	if q.Kind != "" && !slices.Contains(kinds, q.Kind) {
		return q, fmt.Errorf("kind=%q: expected one of %s", q.Kind, strings.Join(kinds, ", "))
	}
	if q.Status != "" && !slices.Contains(statuses, q.Status) {
		return q, fmt.Errorf("status=%q: expected one of %s", q.Status, strings.Join(statuses, ", "))
	}
	if len(q.Q) > 200 {
		return q, fmt.Errorf("q: at most 200 characters")
	}
	switch q.Sort {
	case "":
		q.Sort = "id"
	case "search", "status", "kind":
	default:
		if columns[q.Sort] == nil {
			return q, fmt.Errorf("sort=%q: expected id, search, kind, status, acc, gain, depth, params or seconds", q.Sort)
		}
	}
	switch q.Dir {
	case "":
		q.Dir = "asc"
		if q.Sort == "acc" || q.Sort == "gain" {
			q.Dir = "desc"
		}
	case "asc", "desc":
	default:
		return q, fmt.Errorf("dir=%q: expected asc or desc", q.Dir)
	}
	var err error
	if q.Page, err = intParam(v, "page", 1, 1, math.MaxInt32); err != nil {
		return q, err
	}
	if q.Per, err = intParam(v, "per", defPer, 1, 1000); err != nil {
		return q, err
	}
	for col := range columns {
		var lim [2]float64
		for i, side := range []string{"min", "max"} {
			lim[i] = nan
			name := col + "_" + side
			if s := strings.TrimSpace(v.Get(name)); s != "" {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
					return q, fmt.Errorf("%s=%q: not a number", name, s)
				}
				lim[i] = f
			}
		}
		if !math.IsNaN(lim[0]) || !math.IsNaN(lim[1]) {
			q.ranges[col] = lim
		}
	}
	return q, nil
}

func intParam(v url.Values, name string, def, lo, hi int) (int, error) {
	s := strings.TrimSpace(v.Get(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: expected a whole number from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

// match reports whether a row passes the filters.
func (q netQuery) match(r netRow) bool {
	if (q.Search != "" && r.search != q.Search) || (q.Kind != "" && string(r.rec.Kind) != q.Kind) || (q.Status != "" && r.rec.Status != q.Status) {
		return false
	}
	if q.Q != "" {
		t := strings.ToLower(q.Q)
		if !strings.Contains(strings.ToLower(r.rec.Arch), t) && !strings.Contains(strings.ToLower(strings.Join(r.rec.Actions, " ")), t) {
			return false
		}
	}
	for col, lim := range q.ranges {
		x := columns[col](r)
		if math.IsNaN(x) || (!math.IsNaN(lim[0]) && x < lim[0]) || (!math.IsNaN(lim[1]) && x > lim[1]) {
			return false
		}
	}
	return true
}

// sorted filters and orders the rows: keys are computed once per row
// (sorting 100,000 rows by calling the column functions in every
// comparison took a second); NaN (no control, failed) goes last either way.
func (q netQuery) sorted(rows []netRow) []netRow {
	type keyed struct {
		num float64
		str string
		nan bool
		row int
	}
	var ks []keyed
	col := columns[q.Sort]
	for i, r := range rows {
		if !q.match(r) {
			continue
		}
		k := keyed{row: i}
		switch q.Sort {
		case "search":
			k.str = r.search
		case "status":
			k.str = r.rec.Status
		case "kind":
			k.str = string(r.rec.Kind)
		default:
			k.num = col(r)
			k.nan = math.IsNaN(k.num)
		}
		ks = append(ks, k)
	}
	desc := q.Dir == "desc"
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.nan != b.nan {
			if a.nan {
				return 1
			}
			return -1
		}
		c := cmp.Compare(a.num, b.num)
		if c == 0 {
			c = strings.Compare(a.str, b.str)
		}
		if desc {
			c = -c
		}
		if c == 0 { // a total order: search, then position in the file
			ra, rb := rows[a.row], rows[b.row]
			if c = strings.Compare(ra.search, rb.search); c == 0 {
				c = ra.n - rb.n
			}
		}
		return c
	})
	out := make([]netRow, len(ks))
	for i, k := range ks {
		out[i] = rows[k.row]
	}
	return out
}

// link is the table's URL with some parameters changed ("" removes one).
func (q netQuery) link(set ...string) string {
	v := url.Values{}
	for k, xs := range q.Raw {
		if k != "token" {
			v[k] = xs
		}
	}
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			v.Del(set[i])
		} else {
			v.Set(set[i], set[i+1])
		}
	}
	if len(v) == 0 {
		return "networks"
	}
	return "networks?" + v.Encode()
}

type netLine struct {
	Search, Kind, Status, Arch, Actions, Error string
	N, ID, Episode, Depth                      int
	Acc, Gain                                  float64
	Params                                     int64
	Seconds                                    float64
}

type sortHead struct{ Label, Link, Mark string }

func (s *Server) handleNetworks(w http.ResponseWriter, r *http.Request) {
	rn, sn, ok := s.runOf(w, r)
	if !ok {
		return
	}
	var names []string
	for _, x := range sn.searches {
		names = append(names, x.name)
	}
	q, err := parseNetQuery(r.URL.Query(), names, s.opt.PageSize)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "networks table: "+err.Error())
		return
	}
	v := rn.viewOf(sn)
	sel := q.sorted(v.rows)
	pages := max(1, (len(sel)+q.Per-1)/q.Per)
	pg := min(q.Page, pages)
	var lines []netLine
	for _, row := range sel[min((pg-1)*q.Per, len(sel)):min(pg*q.Per, len(sel))] {
		rec := row.rec
		lines = append(lines, netLine{Search: row.search, Kind: string(rec.Kind), Status: rec.Status, Arch: rec.Arch, Actions: strings.Join(rec.Actions, "; "),
			Error: rec.Error, N: row.n, ID: rec.ID, Episode: rec.Episode, Depth: rec.Depth, Acc: rec.ValAcc, Gain: row.gain, Params: rec.Params, Seconds: rec.Seconds})
	}
	var heads []sortHead
	for _, h := range [][2]string{{"search", "search"}, {"id", "id"}, {"kind", "kind"}, {"status", "status"}, {"acc", "val acc %"}, {"gain", "gain"},
		{"depth", "depth"}, {"params", "params"}, {"seconds", "seconds"}} {
		dir, mark := "asc", ""
		if q.Sort == h[0] {
			mark = map[string]string{"asc": " ▲", "desc": " ▼"}[q.Dir]
			if q.Dir == "asc" {
				dir = "desc"
			}
		} else if h[0] == "acc" || h[0] == "gain" {
			dir = "desc"
		}
		heads = append(heads, sortHead{h[1], q.link("sort", h[0], "dir", dir, "page", ""), mark})
	}
	nav := struct{ First, Prev, Next, Last string }{}
	if pg > 1 {
		nav.First, nav.Prev = q.link("page", ""), q.link("page", strconv.Itoa(pg-1))
	}
	if pg < pages {
		nav.Next, nav.Last = q.link("page", strconv.Itoa(pg+1)), q.link("page", strconv.Itoa(pages))
	}
	s.render(w, r, "networks", page{Title: "Networks of " + sn.id, Run: sn.id, Live: true, Tab: "networks", Data: struct {
		Q                        netQuery
		Searches, Kinds, Status  []string
		Lines                    []netLine
		Heads                    []sortHead
		Total, Matched, Page, Of int
		Nav                      any
		Notes                    []string
	}{q, names, kinds, statuses, lines, heads, len(v.rows), len(sel), pg, pages, nav, v.Notes}})
}
