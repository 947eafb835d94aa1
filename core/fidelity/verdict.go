package fidelity

import (
	"fmt"
	"math"
	"strings"
)

// Verdict is the check's answer in plain words, with what a user can do.
type Verdict struct {
	// Ranks: the one-training reward's Spearman correlation with the
	// reference is at least 0.5 and its bootstrap interval lies above 0.
	Ranks   bool     `json:"ranks"`
	Text    string   `json:"text"`
	Options []Option `json:"options,omitempty"`
}

// Option is a setting that makes the reward more faithful, its expected
// effect, and its training time per child measured in the same run.
type Option struct {
	Setting      string `json:"setting"`
	Effect       string `json:"effect"`
	ChildSeconds Float  `json:"child_seconds"`
}

// Target signal-to-noise ratio of a reward the options aim for: the true
// spread between children twice the noise of one score.
const targetSNR = 2

func epochs(n int) string {
	if n == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%d epochs", n)
}

func decide(res *Result) Verdict {
	st := res.Stats
	e, re := res.ChildEpochs, res.Config.ReferenceEpochs
	if st.N < 3 {
		return Verdict{Text: fmt.Sprintf("only %d children (and the control) finished every training: too few for a verdict; see the errors of the networks", st.N)}
	}
	rho, lo, hi := float64(st.Spearman.Value), float64(st.Spearman.Lo), float64(st.Spearman.Hi)
	v := Verdict{Ranks: rho >= minRankOK && lo > 0}
	corr := fmt.Sprintf("Spearman ρ = %.2f, 95%% interval [%.2f, %.2f] over %d children", rho, lo, hi, st.N)
	noise := fmt.Sprintf("a child's gain over the control varies by %.2f points between data-order seeds against %.2f points of spread between children (signal-to-noise %.2f), and the validation set's binomial standard error is %.2f points",
		st.SeedNoise, st.Signal, st.SNR, st.BinomialSE)
	if res.Config.Seeds < 2 {
		noise = fmt.Sprintf("the validation set's binomial standard error is %.2f points", st.BinomialSE)
	}
	v.Options = options(res)
	if v.Ranks {
		v.Text = fmt.Sprintf("at %s the reward ranks children as %s would (%s): the controller can learn from it; %s.", epochs(e), epochs(re), corr, noise)
		return v
	}
	var alts []string
	for _, o := range v.Options {
		if !strings.HasPrefix(o.Effect, "not needed") {
			alts = append(alts, o.Setting)
		}
	}
	why := "the controller would learn from noise"
	switch {
	case res.Config.Seeds < 2:
		why = "with one data-order seed per network the cause (noise, or a different ranking) is not measured"
	case rho >= minRankOK:
		why = fmt.Sprintf("the correlation is high but %d children leave its interval reaching 0: check more children", st.N)
	case float64(st.SNR) >= targetSNR:
		why = "the children's scores are consistent across seeds but order them differently from longer training, so more seeds will not help"
	}
	v.Text = fmt.Sprintf("at %s the reward does not rank children as %s would (%s): %s; %s. Consider %s (costs below).",
		epochs(e), epochs(re), corr, why, noise, strings.Join(alts, ", or "))
	return v
}

// options: more seeds per child, the reference's epochs, a larger
// validation split, each with its cost per child in training seconds.
func options(res *Result) []Option {
	st := res.Stats
	csec, rsec := float64(st.ChildSeconds), float64(st.RefSeconds)
	var out []Option
	snr := float64(st.SNR)
	measured := fmt.Sprintf("measured here with the mean of %d seeds: Spearman ρ = %.2f [%.2f, %.2f]",
		res.Config.Seeds, st.SpearmanMean.Value, st.SpearmanMean.Lo, st.SpearmanMean.Hi)
	switch {
	case res.Config.Seeds < 2: // not measured
	case math.IsNaN(snr) || snr <= 0:
		out = append(out, Option{Setting: fmt.Sprintf("reward_seeds = %d", res.Config.Seeds),
			Effect:       "no spread between children was measured beyond the seed noise: more seeds average the noise but may find no signal; " + measured,
			ChildSeconds: Float(float64(res.Config.Seeds) * csec)})
	default:
		n := max(2, int(math.Ceil(math.Pow(targetSNR/snr, 2)-1e-9))) // 1e-9: 8.0000001 seeds are 8
		eff := fmt.Sprintf("a score's seed noise falls by √%d: signal-to-noise %.2f -> %.2f; %s", n, snr, snr*math.Sqrt(float64(n)), measured)
		if snr >= targetSNR {
			eff = "not needed for the seed noise (signal-to-noise already " + fmt.Sprintf("%.2f", snr) + "); " + measured
		}
		out = append(out, Option{Setting: fmt.Sprintf("reward_seeds = %d", n), Effect: eff, ChildSeconds: Float(float64(n) * csec)})
	}
	out = append(out, Option{Setting: fmt.Sprintf("child epochs = %d", res.Config.ReferenceEpochs),
		Effect: fmt.Sprintf("the reference itself: %d of %d children beat the control at %s (mean gain %+.2f points), %d at %s (%+.2f)",
			st.BeatRef, st.N, epochs(res.Config.ReferenceEpochs), st.RefGain, st.BeatChild, epochs(res.ChildEpochs), st.ChildGain),
		ChildSeconds: Float(rsec)})
	if o, ok := validationOption(res); ok {
		out = append(out, o)
	}
	return out
}

// validationOption: the validation images needed for a binomial standard
// error of half the signal between children. Scoring them costs about a
// third of a training step per image (a forward pass), estimated from the
// measured child time.
func validationOption(res *Result) (Option, bool) {
	st := res.Stats
	p, se, n := float64(st.MeanAcc), float64(st.BinomialSE), res.ValImages
	target := float64(st.Signal) / 2 // no signal: nothing to size the split by
	if n <= 0 || math.IsNaN(p) || math.IsNaN(se) || target <= 0 || math.IsNaN(target) {
		return Option{}, false
	}
	if se <= target {
		return Option{Setting: fmt.Sprintf("validation = %d", n),
			Effect:       fmt.Sprintf("not needed: the binomial standard error (%.2f points) is already at most half the signal (%.2f)", se, 2*target),
			ChildSeconds: st.ChildSeconds}, true
	}
	m := int(math.Ceil(p * (1 - p) / math.Pow(target/100, 2)))
	m = int(math.Ceil(float64(m)/1000)) * 1000
	cost := float64(st.ChildSeconds)
	if res.TrainImages > 0 && res.ChildEpochs > 0 {
		cost *= 1 + float64(m-n)/(3*float64(res.TrainImages)*float64(res.ChildEpochs))
	}
	eff := fmt.Sprintf("binomial standard error %.2f -> %.2f points (half the signal); the %d extra images come out of the training split; time estimated", se, 100*math.Sqrt(p*(1-p)/float64(m)), m-n)
	return Option{Setting: fmt.Sprintf("validation = %d", m), Effect: eff, ChildSeconds: Float(cost)}, true
}
