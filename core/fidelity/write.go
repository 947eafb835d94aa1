package fidelity

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// JSON is the result as indented JSON (NaN written as null).
func (r *Result) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Parse reads a result written by JSON.
func Parse(b []byte) (*Result, error) {
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("fidelity result: %w", err)
	}
	return &r, nil
}

func num(f Float, format string) string {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return "-"
	}
	return fmt.Sprintf(format, float64(f))
}

func corrCells(c Corr) string {
	return fmt.Sprintf("%s | [%s, %s]", num(c.Value, "%.2f"), num(c.Lo, "%.2f"), num(c.Hi, "%.2f"))
}

// Markdown is the check's report: the verdict first, then the tables.
func (r *Result) Markdown() string {
	var b strings.Builder
	st, c := r.Stats, r.Config
	fmt.Fprintf(&b, "## Reward fidelity of search %q\n\n", r.Search)
	fmt.Fprintf(&b, "**Verdict:** %s\n\n", r.Verdict.Text)
	fmt.Fprintf(&b, "%d children sampled as the search's first episode would, and the control, each trained at the child schedule (%s) with %d data-order seeds and at the reference schedule (%s) with %d; %d validation images.\n\n",
		c.Children, epochs(r.ChildEpochs), c.Seeds, epochs(c.ReferenceEpochs), c.ReferenceSeeds, r.ValImages)
	b.WriteString("| reward at the child schedule vs the reference | Spearman ρ | 95% interval | Kendall τ | 95% interval |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| one training per child (as the search scores; mean over %d seeds) | %s | %s |\n", c.Seeds, corrCells(st.Spearman), corrCells(st.Kendall))
	fmt.Fprintf(&b, "| mean of %d seeds per child (reward_seeds = %d) | %s | %s |\n\n", c.Seeds, c.Seeds, corrCells(st.SpearmanMean), corrCells(st.KendallMean))
	var ps []string
	for _, v := range st.PerSeedSpearman {
		ps = append(ps, num(v, "%.2f"))
	}
	fmt.Fprintf(&b, "Spearman ρ of each seed alone: %s. Intervals: percentile bootstrap over children (%d replicates, seed %d).\n\n", strings.Join(ps, ", "), Reps, BootSeed)
	b.WriteString("| noise and signal | points |\n|---|---|\n")
	fmt.Fprintf(&b, "| seed noise of a child's gain over the control (sd over seeds, pooled) | %s |\n", num(st.SeedNoise, "%.2f"))
	fmt.Fprintf(&b, "| spread of the children's mean gains (sd over children) | %s |\n", num(st.Spread, "%.2f"))
	fmt.Fprintf(&b, "| signal: that spread less the noise left in a mean of %d seeds | %s |\n", c.Seeds, num(st.Signal, "%.2f"))
	fmt.Fprintf(&b, "| signal-to-noise of one training | %s |\n", num(st.SNR, "%.2f"))
	fmt.Fprintf(&b, "| binomial standard error of the validation set (%s%% on %d images) | %s |\n\n", num(100*st.MeanAcc, "%.1f"), r.ValImages, num(st.BinomialSE, "%.2f"))
	b.WriteString("| budget | mean gain over the control (points) | children above the control | seconds per training |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s (child schedule, mean of %d seeds) | %s | %d of %d | %s |\n", epochs(r.ChildEpochs), c.Seeds, num(st.ChildGain, "%+.2f"), st.BeatChild, st.N, num(st.ChildSeconds, "%.1f"))
	fmt.Fprintf(&b, "| %s (reference) | %s | %d of %d | %s |\n\n", epochs(c.ReferenceEpochs), num(st.RefGain, "%+.2f"), st.BeatRef, st.N, num(st.RefSeconds, "%.1f"))
	if len(r.Verdict.Options) > 0 {
		b.WriteString("| option | effect | child-seconds per child |\n|---|---|---|\n")
		for _, o := range r.Verdict.Options {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o.Setting, o.Effect, num(o.ChildSeconds, "%.1f"))
		}
		b.WriteString("\n")
	}
	b.WriteString("| network | architecture | child-schedule accuracy per seed (%) | reference (%) |\n|---|---|---|---|\n")
	for _, n := range append([]Net{r.Control}, r.Children...) {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", n.Name, n.Arch, accs(n.Child), accs(n.Ref))
	}
	for _, n := range append([]Net{r.Control}, r.Children...) {
		for _, e := range n.Errors {
			fmt.Fprintf(&b, "\n- %s: %s", n.Name, e)
		}
	}
	b.WriteString("\n")
	return b.String()
}

func accs(xs []Float) string {
	var s []string
	for _, x := range xs {
		s = append(s, num(100*x, "%.2f"))
	}
	return strings.Join(s, ", ")
}
