package reinforce

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/eas-go/eas/controllers/internal/actspace"
	"github.com/eas-go/eas/controllers/internal/rng"
	"github.com/eas-go/eas/plugins/sdk"
)

// Settings are the controller's knobs (keys in the .eas file).
type Settings struct {
	LearningRate  float64 // learning_rate, 2e-3
	Entropy       float64 // entropy, 1e-5
	Baseline      string  // baseline: "paper" (b <- 0.95 b + 0.05 mean, after subtracting) or "code" (b <- b + 0.95 (mean - b), before)
	BaselineDecay float64 // baseline_decay, 0.95
	Embed         int     // embedding, 16
	Hidden        int     // hidden, 50 per direction
}

// Defaults are the paper's settings.
func Defaults() Settings {
	return Settings{LearningRate: 2e-3, Entropy: 1e-5, Baseline: "paper", BaselineDecay: 0.95, Embed: 16, Hidden: 50}
}

// decision is one recorded choice, enough to recompute its log-probability.
type decision struct {
	Tokens []int `json:"t"`
	Multi  bool  `json:"m"`
	// multi
	Positions []int  `json:"ps,omitempty"`
	Chosen    []bool `json:"c,omitempty"`
	// tree: valid masks and choices at each level (-1: no choice at that level)
	BlockValid []bool `json:"bv,omitempty"`
	Block      int    `json:"b"`
	PosValid   []bool `json:"pv,omitempty"`
	Pos        int    `json:"p"`
	OptValid   []bool `json:"ov,omitempty"`
	Opt        int    `json:"o"`
}

// Controller is the built-in "reinforce".
type Controller struct {
	set      Settings
	vocab    actspace.Vocab
	infos    []sdk.Info // the step transforms' descriptions (their Choice)
	pol      *policy
	r        *rng.R
	adamM    map[string][]float64
	adamV    map[string][]float64
	adamT    int
	baseline float64
	hasBase  bool
	pending  [][]decision // per network of the current episode
	machines map[shape]*machine
	// LastStats describes the last update (for logs and tests).
	LastStats Stats
}

// Stats of one policy update.
type Stats struct {
	MeanReward, Baseline, Objective float64
	Networks                        int
}

// New returns an unconfigured controller.
func New() sdk.Controller { return &Controller{set: Defaults()} }

// Describe names the controller.
func (*Controller) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "reinforce", Kind: sdk.KindController, Version: "1.0", Families: []string{"plain", "densenet"},
		Description: "REINFORCE meta-controller: bidirectional-LSTM encoder, Net2Wider and Net2Deeper actors (gorgonia)"}, nil
}

// Configure builds the policy for the search space and seed.
func (c *Controller) Configure(_ context.Context, cfg sdk.ControllerConfig) error {
	s := Defaults()
	for k, v := range cfg.Settings {
		var err error
		switch k {
		case "learning_rate":
			s.LearningRate, err = strconv.ParseFloat(v, 64)
		case "entropy":
			s.Entropy, err = strconv.ParseFloat(v, 64)
		case "baseline":
			if v != "paper" && v != "code" {
				err = fmt.Errorf("want paper or code")
			}
			s.Baseline = v
		case "baseline_decay":
			s.BaselineDecay, err = strconv.ParseFloat(v, 64)
		case "embedding":
			s.Embed, err = strconv.Atoi(v)
		case "hidden":
			s.Hidden, err = strconv.Atoi(v)
		default:
			return fmt.Errorf("reinforce: unknown setting %q (learning_rate, entropy, baseline, baseline_decay, embedding, hidden)", k)
		}
		if err != nil {
			return fmt.Errorf("reinforce: setting %s = %q: %v", k, v, err)
		}
	}
	c.set = s
	c.vocab = actspace.NewVocab(cfg.Space)
	c.r = rng.New(cfg.Seed)
	c.infos = cfg.Transforms
	c.pol = newPolicy(Sizes{Vocab: c.vocab.Size, Options: c.vocab.Options(), Embed: s.Embed, Hidden: s.Hidden}, c.r)
	c.adamM, c.adamV = map[string][]float64{}, map[string][]float64{}
	for _, n := range c.pol.names {
		c.adamM[n] = make([]float64, len(c.pol.vals[n]))
		c.adamV[n] = make([]float64, len(c.pol.vals[n]))
	}
	c.adamT, c.baseline, c.hasBase, c.pending, c.machines = 0, 0, false, nil, nil
	return nil
}

// Propose samples actions for every network.
func (c *Controller) Propose(ctx context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	acts, err := c.propose(ctx, req)
	return sdk.ProposeResult{Actions: acts}, err
}

func (c *Controller) propose(_ context.Context, req sdk.ProposeRequest) (out [][]sdk.Action, err error) {
	if c.pol == nil {
		return nil, fmt.Errorf("reinforce: Propose before Configure")
	}
	defer catch(&err)
	if len(c.pending) != len(req.Nets) {
		c.pending = make([][]decision, len(req.Nets))
	}
	out = make([][]sdk.Action, len(req.Nets))
	for i, cands := range req.Candidates {
		if len(cands) == 0 {
			continue
		}
		toks, pos := c.vocab.Tokens(req.Nets[i].Arch)
		if actspace.Each(c.infos, req.Transform) {
			m := actspace.MultiOf(pos, cands)
			if len(m.Actions) == 0 {
				continue
			}
			probs, err := c.multiProbs(toks, m.Positions)
			if err != nil {
				return nil, err
			}
			d := decision{Tokens: toks, Multi: true, Positions: m.Positions}
			for k, p := range probs {
				ch := c.r.Float64() < p
				d.Chosen = append(d.Chosen, ch)
				if ch {
					out[i] = append(out[i], m.Actions[k])
				}
			}
			c.pending[i] = append(c.pending[i], d)
			continue
		}
		t := c.vocab.TreeOf(req.Nets[i].Arch, cands)
		d := decision{Tokens: toks, Block: -1, Pos: -1, Opt: -1}
		d.BlockValid = make([]bool, actspace.MaxBlocks)
		for _, b := range t.Blocks {
			d.BlockValid[b.ID] = true
		}
		fin, err := c.encode(toks)
		if err != nil {
			return nil, err
		}
		p, err := c.treeProbs(d, 0, fin)
		if err != nil {
			return nil, err
		}
		d.Block = c.r.Categorical(p)
		var blk actspace.TreeBlock
		for _, b := range t.Blocks {
			if b.ID == d.Block {
				blk = b
			}
		}
		d.PosValid = make([]bool, actspace.MaxPositions)
		for k := range blk.Positions {
			d.PosValid[k] = true
		}
		if p, err = c.treeProbs(d, 1, fin); err != nil {
			return nil, err
		}
		d.Pos = c.r.Categorical(p)
		opts := blk.Positions[d.Pos].Options
		choice := opts[0].Action
		if len(opts) > 1 {
			d.OptValid = make([]bool, c.vocab.Options())
			for _, o := range opts {
				d.OptValid[o.ID] = true
			}
			if p, err = c.treeProbs(d, 2, fin); err != nil {
				return nil, err
			}
			d.Opt = c.r.Categorical(p)
			for _, o := range opts {
				if o.ID == d.Opt {
					choice = o.Action
				}
			}
		}
		out[i] = []sdk.Action{choice}
		c.pending[i] = append(c.pending[i], d)
	}
	return out, nil
}

// machine returns the compiled graph for a decision shape.
func (c *Controller) machine(s shape) (*machine, error) {
	if c.machines == nil {
		c.machines = map[shape]*machine{}
	}
	if m, ok := c.machines[s]; ok {
		return m, nil
	}
	m, err := c.pol.compile(s)
	if err != nil {
		return nil, err
	}
	c.machines[s] = m
	return m, nil
}

func (c *Controller) multiProbs(toks, positions []int) ([]float64, error) {
	m, err := c.machine(shape{T: len(toks), multi: true, fwd: true})
	if err != nil {
		return nil, err
	}
	if _, err := m.run(c.pol, decision{Tokens: toks, Multi: true, Positions: positions}, 0, 0); err != nil {
		return nil, err
	}
	all := values(m.probs[0])
	out := make([]float64, len(positions))
	for k, p := range positions {
		out[k] = all[p]
	}
	return out, nil
}

// encode returns the encoder's final state for a token sequence, the input
// of every level of the deeper actor's tree.
func (c *Controller) encode(toks []int) ([]float64, error) {
	m, err := c.machine(shape{T: len(toks), encoder: true, fwd: true})
	if err != nil {
		return nil, err
	}
	if _, err := m.run(c.pol, decision{Tokens: toks}, 0, 0); err != nil {
		return nil, err
	}
	return values(m.probs[0]), nil
}

// treeProbs returns the distribution at `level` given d's earlier choices
// and the encoder's final state.
func (c *Controller) treeProbs(d decision, level int, final []float64) ([]float64, error) {
	m, err := c.machine(shape{level: level, fwd: true, head: true})
	if err != nil {
		return nil, err
	}
	if _, err := m.runWith(c.pol, d, 0, 0, final); err != nil {
		return nil, err
	}
	return values(m.probs[level]), nil
}

// Reward is the paper's transformation of validation accuracy.
func Reward(acc float64) float64 { return math.Tan(math.Min(acc, 0.999) * math.Pi / 2) }

// Observe updates the policy with the episode's rewards.
func (c *Controller) Observe(_ context.Context, req sdk.ObserveRequest) (err error) {
	defer catch(&err)
	accs, failed := req.Accuracies, req.Failed
	if c.pol == nil {
		return fmt.Errorf("reinforce: Observe before Configure")
	}
	var rewards []float64
	var recs [][]decision
	for i, a := range accs {
		if i < len(failed) && failed[i] || i >= len(c.pending) || len(c.pending[i]) == 0 {
			continue
		}
		rewards = append(rewards, Reward(a))
		recs = append(recs, c.pending[i])
	}
	c.pending = nil
	if len(rewards) == 0 {
		return nil
	}
	mean := 0.0
	for _, r := range rewards {
		mean += r
	}
	mean /= float64(len(rewards))
	if !c.hasBase {
		c.baseline, c.hasBase = mean, true
	} else if c.set.Baseline == "code" {
		c.baseline += c.set.BaselineDecay * (mean - c.baseline)
	}
	adv := make([]float64, len(rewards))
	for i, r := range rewards {
		adv[i] = r - c.baseline
	}
	if c.set.Baseline != "code" {
		c.baseline = c.set.BaselineDecay*c.baseline + (1-c.set.BaselineDecay)*mean
	}
	obj, grads, err := c.objective(recs, adv)
	if err != nil {
		return err
	}
	c.adam(grads)
	c.LastStats = Stats{MeanReward: mean, Baseline: c.baseline, Objective: obj, Networks: len(rewards)}
	return nil
}

// objective computes J = mean_i adv_i * sum_d log p(d) + entropy * mean_i sum_d H(d)
// and dJ/dparams. J is a sum over decisions, so each decision gets its own
// small gorgonia graph and the gradients are added here: gorgonia's compile
// time grows much faster than linearly with graph size.
func (c *Controller) objective(recs [][]decision, adv []float64) (float64, map[string][]float64, error) {
	scale := 1 / float64(len(recs))
	grads := map[string][]float64{}
	total := 0.0
	for i, ds := range recs {
		for _, d := range ds {
			v, g, err := c.decisionTerm(d, adv[i]*scale, c.set.Entropy*scale)
			if err != nil {
				return 0, nil, err
			}
			total += v
			for name, gv := range g {
				acc := grads[name]
				if acc == nil {
					acc = make([]float64, len(gv))
					grads[name] = acc
				}
				for k, x := range gv {
					acc[k] += x
				}
			}
		}
	}
	return total, grads, nil
}

// decisionTerm is wLogp * log p(d) + wEnt * H(d) and its gradient.
func (c *Controller) decisionTerm(d decision, wLogp, wEnt float64) (float64, map[string][]float64, error) {
	sh := shape{T: len(d.Tokens), multi: d.Multi}
	if !d.Multi {
		sh.level = 1
		if d.Opt >= 0 {
			sh.level = 2
		}
	}
	m, err := c.machine(sh)
	if err != nil {
		return 0, nil, err
	}
	v, err := m.run(c.pol, d, wLogp, wEnt)
	if err != nil {
		return 0, nil, err
	}
	g, err := m.grads()
	return v, g, err
}

// adam does one gradient-ascent step on J.
func (c *Controller) adam(grads map[string][]float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c.adamT++
	lr := c.set.LearningRate * math.Sqrt(1-math.Pow(b2, float64(c.adamT))) / (1 - math.Pow(b1, float64(c.adamT)))
	for name, g := range grads {
		v, m, s := c.pol.vals[name], c.adamM[name], c.adamV[name]
		for i := range v {
			m[i] = b1*m[i] + (1-b1)*g[i]
			s[i] = b2*s[i] + (1-b2)*g[i]*g[i]
			v[i] += lr * m[i] / (math.Sqrt(s[i]) + eps)
		}
	}
}

type state struct {
	Settings Settings             `json:"settings"`
	Vocab    int                  `json:"vocab"`
	Params   map[string][]float64 `json:"params"`
	M        map[string][]float64 `json:"adam_m"`
	AdamV    map[string][]float64 `json:"adam_v"`
	T        int                  `json:"adam_t"`
	Baseline float64              `json:"baseline"`
	HasBase  bool                 `json:"has_baseline"`
	RNG      uint64               `json:"rng"`
	Pending  [][]decision         `json:"pending,omitempty"`
}

// Save returns the complete state.
func (c *Controller) Save(ctx context.Context) (sdk.ControllerState, error) {
	b, err := c.save(ctx)
	return sdk.ControllerState{Data: b}, err
}

func (c *Controller) save(context.Context) ([]byte, error) {
	if c.pol == nil {
		return nil, fmt.Errorf("reinforce: Save before Configure")
	}
	return json.Marshal(state{Settings: c.set, Vocab: c.vocab.Size, Params: c.pol.vals, M: c.adamM, AdamV: c.adamV, T: c.adamT,
		Baseline: c.baseline, HasBase: c.hasBase, RNG: c.r.State, Pending: c.pending})
}

// Load restores a state saved by Save; Configure must have been called with
// the same search space.
func (c *Controller) Load(_ context.Context, st sdk.ControllerState) error {
	b := st.Data
	if c.pol == nil {
		return fmt.Errorf("reinforce: Load before Configure")
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("reinforce state: %w", err)
	}
	if s.Vocab != c.vocab.Size {
		return fmt.Errorf("reinforce state: vocabulary of %d tokens, this search space has %d", s.Vocab, c.vocab.Size)
	}
	for _, n := range c.pol.names {
		if len(s.Params[n]) != len(c.pol.vals[n]) || len(s.M[n]) != len(c.pol.vals[n]) || len(s.AdamV[n]) != len(c.pol.vals[n]) {
			return fmt.Errorf("reinforce state: parameter %s has the wrong size", n)
		}
	}
	c.set, c.pol.vals, c.adamM, c.adamV, c.adamT = s.Settings, s.Params, s.M, s.AdamV, s.T
	c.baseline, c.hasBase, c.r, c.pending = s.Baseline, s.HasBase, &rng.R{State: s.RNG}, s.Pending
	return nil
}
