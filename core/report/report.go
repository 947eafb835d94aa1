package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/store"
)

// Search is one search's records.
type Search struct {
	Name    string
	Dir     string
	Records []store.Record // sorted by ID
}

// Samples returns the sampled networks in sampling order.
func (s Search) Samples() []store.Record {
	var out []store.Record
	for _, r := range s.Records {
		if r.Kind == "sample" {
			out = append(out, r)
		}
	}
	return out
}

// StartAcc is the start network's validation accuracy (NaN if unknown).
func (s Search) StartAcc() float64 {
	for _, r := range s.Records {
		if r.Kind == "start" {
			return r.ValAcc
		}
	}
	return math.NaN()
}

// Load reads a run directory: either one search (it has networks.jsonl) or an
// experiment folder holding one folder per search.
func Load(dir string) ([]Search, error) {
	if _, err := os.Stat(filepath.Join(dir, "networks.jsonl")); err == nil {
		s, err := loadOne(dir)
		if err != nil {
			return nil, err
		}
		return []Search{s}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Search
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sub, "networks.jsonl")); err != nil {
			continue
		}
		s, err := loadOne(sub)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no search runs found (no networks.jsonl here or in its folders)", dir)
	}
	return out, nil
}

func loadOne(dir string) (Search, error) {
	st, err := store.Open(dir)
	if err != nil {
		return Search{}, err
	}
	defer st.Close()
	recs := st.Records()
	sort.SliceStable(recs, func(i, j int) bool {
		if (recs[i].Kind == "sample") != (recs[j].Kind == "sample") {
			return recs[i].Kind != "sample" && recs[i].Kind != "final"
		}
		return recs[i].ID < recs[j].ID
	})
	return Search{Name: filepath.Base(dir), Dir: dir, Records: recs}, nil
}

// Table is a titled grid of strings, rendered as text, Markdown or CSV.
type Table struct {
	Name   string // file-name stem
	Title  string
	Header []string
	Rows   [][]string
}

// Text renders with tablewriter.
func (t Table) Text(w io.Writer) error {
	fmt.Fprintf(w, "%s\n", t.Title)
	tb := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	h := make([]any, len(t.Header))
	for i, s := range t.Header {
		h[i] = s
	}
	tb.Header(h...)
	for _, r := range t.Rows {
		if err := tb.Append(r); err != nil {
			return err
		}
	}
	return tb.Render()
}

// Markdown renders a GitHub-style table.
func (t Table) Markdown(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n| %s |\n|", t.Title, strings.Join(t.Header, " | "))
	for range t.Header {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

// CSV renders comma-separated values with a header line.
func (t Table) CSV(w io.Writer) error {
	c := csv.NewWriter(w)
	if err := c.Write(t.Header); err != nil {
		return err
	}
	if err := c.WriteAll(t.Rows); err != nil {
		return err
	}
	c.Flush()
	return c.Error()
}

func pct(a float64) string {
	if math.IsNaN(a) {
		return "-"
	}
	return fmt.Sprintf("%.2f", 100*a)
}

func millions(p int64) string { return fmt.Sprintf("%.2fM", float64(p)/1e6) }

// Summary is one row per search.
func Summary(ss []Search) Table {
	t := Table{Name: "summary", Title: "Searches", Header: []string{"search", "sampled", "ok", "cached", "failed",
		"start acc %", "best acc %", "mean acc %", "best depth", "best params", "best network"}}
	for _, s := range ss {
		var ok, cached, failed int
		var sum float64
		var best *store.Record
		for _, r := range s.Samples() {
			switch r.Status {
			case store.StatusOK:
				ok++
			case store.StatusCached:
				cached++
			default:
				failed++
				continue
			}
			sum += r.ValAcc
			if best == nil || r.ValAcc > best.ValAcc {
				rr := r
				best = &rr
			}
		}
		row := []string{s.Name, fmt.Sprint(len(s.Samples())), fmt.Sprint(ok), fmt.Sprint(cached), fmt.Sprint(failed), pct(s.StartAcc())}
		if best != nil {
			row = append(row, pct(best.ValAcc), pct(sum/float64(ok+cached)), fmt.Sprint(best.Depth), millions(best.Params), best.Arch)
		} else {
			row = append(row, "-", "-", "-", "-", "-")
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// TopNetworks lists the best k distinct sampled networks of each search.
func TopNetworks(ss []Search, k int) Table {
	t := Table{Name: "networks", Title: fmt.Sprintf("Top %d sampled networks", k), Header: []string{"search", "id", "episode", "val acc %", "depth", "params", "actions", "architecture"}}
	for _, s := range ss {
		var rs []store.Record
		seen := map[string]bool{}
		for _, r := range s.Samples() {
			if r.Status == store.StatusOK && !seen[r.Arch] {
				seen[r.Arch] = true
				rs = append(rs, r)
			}
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].ValAcc > rs[j].ValAcc })
		for _, r := range rs[:min(k, len(rs))] {
			t.Rows = append(t.Rows, []string{s.Name, fmt.Sprint(r.ID), fmt.Sprint(r.Episode), pct(r.ValAcc), fmt.Sprint(r.Depth),
				millions(r.Params), strings.Join(r.Actions, "; "), r.Arch})
		}
	}
	return t
}

// Curve is the best and mean accuracy after each number of sampled networks.
type Curve struct {
	N    []int
	Best []float64
	Mean []float64 // mean of all successful networks so far
	Acc  []float64 // each network's accuracy (NaN for failures)
}

// CurveOf computes the running statistics of a search.
func CurveOf(s Search) Curve {
	var c Curve
	best, sum, n := math.Inf(-1), 0.0, 0
	for i, r := range s.Samples() {
		acc := math.NaN()
		if r.Status != store.StatusFailed {
			acc = r.ValAcc
			best = math.Max(best, acc)
			sum += acc
			n++
		}
		c.N = append(c.N, i+1)
		c.Acc = append(c.Acc, acc)
		if n == 0 {
			c.Best, c.Mean = append(c.Best, math.NaN()), append(c.Mean, math.NaN())
		} else {
			c.Best, c.Mean = append(c.Best, best), append(c.Mean, sum/float64(n))
		}
	}
	return c
}

// Compare is the RL-versus-random table: best and mean validation accuracy
// of each search after every `every` sampled networks.
func Compare(ss []Search, every int) Table {
	t := Table{Name: "rl_vs_random", Title: "Best / mean validation accuracy (%) after N sampled networks", Header: []string{"N"}}
	curves := make([]Curve, len(ss))
	maxN := 0
	for i, s := range ss {
		t.Header = append(t.Header, s.Name+" best", s.Name+" mean")
		curves[i] = CurveOf(s)
		maxN = max(maxN, len(curves[i].N))
	}
	if every < 1 {
		every = 1
	}
	for n := every; n <= maxN+every-1; n += every {
		n := min(n, maxN)
		row := []string{fmt.Sprint(n)}
		for _, c := range curves {
			if n <= len(c.N) {
				row = append(row, pct(c.Best[n-1]), pct(c.Mean[n-1]))
			} else {
				row = append(row, "-", "-")
			}
		}
		t.Rows = append(t.Rows, row)
		if n == maxN {
			break
		}
	}
	return t
}

// PaperTable is a Table 2/3/4-like listing: the reference rows from the
// experiment file beside our best networks. Our error is the test error of
// the final training when it exists, else the validation error (marked).
func PaperTable(name string, ss []Search, refs []experiment.Reference) Table {
	t := Table{Name: name, Title: "Model comparison (test error %)", Header: []string{"model", "depth", "params", "error %"}}
	for _, r := range refs {
		row := []string{r.Model, "-", "-", fmt.Sprintf("%.2f", r.Error)}
		if r.Depth > 0 {
			row[1] = fmt.Sprint(r.Depth)
		}
		if r.Params > 0 {
			row[2] = fmt.Sprintf("%.1fM", r.Params)
		}
		if r.Note != "" {
			row[0] += " (" + r.Note + ")"
		}
		t.Rows = append(t.Rows, row)
	}
	for _, s := range ss {
		var best *store.Record
		for _, r := range s.Records {
			if r.Kind == "final" && r.Status == store.StatusOK && (best == nil || r.TestAcc > best.TestAcc) {
				rr := r
				best = &rr
			}
		}
		note := "test"
		if best == nil {
			note = "validation"
			for _, r := range s.Samples() {
				if r.Status == store.StatusOK && (best == nil || r.ValAcc > best.ValAcc) {
					rr := r
					best = &rr
				}
			}
		}
		if best == nil {
			continue
		}
		acc := best.ValAcc
		if note == "test" {
			acc = best.TestAcc
		}
		t.Rows = append(t.Rows, []string{fmt.Sprintf("ours: %s (%s)", s.Name, note), fmt.Sprint(best.Depth), millions(best.Params), fmt.Sprintf("%.2f", 100*(1-acc))})
	}
	return t
}
