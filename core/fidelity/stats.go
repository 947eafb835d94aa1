package fidelity

import (
	"encoding/json"
	"math"

	"github.com/eas-go/eas/core/report"
)

// Float is a float64 that is written to JSON as null when it is NaN or
// infinite (a failed training, a statistic without enough data).
type Float float64

// MarshalJSON writes null for NaN and infinities.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	var v float64
	err := json.Unmarshal(b, &v)
	*f = Float(v)
	return err
}

// Corr is a rank correlation with its bootstrap interval over children.
type Corr struct {
	Value Float `json:"value"`
	Lo    Float `json:"lo"`
	Hi    Float `json:"hi"`
}

// Bootstrap settings: fixed, so a result is analysed the same every time.
const (
	Level     = 0.95
	Reps      = 2000
	BootSeed  = 1
	minRankOK = 0.5 // a Spearman correlation at least this, with an interval above 0, "ranks"
)

// Stats are the numbers a check reports. Accuracies, gains, noise and
// errors are in percentage points.
type Stats struct {
	N int `json:"children_used"` // children with every training finished
	// Spearman and Kendall compare one seed's child-schedule score with the
	// reference score (averaged over the seeds: what the search's reward,
	// one training per child, achieves); *Mean compare the mean over the
	// seeds (what reward_seeds = R achieves).
	Spearman        Corr    `json:"spearman"`
	Kendall         Corr    `json:"kendall"`
	SpearmanMean    Corr    `json:"spearman_mean_of_seeds"`
	KendallMean     Corr    `json:"kendall_mean_of_seeds"`
	PerSeedSpearman []Float `json:"per_seed_spearman"`
	// SeedNoise is the pooled standard deviation over seeds of a child's
	// gain over the control; Spread the standard deviation over children of
	// their mean gain; Signal the spread with the noise left in a mean of R
	// seeds taken out; SNR = Signal / SeedNoise (of one training).
	SeedNoise Float `json:"seed_noise"`
	Spread    Float `json:"spread"`
	Signal    Float `json:"signal"`
	SNR       Float `json:"snr"`
	// MeanAcc (a fraction) is the mean child score; BinomialSE the
	// validation set's standard error at that accuracy.
	MeanAcc    Float `json:"mean_acc"`
	BinomialSE Float `json:"binomial_se"`
	// Mean gain over the control and children above it, at each budget.
	ChildGain Float `json:"child_gain"`
	RefGain   Float `json:"reference_gain"`
	BeatChild int   `json:"beat_control_child"`
	BeatRef   int   `json:"beat_control_reference"`
	// Mean seconds of one training at each schedule, measured in this run.
	ChildSeconds Float `json:"child_seconds"`
	RefSeconds   Float `json:"reference_seconds"`
}

func nans(n int) []Float {
	out := make([]Float, n)
	for i := range out {
		out[i] = Float(math.NaN())
	}
	return out
}

func f64(xs []Float) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func mean(xs []float64) float64 { m, _, _ := report.MeanSD(xs); return m }

func complete(xs []Float) bool {
	for _, x := range xs {
		if math.IsNaN(float64(x)) {
			return false
		}
	}
	return len(xs) > 0
}

// Analyze computes res.Stats and res.Verdict from the scores alone.
func Analyze(res *Result) {
	st := Stats{}
	nan := Float(math.NaN())
	st.Spearman, st.Kendall, st.SpearmanMean, st.KendallMean = Corr{nan, nan, nan}, Corr{nan, nan, nan}, Corr{nan, nan, nan}, Corr{nan, nan, nan}
	st.SeedNoise, st.Spread, st.Signal, st.SNR, st.MeanAcc, st.BinomialSE, st.ChildGain, st.RefGain = nan, nan, nan, nan, nan, nan, nan, nan
	st.ChildSeconds, st.RefSeconds = Float(meanSeconds(res, false)), Float(meanSeconds(res, true))
	var child [][]float64 // [child][seed] gain in points
	var ref []float64     // reference gain in points
	var accs []float64
	if complete(res.Control.Child) && complete(res.Control.Ref) {
		cc, cr := f64(res.Control.Child), mean(f64(res.Control.Ref))
		for _, n := range res.Children {
			if !complete(n.Child) || !complete(n.Ref) {
				continue
			}
			g := make([]float64, len(n.Child))
			for k, a := range f64(n.Child) {
				g[k] = 100 * (a - cc[k])
				accs = append(accs, a)
			}
			child = append(child, g)
			ref = append(ref, 100*(mean(f64(n.Ref))-cr))
		}
	}
	st.N = len(child)
	if st.N >= 3 {
		correlations(&st, child, ref)
		noise(&st, child, res.Config.Seeds)
		st.MeanAcc = Float(mean(accs))
		if res.ValImages > 0 {
			p := mean(accs)
			st.BinomialSE = Float(100 * math.Sqrt(p*(1-p)/float64(res.ValImages)))
		}
		var cg []float64
		for i, g := range child {
			cg = append(cg, mean(g))
			if mean(g) > 0 {
				st.BeatChild++
			}
			if ref[i] > 0 {
				st.BeatRef++
			}
		}
		st.ChildGain, st.RefGain = Float(mean(cg)), Float(mean(ref))
	}
	res.Stats = st
	res.Verdict = decide(res)
}

// correlations: the per-seed correlations and their mean, with bootstrap
// intervals over children (each replicate resamples children and averages
// the correlation over the seeds).
func correlations(st *Stats, child [][]float64, ref []float64) {
	seeds := len(child[0])
	col := func(k int) []float64 {
		out := make([]float64, len(child))
		for i := range child {
			out[i] = child[i][k]
		}
		return out
	}
	means := make([]float64, len(child))
	for i := range child {
		means[i] = mean(child[i])
	}
	perSeed := func(f func(x, y []float64) float64) func(idx []int) float64 {
		return func(idx []int) float64 {
			var vs []float64
			for k := 0; k < seeds; k++ {
				if v := f(report.Pick(col(k), idx), report.Pick(ref, idx)); !math.IsNaN(v) {
					vs = append(vs, v)
				}
			}
			if len(vs) == 0 {
				return math.NaN()
			}
			return mean(vs)
		}
	}
	ofMean := func(f func(x, y []float64) float64) func(idx []int) float64 {
		return func(idx []int) float64 { return f(report.Pick(means, idx), report.Pick(ref, idx)) }
	}
	boot := func(stat func([]int) float64) Corr {
		ci := report.BootstrapItems(len(child), stat, Reps, Level, BootSeed)
		return Corr{Float(ci.Value), Float(ci.Lo), Float(ci.Hi)}
	}
	st.Spearman, st.Kendall = boot(perSeed(report.Spearman)), boot(perSeed(report.Kendall))
	st.SpearmanMean, st.KendallMean = boot(ofMean(report.Spearman)), boot(ofMean(report.Kendall))
	for k := 0; k < seeds; k++ {
		st.PerSeedSpearman = append(st.PerSeedSpearman, Float(report.Spearman(col(k), ref)))
	}
}

// noise: the pooled within-child variance of a gain over the seeds is the
// seed noise of one training; the variance of the children's mean gains
// holds the true spread plus noise/R, which is taken out for the signal.
func noise(st *Stats, child [][]float64, seeds int) {
	if seeds < 2 { // one seed: no noise to measure (a trimmed partial result)
		return
	}
	var within float64
	means := make([]float64, len(child))
	for i, g := range child {
		_, sd, _ := report.MeanSD(g)
		within += sd * sd
		means[i] = mean(g)
	}
	sn := math.Sqrt(within / float64(len(child)))
	_, spread, _ := report.MeanSD(means)
	sig := math.Sqrt(max(0, spread*spread-sn*sn/float64(seeds)))
	st.SeedNoise, st.Spread, st.Signal = Float(sn), Float(spread), Float(sig)
	switch {
	case sn > 0:
		st.SNR = Float(sig / sn)
	case sig > 0:
		st.SNR = Float(math.Inf(1))
	}
}

func meanSeconds(res *Result, ref bool) float64 {
	var s []float64
	for _, n := range append([]Net{res.Control}, res.Children...) {
		xs := n.ChildSeconds
		if ref {
			xs = n.RefSeconds
		}
		for _, x := range xs {
			if x > 0 {
				s = append(s, x)
			}
		}
	}
	return mean(s)
}

// Trimmed returns the result cut to the seeds every network finished (a
// check cut short, read from its partial file): Seeds becomes that
// number, networks with failed trainings aside. It is analysed afresh.
func (r *Result) Trimmed() *Result {
	k, ref := r.Config.Seeds, r.Config.ReferenceSeeds
	for _, n := range append([]Net{r.Control}, r.Children...) {
		if len(n.Errors) > 0 {
			continue
		}
		k, ref = min(k, leading(n.Child)), min(ref, leading(n.Ref))
	}
	out := *r
	out.Config.Seeds, out.Config.ReferenceSeeds = k, ref
	cut := func(n Net) Net {
		n.Child, n.ChildSeconds = n.Child[:min(k, len(n.Child))], n.ChildSeconds[:min(k, len(n.ChildSeconds))]
		n.Ref, n.RefSeconds = n.Ref[:min(ref, len(n.Ref))], n.RefSeconds[:min(ref, len(n.RefSeconds))]
		return n
	}
	out.Control = cut(r.Control)
	out.Children = nil
	for _, n := range r.Children {
		out.Children = append(out.Children, cut(n))
	}
	Analyze(&out)
	return &out
}

// leading counts the scores before the first missing one.
func leading(xs []Float) int {
	for i, x := range xs {
		if math.IsNaN(float64(x)) {
			return i
		}
	}
	return len(xs)
}
