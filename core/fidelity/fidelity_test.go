package fidelity

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/plugins/sdk"
)

// setWidth is a fake transform: it sets one FC layer's width to a multiple
// of 8 (weights are not carried: the fake evaluator ignores them).
type setWidth struct{}

func (setWidth) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "setwidth", Kind: sdk.KindTransform, Version: "test"}, nil
}

func (setWidth) Actions(_ context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	var out []sdk.Action
	for i, l := range req.Net.Arch.Layers {
		if l.Kind == ir.FC {
			for u := 8; u <= 64; u += 8 {
				out = append(out, sdk.Action{Transform: "setwidth", Args: map[string]int{"layer": i + 1, "units": u}})
			}
		}
	}
	return sdk.ActionsResult{Actions: out}, nil
}

func (setWidth) Apply(_ context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	a := req.Net.Arch.Clone()
	a.Layers[req.Action.Args["layer"]-1].Units = req.Action.Args["units"]
	return sdk.ApplyResult{Net: sdk.Network{Arch: a, Input: req.Net.Input}}, nil
}

// pick is a fake controller choosing a candidate uniformly.
type pick struct{ r *rand.Rand }

func (*pick) Describe(context.Context) (sdk.Info, error) { return sdk.Info{Name: "pick"}, nil }
func (p *pick) Configure(_ context.Context, c sdk.ControllerConfig) error {
	p.r = rand.New(rand.NewSource(c.Seed))
	return nil
}
func (p *pick) Propose(_ context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	out := make([][]sdk.Action, len(req.Nets))
	for i, c := range req.Candidates {
		if len(c) > 0 {
			out[i] = []sdk.Action{c[p.r.Intn(len(c))]}
		}
	}
	return sdk.ProposeResult{Actions: out}, nil
}
func (*pick) Observe(context.Context, sdk.ObserveRequest) error { return nil }
func (*pick) Save(context.Context) (sdk.ControllerState, error) { return sdk.ControllerState{}, nil }
func (*pick) Load(context.Context, sdk.ControllerState) error   { return nil }

// noisy is a fake evaluator with a known signal and noise: a network's true
// quality is the sum of its FC widths / 128; at the child schedule it scores
// 0.8 + childSignal*quality + noise*N(0,1) (the noise drawn from the
// architecture and the data-order seed), at the reference schedule
// 0.8 + refSignal*quality, noise-free.
type noisy struct {
	childEpochs            int
	childSignal, refSignal float64
	noise                  float64
}

func quality(a ir.Arch) float64 {
	q := 0.0
	for _, l := range a.Layers {
		if l.Kind == ir.FC {
			q += float64(l.Units) / 128
		}
	}
	return q
}

func (n noisy) Evaluate(_ context.Context, jobs []search.Job, done func(int, search.Outcome)) []search.Outcome {
	out := make([]search.Outcome, len(jobs))
	for i, j := range jobs {
		o := search.Outcome{Duration: time.Duration(j.Training.Epochs) * time.Second}
		if j.Training.Epochs == n.childEpochs {
			h := fnv.New64a()
			h.Write([]byte(j.Arch.String()))
			r := rand.New(rand.NewSource(int64(h.Sum64()) ^ j.Training.Seed))
			o.Acc = 0.8 + n.childSignal*quality(j.Arch) + n.noise*r.NormFloat64()
		} else {
			o.Acc = 0.8 + n.refSignal*quality(j.Arch)
		}
		out[i] = o
		if done != nil {
			done(i, o)
		}
	}
	return out
}

func setup(t *testing.T, ev search.Evaluator) Setup {
	start := ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 8}, {Kind: ir.FC, Units: 8}, {Kind: ir.Softmax, Units: 10}}}
	child := experiment.PaperChild()
	child.Epochs = 1
	e := &experiment.Experiment{Name: "t", Child: child, Space: ir.PaperSpace(), Start: experiment.Start{Arch: start}}
	s := experiment.Search{Name: "rl", Controller: "pick", Steps: []experiment.StepSpec{{Transform: "setwidth", Count: 2}},
		PerEpisode: 4, Budget: 8, Seed: 3, Control: true}
	return Setup{Exp: e, Search: s, Transforms: map[string]sdk.Transform{"setwidth": setWidth{}}, Controller: &pick{},
		Eval: ev, Start: sdk.Network{Arch: start, Input: ir.Shape{C: 1, H: 4, W: 4}}, ValImages: 2000, TrainImages: 8000}
}

func TestVerdicts(t *testing.T) {
	cases := []struct {
		name  string
		ev    noisy
		ranks bool
		text  string
	}{
		{"clean signal", noisy{childEpochs: 1, childSignal: 0.05, refSignal: 0.06, noise: 0.0005}, true, "the reward ranks children"},
		{"noise swamps signal", noisy{childEpochs: 1, childSignal: 0.0005, refSignal: 0.06, noise: 0.01}, false, "does not rank"},
		{"reversed", noisy{childEpochs: 1, childSignal: -0.05, refSignal: 0.06, noise: 0.0005}, false, "does not rank"},
	}
	for _, c := range cases {
		res, err := Run(context.Background(), setup(t, c.ev), Config{Children: 10, Seeds: 3})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		st := res.Stats
		if res.Verdict.Ranks != c.ranks || !strings.Contains(res.Verdict.Text, c.text) {
			t.Errorf("%s: verdict %v %q", c.name, res.Verdict.Ranks, res.Verdict.Text)
		}
		if st.N != 10 || res.Config.ReferenceEpochs != 4 || float64(st.RefSeconds) != 4 || float64(st.ChildSeconds) != 1 {
			t.Errorf("%s: n %d, reference epochs %d, seconds %v %v", c.name, st.N, res.Config.ReferenceEpochs, st.ChildSeconds, st.RefSeconds)
		}
		// The measured seed noise is the evaluator's, in points, within a
		// factor of 2 (10 children x 3 seeds).
		if got, want := float64(st.SeedNoise), 100*c.ev.noise; got < want/2 || got > want*2 {
			t.Errorf("%s: seed noise %.4f points, want about %.4f", c.name, got, want)
		}
		if c.ranks && (float64(st.SNR) < 2 || float64(st.Spearman.Value) < 0.9) {
			t.Errorf("%s: SNR %v, Spearman %v", c.name, st.SNR, st.Spearman.Value)
		}
		if c.name == "reversed" && float64(st.Spearman.Value) > -0.9 {
			t.Errorf("reversed: Spearman %v", st.Spearman.Value)
		}
		if want := map[string]string{"noise swamps signal": "reward_seeds = ", "reversed": "child epochs = 4"}[c.name]; want != "" && !strings.Contains(res.Verdict.Text, want) {
			t.Errorf("%s: no options in %q", c.name, res.Verdict.Text)
		}
		md := res.Markdown()
		if !strings.Contains(md, res.Verdict.Text) || !strings.Contains(md, "| child 10 |") {
			t.Errorf("%s: report lacks the verdict or a child:\n%s", c.name, md)
		}
	}
}

// The children are the search's: the same controller seed samples the same
// networks, and each is a transformed start network.
func TestSampleIsDeterministic(t *testing.T) {
	s := setup(t, noisy{childEpochs: 1})
	a, err := Sample(context.Background(), s, 6)
	if err != nil {
		t.Fatal(err)
	}
	s.Controller = &pick{}
	b, err := Sample(context.Background(), s, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 6 || len(b) != 6 {
		t.Fatalf("sampled %d and %d", len(a), len(b))
	}
	distinct := map[string]bool{}
	for i := range a {
		if a[i].Net.Arch.String() != b[i].Net.Arch.String() || len(a[i].Actions) != 2 {
			t.Errorf("child %d: %s (%v) then %s", i, a[i].Net.Arch, a[i].Actions, b[i].Net.Arch)
		}
		distinct[a[i].Net.Arch.String()] = true
	}
	if len(distinct) < 3 {
		t.Errorf("only %d distinct children", len(distinct))
	}
}

func TestBadInput(t *testing.T) {
	s := setup(t, noisy{childEpochs: 1})
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Children: 2}, "at least 3 children"},
		{Config{Seeds: 1}, "at least 2 data-order seeds"},
		{Config{ReferenceEpochs: -1}, "reference epochs"},
	} {
		if _, err := Run(context.Background(), s, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
	s.Search.Control = false
	if _, err := Run(context.Background(), s, Config{}); !errors.Is(err, ErrNoControl) || !strings.Contains(err.Error(), `search "rl"`) {
		t.Errorf("no control: %v", err)
	}
}

// Hand-computed, in units of u = 1/64 (exact in binary, so ties stay
// ties): 3 children, 2 seeds, the control at 0.5 both seeds. Gains 1 3 |
// 2 2 | 5 3; within-child variances 2, 0, 2 -> seed noise sqrt(4/3); mean
// gains 2 2 4 -> spread sd sqrt(4/3); signal sqrt(4/3 - (4/3)/2) =
// sqrt(2/3). Reference gains 2 3 6: seed 1 ranks perfectly (1), seed 2
// (3 2 3) not at all (0), their mean 0.5; the mean of the seeds (2 2 4,
// a tie) gives 1.5/sqrt(3).
func TestAnalyzeHandComputed(t *testing.T) {
	const u = 1.0 / 64
	a := func(k float64) Float { return Float(0.5 + k*u) }
	sec := []float64{2, 2}
	res := &Result{Config: Config{Children: 3, Seeds: 2, ReferenceEpochs: 4, ReferenceSeeds: 1}, ChildEpochs: 1, ValImages: 2000,
		Control: Net{Child: []Float{a(0), a(0)}, Ref: []Float{a(0)}, ChildSeconds: sec, RefSeconds: []float64{8}},
		Children: []Net{
			{Child: []Float{a(1), a(3)}, Ref: []Float{a(2)}, ChildSeconds: sec, RefSeconds: []float64{8}},
			{Child: []Float{a(2), a(2)}, Ref: []Float{a(3)}, ChildSeconds: sec, RefSeconds: []float64{8}},
			{Child: []Float{a(5), a(3)}, Ref: []Float{a(6)}, ChildSeconds: sec, RefSeconds: []float64{8}},
			{Child: []Float{a(5), Float(math.NaN())}, Ref: []Float{a(6)}}, // failed once: left out
		}}
	Analyze(res)
	st := res.Stats
	p, pt := 0.5+16*u/6, 100*u // mean accuracy; one unit in points
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"seed noise", float64(st.SeedNoise), pt * math.Sqrt(4.0/3)},
		{"spread", float64(st.Spread), pt * math.Sqrt(4.0/3)},
		{"signal", float64(st.Signal), pt * math.Sqrt(2.0/3)},
		{"snr", float64(st.SNR), math.Sqrt(0.5)},
		{"spearman", float64(st.Spearman.Value), 0.5},
		{"spearman seed 1", float64(st.PerSeedSpearman[0]), 1},
		{"spearman seed 2", float64(st.PerSeedSpearman[1]), 0},
		{"spearman of means", float64(st.SpearmanMean.Value), 1.5 / math.Sqrt(3)},
		{"child gain", float64(st.ChildGain), pt * 8 / 3},
		{"reference gain", float64(st.RefGain), pt * 11 / 3},
		{"binomial se", float64(st.BinomialSE), 100 * math.Sqrt(p*(1-p)/2000)},
		{"child seconds", float64(st.ChildSeconds), 2},
		{"reference seconds", float64(st.RefSeconds), 8},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if st.N != 3 || st.BeatChild != 3 || st.BeatRef != 3 {
		t.Errorf("n %d, beat %d %d", st.N, st.BeatChild, st.BeatRef)
	}
	if res.Verdict.Ranks {
		t.Errorf("3 children cannot give an interval above 0.5: %q", res.Verdict.Text)
	}
	// reward_seeds for an SNR of 2: (2/0.707)^2 = 8 seeds, 8 x 2 s.
	if o := res.Verdict.Options[0]; o.Setting != "reward_seeds = 8" || float64(o.ChildSeconds) != 16 {
		t.Errorf("first option %+v", o)
	}
	// JSON round trip keeps NaN as null.
	b, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil || !math.IsNaN(float64(back.Children[3].Child[1])) || back.Stats.SNR != st.SNR {
		t.Errorf("round trip: %v %+v", err, back)
	}
}

type counting struct {
	search.Evaluator
	n int
}

func (c *counting) Evaluate(ctx context.Context, jobs []search.Job, done func(int, search.Outcome)) []search.Outcome {
	c.n += len(jobs)
	return c.Evaluator.Evaluate(ctx, jobs, done)
}

// A check cut short resumes from what it saved: only the missing
// trainings run, and the result is the uninterrupted one.
func TestResume(t *testing.T) {
	ev := noisy{childEpochs: 1, childSignal: 0.01, refSignal: 0.06, noise: 0.003}
	cfg := Config{Children: 5, Seeds: 3}
	full, err := Run(context.Background(), setup(t, ev), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var snap, snap12 []byte
	saves := 0
	s := setup(t, ev)
	s.Save = func(r *Result) error {
		if saves++; saves == 10 {
			snap, err = r.JSON()
		}
		if saves == 12 { // seed 1 and the reference of every network
			snap12, err = r.JSON()
		}
		return err
	}
	if _, err := Run(context.Background(), s, cfg); err != nil || saves != 6*4 {
		t.Fatalf("%v; %d saves, want 24", err, saves)
	}
	prev, err := Parse(snap)
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Evaluator: ev}
	s = setup(t, c)
	s.Resume = prev
	res, err := Run(context.Background(), s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := full.JSON()
	b, _ := res.JSON()
	if c.n != 24-10 || string(a) != string(b) {
		t.Errorf("resumed: %d trainings (want 14), same result %v", c.n, string(a) == string(b))
	}
	// The plan: seed 1 of the 6 networks, then their reference: cut after
	// 10, the control and 3 children have their reference, none a seed 2.
	if !complete(prev.Children[2].Ref) || complete(prev.Children[3].Ref) || math.IsNaN(float64(prev.Children[4].Child[0])) ||
		!math.IsNaN(float64(prev.Control.Child[1])) {
		t.Errorf("cut short: control %+v, child 1 %+v", prev.Control, prev.Children[0])
	}
	// Trimmed to what every network finished: one seed and the reference,
	// analysed as such (no seed noise measured).
	p12, err := Parse(snap12)
	if err != nil {
		t.Fatal(err)
	}
	tr := p12.Trimmed()
	if tr.Config.Seeds != 1 || tr.Config.ReferenceSeeds != 1 || tr.Stats.N != 5 || tr.Stats.PerSeedSpearman[0] != full.Stats.PerSeedSpearman[0] ||
		!math.IsNaN(float64(tr.Stats.SeedNoise)) || !strings.Contains(tr.Verdict.Text, "one data-order seed") || strings.Contains(tr.Verdict.Text, "NaN") {
		t.Errorf("trimmed: %+v\n%s", tr.Config, tr.Verdict.Text)
	}
	if tr := prev.Trimmed(); tr.Stats.N != 0 || tr.Config.ReferenceSeeds != 0 {
		t.Errorf("trimmed without every reference: n %d, %+v", tr.Stats.N, tr.Config)
	}
}

// RunIn keeps a partial file while it runs and leaves the result and its
// report; a partial file of other settings is not reused.
func TestRunIn(t *testing.T) {
	dir := t.TempDir()
	result, report, partial := Files(dir, "rl")
	s := setup(t, noisy{childEpochs: 1, childSignal: 0.01, refSignal: 0.06, noise: 0.003})
	old := &Result{Config: Config{Children: 4, Seeds: 2, ReferenceEpochs: 4, ReferenceSeeds: 1}}
	if err := writeJSON(partial, old); err != nil {
		t.Fatal(err)
	}
	var notes []string
	res, err := RunIn(context.Background(), s, Config{Children: 3, Seeds: 2}, dir, "rl", func(m string) { notes = append(notes, m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "other settings") {
		t.Errorf("notes %q", notes)
	}
	b, err := os.ReadFile(result)
	md, err2 := os.ReadFile(report)
	if err != nil || err2 != nil || !strings.Contains(string(md), res.Verdict.Text) {
		t.Fatalf("%v %v", err, err2)
	}
	if back, err := Parse(b); err != nil || back.Stats.N != 3 {
		t.Errorf("result file: %v %+v", err, back)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("partial file left: %v", err)
	}
	if err := os.WriteFile(partial, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RunIn(context.Background(), s, Config{Children: 3, Seeds: 2}, dir, "rl", nil); err == nil || !strings.Contains(err.Error(), "rl.partial.json") {
		t.Errorf("a damaged partial file: %v", err)
	}
}
