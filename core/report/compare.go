package report

import "fmt"

// Level is the confidence level of the reports' bootstrap intervals.
const Level = 0.95

// Finding is one comparison at equal budget: a difference of accuracies (in
// [0,1] units) with its bootstrap interval, and what may be said of it.
type Finding struct {
	What    string // e.g. "rl best − control"
	Budget  int    // networks sampled by every run compared
	Runs    string // runs per side, e.g. "3" or "3 vs 3"
	Iv      Interval
	Verdict string
}

// Findings compares, at equal budget, each search's best and mean accuracy
// with its control (the start network trained like a child), and each pair
// of searches' best accuracy. Intervals need at least two runs a side
// (repeat = N); with one the verdict says so instead of guessing.
func Findings(ss []Search) []Finding {
	groups := Groups(ss)
	var out []Finding
	for _, g := range groups {
		n := g.budget()
		ctl := g.controls()
		if n == 0 || len(finite(ctl)) == 0 {
			continue
		}
		best, mean := g.at(n)
		gb, gm := make([]float64, len(best)), make([]float64, len(mean))
		for i := range best {
			gb[i], gm[i] = best[i]-ctl[i], mean[i]-ctl[i]
		}
		for _, c := range []struct {
			what string
			xs   []float64
		}{{g.Name + " best − control", gb}, {g.Name + " mean − control", gm}} {
			iv := BootstrapDiff(c.xs, nil, BootstrapReps, Level, BootstrapSeed)
			out = append(out, Finding{What: c.what, Budget: n, Runs: fmt.Sprint(iv.NA), Iv: iv,
				Verdict: verdict(iv, g.Name+" beats its control", "the control beats "+g.Name)})
		}
	}
	for i := range groups {
		for j := i + 1; j < len(groups); j++ {
			a, b := groups[i], groups[j]
			if a.Name == "random" { // random search is the baseline others are measured against
				a, b = b, a
			}
			n := min(a.budget(), b.budget())
			if n == 0 {
				continue
			}
			ba, _ := a.at(n)
			bb, _ := b.at(n)
			iv := BootstrapDiff(ba, bb, BootstrapReps, Level, BootstrapSeed)
			out = append(out, Finding{What: a.Name + " best − " + b.Name + " best", Budget: n, Runs: fmt.Sprintf("%d vs %d", iv.NA, iv.NB), Iv: iv,
				Verdict: verdict(iv, a.Name+" beats "+b.Name, b.Name+" beats "+a.Name)})
		}
	}
	return out
}

func verdict(iv Interval, above, below string) string {
	switch {
	case !iv.Defined():
		return "one run: no interval (set repeat = 3 or more)"
	case iv.ExcludesZero() && iv.Diff > 0:
		return above
	case iv.ExcludesZero():
		return below
	}
	return "no difference shown: an interval includes zero"
}

// Comparison is the table of Findings.
func Comparison(ss []Search) Table {
	t := Table{Name: "comparison", Title: fmt.Sprintf("Differences at equal budget (points; %.0f%% intervals over seeds: percentile bootstrap, Welch t)", 100*Level),
		Header: []string{"comparison", "budget", "runs", "difference", "bootstrap interval", "t interval", "verdict"}}
	for _, f := range Findings(ss) {
		ci, ti := "-", "-"
		if f.Iv.Defined() {
			ci = fmt.Sprintf("[%+.2f, %+.2f]", 100*f.Iv.Lo, 100*f.Iv.Hi)
			ti = fmt.Sprintf("[%+.2f, %+.2f]", 100*f.Iv.TLo, 100*f.Iv.THi)
		}
		t.Rows = append(t.Rows, []string{f.What, fmt.Sprint(f.Budget), f.Runs, Points(f.Iv.Diff), ci, ti, f.Verdict})
	}
	return t
}

// Claims states in plain words what the run supports: whether each search
// beat its control and whether one search beat another (the paper's Figure
// 5 claim is that RL beats random search), naming the interval either way.
func Claims(ss []Search) []string {
	var out []string
	for _, f := range Findings(ss) {
		d := 100 * f.Iv.Diff
		iv := fmt.Sprintf("%.0f%% bootstrap interval [%+.2f, %+.2f], t interval [%+.2f, %+.2f] points over %s runs",
			100*Level, 100*f.Iv.Lo, 100*f.Iv.Hi, 100*f.Iv.TLo, 100*f.Iv.THi, f.Runs)
		switch {
		case !f.Iv.Defined():
			out = append(out, fmt.Sprintf("%s after %d networks: %+.2f points from a single run each; no interval, so no claim either way (run with repeat = 3 or more).", f.What, f.Budget, d))
		case f.Iv.ExcludesZero():
			out = append(out, fmt.Sprintf("%s after %d networks: %+.2f points, %s: %s.", f.What, f.Budget, d, iv, f.Verdict))
		default:
			out = append(out, fmt.Sprintf("%s after %d networks: %+.2f points, %s; an interval includes zero: this run does not show a difference.", f.What, f.Budget, d, iv))
		}
	}
	if fig5 := figure5(ss); fig5 != "" {
		out = append(out, fig5)
	}
	few := false
	for _, g := range Groups(ss) {
		few = few || (len(g.Runs) >= 2 && len(g.Runs) < 5)
	}
	if few && len(out) > 0 {
		out = append(out, "With fewer than 5 seeds a side the bootstrap interval is rough (it cannot reach beyond the runs' own values), so a difference counts as shown only when the t interval excludes zero too; more seeds (repeat) tighten both.")
	}
	return out
}

// figure5 words the paper's claim when there is a search named "random" and
// one other.
func figure5(ss []Search) string {
	groups := Groups(ss)
	if len(groups) != 2 || (groups[0].Name != "random" && groups[1].Name != "random") {
		return ""
	}
	rl, rnd := groups[0], groups[1]
	if rl.Name == "random" {
		rl, rnd = rnd, rl
	}
	n := min(rl.budget(), rnd.budget())
	ba, _ := rl.at(n)
	bb, _ := rnd.at(n)
	iv := BootstrapDiff(ba, bb, BootstrapReps, Level, BootstrapSeed)
	switch {
	case !iv.Defined():
		return fmt.Sprintf("Figure 5's claim (%s beats random search at equal budget) is not tested by this run: one run per search gives no interval.", rl.Name)
	case iv.ExcludesZero() && iv.Diff > 0:
		return fmt.Sprintf("Figure 5's claim holds in this run: %s beats random search by %+.2f points after %d networks (%.0f%% bootstrap interval [%+.2f, %+.2f], t interval [%+.2f, %+.2f]).",
			rl.Name, 100*iv.Diff, n, 100*Level, 100*iv.Lo, 100*iv.Hi, 100*iv.TLo, 100*iv.THi)
	}
	why := "an interval includes zero"
	if iv.ExcludesZero() {
		why = "random search is ahead"
	}
	return fmt.Sprintf("Figure 5's claim is NOT shown by this run: %s minus random search is %+.2f points after %d networks, %.0f%% bootstrap interval [%+.2f, %+.2f], t interval [%+.2f, %+.2f]: %s.",
		rl.Name, 100*iv.Diff, n, 100*Level, 100*iv.Lo, 100*iv.Hi, 100*iv.TLo, 100*iv.THi, why)
}
