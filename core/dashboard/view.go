package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"time"

	"github.com/eas-go/eas/core/report"
	"github.com/eas-go/eas/core/store"
)

// view is what a run's pages show, derived once per version of its files.
type view struct {
	Version  uint64
	Summary  summary
	Tables   []report.Table
	Claims   []string
	Progress []figure
	Compare  template.HTML // Figure 5; "" with a single run of a single search
	rows     []netRow      // every record, for the networks table
	Notes    []string
	Networks int // sampled networks
}

type figure struct {
	Name string
	SVG  template.HTML
}

// netRow is one record of the networks table.
type netRow struct {
	search string
	n      int // index in its search's records (the network page's number)
	rec    *store.Record
	gain   float64
}

// viewOf returns the run's view at the snapshot's version, building it
// when the files changed since the last one.
func (r *run) viewOf(s snap) *view {
	r.viewMu.Lock()
	defer r.viewMu.Unlock()
	if r.view != nil && r.view.Version == s.version {
		return r.view
	}
	t0 := time.Now()
	v := buildView(s)
	r.view, r.built, r.buildTime = v, time.Now(), time.Since(t0)
	return v
}

// prebuild rebuilds the view of a run someone is looking at (it has one)
// before its change is announced, so the browsers' fetches find it ready.
// A run whose view takes long to build (100,000 networks) is rebuilt at
// most every other such interval; pages then build it on demand.
func (r *run) prebuild() {
	r.viewMu.Lock()
	looked, wait := r.view != nil, time.Since(r.built) < 2*r.buildTime
	r.viewMu.Unlock()
	if looked && !wait {
		r.viewOf(r.snapshot())
	}
}

func buildView(s snap) *view {
	v := &view{Version: s.version, Summary: s.summarize()}
	ss := s.reportSearches()
	for _, x := range s.searches {
		if x.partial {
			v.Notes = append(v.Notes, fmt.Sprintf("%s: the last line of networks.jsonl is incomplete (a record being written, or torn by a crash); it is not shown", x.name))
		}
		for _, b := range x.bad {
			v.Notes = append(v.Notes, fmt.Sprintf("%s: networks.jsonl %s", x.name, b))
		}
		if x.err != nil {
			v.Notes = append(v.Notes, fmt.Sprintf("%s: %v", x.name, x.err))
		}
		ctl := controls(x.recs)
		for i := range x.recs {
			rec := &x.recs[i]
			g := nan
			if c, ok := ctl[max(rec.Stage, 1)]; ok && rec.Status != store.StatusFailed {
				g = rec.ValAcc - c
			}
			v.rows = append(v.rows, netRow{search: x.name, n: i, rec: rec, gain: g})
			if rec.Kind == store.KindSample {
				v.Networks++
			}
		}
	}
	if len(ss) == 0 {
		return v
	}
	v.Tables = append(v.Tables, report.Summary(ss))
	if c := report.Comparison(ss); len(c.Rows) > 0 {
		v.Tables = append(v.Tables, c)
	}
	groups := report.Groups(ss)
	if len(groups) > 1 || len(ss) > 1 {
		v.Tables = append(v.Tables, report.Compare(ss, every(s, ss)))
	}
	v.Claims = report.Claims(ss)
	for _, x := range ss {
		v.Progress = append(v.Progress, figure{Name: x.Name, SVG: template.HTML(progressChart(s.id, x).svg())})
	}
	if len(groups) > 1 || len(ss) > 1 {
		v.Compare = template.HTML(compareChart(groups).svg())
	}
	return v
}

// controls maps a stage to its control's accuracy.
func controls(recs []store.Record) map[int]float64 {
	m := map[int]float64{}
	for _, r := range recs {
		if r.Kind == store.KindControl && r.Status == store.StatusOK {
			if _, ok := m[max(r.Stage, 1)]; !ok {
				m[max(r.Stage, 1)] = r.ValAcc
			}
		}
	}
	return m
}

// every is the comparison table's step: networks per episode, widened so
// the table keeps about 25 rows however long the run.
func every(s snap, ss []report.Search) int {
	n := 10
	if s.exp != nil && len(s.exp.Searches) > 0 && s.exp.Searches[0].PerEpisode > 0 {
		n = s.exp.Searches[0].PerEpisode
	}
	most := 0
	for _, x := range ss {
		most = max(most, len(x.Samples()))
	}
	if most/n > 25 {
		n = (most + 24) / 25
	}
	return n
}

// progressChart is Figure 4 of one run of a search: each sampled network
// (a link to its page), the best so far, the start point and the control.
func progressChart(runID string, s report.Search) chart {
	c := chart{title: fmt.Sprintf("Search %q: sampled networks", s.Name), xlabel: "number of sampled networks", ylabel: "validation accuracy (%)"}
	pts := series{name: "sampled network", color: palette[0], mark: markPoints}
	best := series{name: "best so far", color: palette[1], mark: markLine}
	cur := math.Inf(-1)
	// Network pages are numbered by file position; the report's sorted
	// records keep the sampled ones in file order, so count them here.
	for i, r := range s.Samples() {
		x := float64(i + 1)
		if r.Status == store.StatusFailed {
			continue
		}
		acc := 100 * r.ValAcc
		cur = math.Max(cur, acc)
		pts.xs, pts.ys = append(pts.xs, x), append(pts.ys, acc)
		pts.titles = append(pts.titles, fmt.Sprintf("#%d %.2f%% %s", r.ID, acc, r.Arch))
		pts.links = append(pts.links, fmt.Sprintf("network?search=%s&id=%d", urlQuery(s.Name), r.ID))
		best.xs, best.ys = append(best.xs, x), append(best.ys, cur)
	}
	c.series = append(c.series, pts, best)
	if a := s.StartAcc(); !math.IsNaN(a) {
		c.series = append(c.series, series{name: "start point", color: "#888", mark: markLevel, xs: []float64{0}, ys: []float64{100 * a}})
	}
	for _, ctl := range s.Controls() {
		if a := s.ControlAcc(ctl.Stage); !math.IsNaN(a) {
			name := "control (start retrained)"
			if ctl.Stage > 1 {
				name = fmt.Sprintf("control, stage %d", ctl.Stage)
			}
			c.series = append(c.series, series{name: name, color: palette[2], mark: markLevel, xs: []float64{0}, ys: []float64{100 * a}})
		}
	}
	return c
}

// compareChart is Figure 5: each search's best so far (solid) and mean
// (dashed), averaged over its seeds with a ± sd band when repeated, and
// its control as a dotted level.
func compareChart(groups []report.Group) chart {
	c := chart{title: "RL versus random search", xlabel: "number of sampled networks", ylabel: "validation accuracy (%)"}
	for gi, g := range groups {
		col := palette[gi%len(palette)]
		curves := make([]report.Curve, len(g.Runs))
		maxN := 0
		for i, s := range g.Runs {
			curves[i] = report.CurveOf(s)
			maxN = max(maxN, len(curves[i].N))
		}
		best := series{name: g.Name + " best", color: col, mark: markLine}
		mean := series{name: g.Name + " mean", color: col, mark: markDashed}
		band := series{name: g.Name + " best ± sd", color: col, mark: markBand}
		for n := 1; n <= maxN; n++ {
			var bs, ms []float64
			for _, cv := range curves {
				if n <= len(cv.N) {
					bs, ms = append(bs, cv.Best[n-1]), append(ms, cv.Mean[n-1])
				}
			}
			mb, sb, k := report.MeanSD(bs)
			mm, _, _ := report.MeanSD(ms)
			if k == 0 || math.IsNaN(mb) {
				continue
			}
			x := float64(n)
			best.xs, best.ys = append(best.xs, x), append(best.ys, 100*mb)
			mean.xs, mean.ys = append(mean.xs, x), append(mean.ys, 100*mm)
			if math.IsNaN(sb) {
				sb = 0
			}
			band.xs, band.ys, band.lo = append(band.xs, x), append(band.ys, 100*(mb+sb)), append(band.lo, 100*(mb-sb))
		}
		if len(g.Runs) > 1 {
			best.name = fmt.Sprintf("%s best (mean of %d seeds)", g.Name, len(g.Runs))
			c.series = append(c.series, band)
		}
		c.series = append(c.series, best, mean)
		var ctl []float64
		for _, s := range g.Runs {
			ctl = append(ctl, s.ControlAcc(1))
		}
		if m, _, k := report.MeanSD(ctl); k > 0 && !math.IsNaN(m) {
			c.series = append(c.series, series{name: g.Name + " control", color: col, mark: markLevel, xs: []float64{0}, ys: []float64{100 * m}})
		}
	}
	return c
}
