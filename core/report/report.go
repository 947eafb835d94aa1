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

// Search is one run of a search: its records.
type Search struct {
	Name    string // "rl", or "rl/r2" for the second seed of a repeated search
	Group   string // the search's name: runs of one repeated search share it
	Dir     string
	Records []store.Record // sorted by ID
}

// Controls returns the control records (one per stage that has one).
func (s Search) Controls() []store.Record {
	var out []store.Record
	for _, r := range s.Records {
		if r.Kind == store.KindControl {
			out = append(out, r)
		}
	}
	return out
}

// ControlAcc is the validation accuracy of the stage's control (the start
// network trained like a child); NaN when there is none or it failed.
func (s Search) ControlAcc(stage int) float64 {
	for _, r := range s.Records {
		if r.Kind == store.KindControl && max(r.Stage, 1) == max(stage, 1) && r.Status == store.StatusOK {
			return r.ValAcc
		}
	}
	return math.NaN()
}

// controlAccs is ControlAcc with the controls looked up once, for loops
// over many records.
func (s Search) controlAccs() func(stage int) float64 {
	m := map[int]float64{}
	for _, c := range s.Controls() {
		if _, ok := m[max(c.Stage, 1)]; !ok {
			m[max(c.Stage, 1)] = s.ControlAcc(c.Stage)
		}
	}
	return func(stage int) float64 {
		if a, ok := m[max(stage, 1)]; ok {
			return a
		}
		return math.NaN()
	}
}

// Gain is a sampled network's accuracy over its stage's control (NaN
// without a control).
func (s Search) Gain(r store.Record) float64 { return r.ValAcc - s.ControlAcc(r.Stage) }

// Samples returns the sampled networks in sampling order.
func (s Search) Samples() []store.Record {
	out := make([]store.Record, 0, len(s.Records)) // sized once: runs can hold 100,000 records
	for _, r := range s.Records {
		if r.Kind == store.KindSample {
			out = append(out, r)
		}
	}
	return out
}

// StartAcc is the start network's validation accuracy (NaN if unknown).
func (s Search) StartAcc() float64 {
	for _, r := range s.Records {
		if r.Kind == store.KindStart {
			return r.ValAcc
		}
	}
	return math.NaN()
}

// Load reads a run directory: either one search (it has networks.jsonl), a
// repeated search (folders r1, r2, ... each with networks.jsonl) or an
// experiment folder holding one folder per search.
func Load(dir string) ([]Search, error) {
	// An experiment folder (it has the experiment file or the start
	// network) holds searches, even a search named like a run folder.
	_, e1 := os.Stat(filepath.Join(dir, "experiment.eas"))
	_, e2 := os.Stat(filepath.Join(dir, "start.safetensors"))
	if e1 != nil && e2 != nil {
		if runs, err := loadRuns(dir, filepath.Base(dir)); err != nil || len(runs) > 0 {
			return runs, err
		}
	}
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
			runs, err := loadRuns(sub, e.Name())
			if err != nil {
				return nil, err
			}
			out = append(out, runs...)
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

// loadRuns reads the runs r1, r2, ... of a repeated search in dir, in
// numeric order; none when dir holds no such folders.
func loadRuns(dir, group string) ([]Search, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type run struct {
		k    int
		name string
	}
	var runs []run
	for _, e := range entries {
		var k int
		if _, err := fmt.Sscanf(e.Name(), "r%d", &k); err != nil || !e.IsDir() || e.Name() != fmt.Sprintf("r%d", k) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "networks.jsonl")); err == nil {
			runs = append(runs, run{k, e.Name()})
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].k < runs[j].k })
	var out []Search
	for _, r := range runs {
		s, err := loadOne(filepath.Join(dir, r.name))
		if err != nil {
			return nil, err
		}
		s.Name, s.Group = group+"/"+r.name, group
		out = append(out, s)
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
		if (recs[i].Kind == store.KindSample) != (recs[j].Kind == store.KindSample) {
			return recs[i].Kind != store.KindSample && recs[i].Kind != store.KindFinal
		}
		return recs[i].ID < recs[j].ID
	})
	return Search{Name: filepath.Base(dir), Group: filepath.Base(dir), Dir: dir, Records: recs}, nil
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

// Pct prints an accuracy in percent with two decimals, "-" for NaN.
func Pct(a float64) string {
	if math.IsNaN(a) {
		return "-"
	}
	return fmt.Sprintf("%.2f", 100*a)
}

// Points prints an accuracy difference in percentage points with its sign.
func Points(d float64) string {
	if math.IsNaN(d) {
		return "-"
	}
	return fmt.Sprintf("%+.2f", 100*d)
}

func millions(p int64) string { return fmt.Sprintf("%.2fM", float64(p)/1e6) }

// Summary is one row per search.
func Summary(ss []Search) Table {
	t := Table{Name: "summary", Title: "Searches (control: the start network trained like a child; gain: accuracy over it, points)", Header: []string{"search", "sampled", "ok", "cached", "failed",
		"start acc %", "control acc %", "best acc %", "best gain", "mean acc %", "mean gain", "best depth", "best params", "best network"}}
	for _, s := range ss {
		var ok, cached, failed int
		var sum, gains float64
		var best *store.Record
		ctl := s.controlAccs() // once per search: Gain per record would rescan every record
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
			gains += r.ValAcc - ctl(r.Stage)
			if best == nil || r.ValAcc > best.ValAcc {
				rr := r
				best = &rr
			}
		}
		row := []string{s.Name, fmt.Sprint(len(s.Samples())), fmt.Sprint(ok), fmt.Sprint(cached), fmt.Sprint(failed), Pct(s.StartAcc()), Pct(s.ControlAcc(1))}
		if best != nil {
			n := float64(ok + cached)
			row = append(row, Pct(best.ValAcc), Points(s.Gain(*best)), Pct(sum/n), Points(gains/n), fmt.Sprint(best.Depth), millions(best.Params), best.Arch)
		} else {
			row = append(row, "-", "-", "-", "-", "-", "-", "-")
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// TopNetworks lists the best k distinct sampled networks of each search.
func TopNetworks(ss []Search, k int) Table {
	t := Table{Name: "networks", Title: fmt.Sprintf("Top %d sampled networks, and each search's control", k), Header: []string{"search", "id", "episode", "val acc %", "gain", "depth", "params", "actions", "architecture"}}
	for _, s := range ss {
		for _, c := range s.Controls() {
			acc := Pct(c.ValAcc)
			if c.Status != store.StatusOK {
				acc = "failed"
			}
			t.Rows = append(t.Rows, []string{s.Name, fmt.Sprintf("control (stage %d)", max(c.Stage, 1)), "-", acc, "0", fmt.Sprint(c.Depth),
				millions(c.Params), fmt.Sprintf("start network, %d more epochs", c.Epochs), c.Arch})
		}
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
			t.Rows = append(t.Rows, []string{s.Name, fmt.Sprint(r.ID), fmt.Sprint(r.Episode), Pct(r.ValAcc), Points(s.Gain(r)), fmt.Sprint(r.Depth),
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

// Compare is the RL-versus-random table: best-so-far and mean validation
// accuracy of each search after every `every` sampled networks, and its
// control on the first row. A repeated search shows mean ± standard
// deviation over its runs (those that reached N).
func Compare(ss []Search, every int) Table {
	t := Table{Name: "rl_vs_random", Title: "Best-so-far / mean validation accuracy (%) after N sampled networks (repeated searches: mean ± sd over seeds)", Header: []string{"N"}}
	groups := Groups(ss)
	maxN := 0
	for _, g := range groups {
		t.Header = append(t.Header, g.Name+" best", g.Name+" mean")
		for _, c := range g.curves() {
			maxN = max(maxN, len(c.N))
		}
	}
	if every < 1 {
		every = 1
	}
	row := []string{"control"}
	any := false
	for _, g := range groups {
		cs := g.controls()
		any = any || len(finite(cs)) > 0
		row = append(row, meanSD(cs), "-")
	}
	if any {
		t.Rows = append(t.Rows, row)
	}
	for n := every; n <= maxN+every-1; n += every {
		n := min(n, maxN)
		row := []string{fmt.Sprint(n)}
		for _, g := range groups {
			best, mean := g.at(n)
			row = append(row, meanSD(best), meanSD(mean))
		}
		t.Rows = append(t.Rows, row)
		if n == maxN {
			break
		}
	}
	return t
}

// meanSD prints accuracies as a percentage: one value plainly, several as
// mean ± sd, none as "-".
func meanSD(xs []float64) string {
	m, sd, n := MeanSD(xs)
	switch n {
	case 0:
		return "-"
	case 1:
		return Pct(m)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*m, 100*sd)
}

// Group is the runs of one search (one run, or one per seed with repeat).
type Group struct {
	Name string
	Runs []Search
}

// Groups collects runs by search, in order of first appearance.
func Groups(ss []Search) []Group {
	var out []Group
	idx := map[string]int{}
	for _, s := range ss {
		name := s.Group
		if name == "" {
			name = s.Name
		}
		i, ok := idx[name]
		if !ok {
			i = len(out)
			idx[name] = i
			out = append(out, Group{Name: name})
		}
		out[i].Runs = append(out[i].Runs, s)
	}
	return out
}

func (g Group) curves() []Curve {
	out := make([]Curve, len(g.Runs))
	for i, s := range g.Runs {
		out[i] = CurveOf(s)
	}
	return out
}

// controls is each run's stage-1 control accuracy (NaN where missing).
func (g Group) controls() []float64 {
	out := make([]float64, len(g.Runs))
	for i, s := range g.Runs {
		out[i] = s.ControlAcc(1)
	}
	return out
}

// at is each run's best-so-far and mean accuracy after n sampled networks
// (runs that did not reach n are left out).
func (g Group) at(n int) (best, mean []float64) {
	for _, c := range g.curves() {
		if n >= 1 && n <= len(c.N) {
			best, mean = append(best, c.Best[n-1]), append(mean, c.Mean[n-1])
		}
	}
	return best, mean
}

// budget is the number of networks every run of the group has sampled.
func (g Group) budget() int {
	n := -1
	for _, s := range g.Runs {
		if k := len(s.Samples()); n < 0 || k < n {
			n = k
		}
	}
	return max(n, 0)
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
			if r.Kind == store.KindFinal && r.Status == store.StatusOK && (best == nil || r.TestAcc > best.TestAcc) {
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
