package fidelity

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"sync"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
)

// Defaults of a check: 8 children, 3 data-order seeds, a reference of 4x
// the child epochs trained once.
const (
	DefaultChildren  = 8
	DefaultSeeds     = 3
	DefaultRefFactor = 4
)

// Config says how much a check measures.
type Config struct {
	Children        int `json:"children"`         // K children sampled (at least 3)
	Seeds           int `json:"seeds"`            // R data-order seeds at the child schedule (at least 2)
	ReferenceEpochs int `json:"reference_epochs"` // 0: DefaultRefFactor x the child epochs
	ReferenceSeeds  int `json:"reference_seeds"`  // 0: 1
}

// Resolve fills the zero fields with the defaults for a child schedule of
// childEpochs epochs and checks the result.
func (c Config) Resolve(childEpochs int) (Config, error) {
	if c.Children == 0 {
		c.Children = DefaultChildren
	}
	if c.Seeds == 0 {
		c.Seeds = DefaultSeeds
	}
	if c.ReferenceEpochs == 0 {
		c.ReferenceEpochs = DefaultRefFactor * max(1, childEpochs)
	}
	if c.ReferenceSeeds == 0 {
		c.ReferenceSeeds = 1
	}
	switch {
	case c.Children < 3:
		return c, fmt.Errorf("children = %d: a rank correlation needs at least 3 children", c.Children)
	case c.Seeds < 2:
		return c, fmt.Errorf("seeds = %d: the seed noise of a child's score needs at least 2 data-order seeds", c.Seeds)
	case c.ReferenceEpochs < 1:
		return c, fmt.Errorf("reference epochs = %d: must be at least 1", c.ReferenceEpochs)
	case c.ReferenceSeeds < 1:
		return c, fmt.Errorf("reference seeds = %d: must be at least 1", c.ReferenceSeeds)
	}
	return c, nil
}

// Setup is what a check trains with: the search as it would run.
type Setup struct {
	Exp        *experiment.Experiment
	Search     experiment.Search
	Transforms map[string]sdk.Transform
	Controller sdk.Controller // configured afresh here; not reused by the search afterwards
	Eval       search.Evaluator
	Data       search.Data // nil with an evaluator that needs none
	Start      sdk.Network
	StartAcc   float64
	// ValImages and TrainImages size the binomial error and the cost of a
	// larger validation split.
	ValImages, TrainImages int
	// Progress is told of every finished training (done of total).
	Progress func(done, total int, what string)
	// Resume holds the scores of an interrupted check (nil: none); Save,
	// if set, is given the result after every training, to keep them.
	Resume *Result
	Save   func(*Result) error
}

// Net is one network of a check and every score it got.
type Net struct {
	Name    string   `json:"name"` // "control", "child 1", ...
	Arch    string   `json:"arch"`
	Actions []string `json:"actions,omitempty"`
	// Child and Ref are validation accuracies (fractions), one per
	// data-order seed, at the child and the reference schedule; NaN where
	// the training failed.
	Child        []Float   `json:"child"`
	Ref          []Float   `json:"reference"`
	ChildSeconds []float64 `json:"child_seconds"`
	RefSeconds   []float64 `json:"reference_seconds"`
	Errors       []string  `json:"errors,omitempty"`
}

// Result is a finished check.
type Result struct {
	Search      string  `json:"search"`
	Config      Config  `json:"config"`
	ChildEpochs int     `json:"child_epochs"`
	ValImages   int     `json:"val_images"`
	TrainImages int     `json:"train_images"`
	StartAcc    float64 `json:"start_acc"`
	Control     Net     `json:"control"`
	Children    []Net   `json:"children"`
	Stats       Stats   `json:"stats"`
	Verdict     Verdict `json:"verdict"`
}

// ErrNoControl is returned for a search with control = false: gains are
// measured over the control.
var ErrNoControl = errors.New("fidelity measures each child's gain over the control (the start network trained with the child schedule): set control = true in the search")

// Run samples the children, trains them and the control at both
// schedules, and analyses the scores.
func Run(ctx context.Context, s Setup, c Config) (*Result, error) {
	if !s.Search.Control {
		return nil, fmt.Errorf("search %q: %w", s.Search.Name, ErrNoControl)
	}
	c, err := c.Resolve(s.Exp.Child.Epochs)
	if err != nil {
		return nil, err
	}
	kids, err := Sample(ctx, s, c.Children)
	if err != nil {
		return nil, err
	}
	res := &Result{Search: s.Search.Name, Config: c, ChildEpochs: s.Exp.Child.Epochs, ValImages: s.ValImages,
		TrainImages: s.TrainImages, StartAcc: s.StartAcc}
	res.Control = Net{Name: "control", Arch: s.Start.Arch.String()}
	nets := []sdk.Network{s.Start}
	for i, k := range kids {
		res.Children = append(res.Children, Net{Name: fmt.Sprintf("child %d", i+1), Arch: k.Net.Arch.String(), Actions: k.Actions})
		nets = append(nets, k.Net)
	}
	if err := train(ctx, s, c, nets, res); err != nil {
		return nil, err
	}
	Analyze(res)
	return res, nil
}

// Child is a sampled network and the actions that made it.
type Child struct {
	Net     sdk.Network
	Actions []string
}

// Sample draws k children from the start network exactly as the search's
// first episode would (its controller, transforms, seeds and space), but
// with k networks in that episode. The search's runner does the drawing
// into a scratch store; its evaluator only captures the networks.
func Sample(ctx context.Context, s Setup, k int) ([]Child, error) {
	dir, err := os.MkdirTemp("", "eas-fidelity-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	sr := s.Search
	sr.PerEpisode, sr.Budget, sr.Stages, sr.Control = k, k, nil, false
	capt := &capture{}
	r := &search.Runner{Exp: s.Exp, Search: sr, Transforms: s.Transforms, Controller: s.Controller, Eval: capt,
		Data: s.Data, Store: st, Start: s.Start, StartAcc: s.StartAcc}
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("sampling children: %w", err)
	}
	acts := map[int][]string{}
	var failed []string
	for _, rec := range st.Records() {
		if rec.Kind == store.KindSample {
			acts[rec.ID] = rec.Actions
			if rec.Status == store.StatusFailed {
				failed = append(failed, fmt.Sprintf("network %d: %s", rec.ID, rec.Error))
			}
		}
	}
	var out []Child
	for _, j := range capt.jobs {
		out = append(out, Child{Net: sdk.Network{Arch: j.Arch, Input: j.Input, Weights: j.Weights}, Actions: acts[j.ID]})
	}
	if len(out) < 3 {
		return nil, fmt.Errorf("sampling children: only %d of %d could be built (%v); a check needs 3", len(out), k, failed)
	}
	return out, nil
}

// capture is the evaluator of Sample: it keeps the jobs and scores nothing.
type capture struct {
	mu   sync.Mutex
	jobs []search.Job
}

func (c *capture) Evaluate(_ context.Context, jobs []search.Job, done func(int, search.Outcome)) []search.Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]search.Outcome, len(jobs))
	for i, j := range jobs {
		c.jobs = append(c.jobs, j)
		if done != nil {
			done(i, out[i])
		}
	}
	return out
}

// Seed is the data-order seed of seed k (1-based) of a check: distinct
// from the search's own orders, the same for every network of the check,
// so gains over the control are paired per seed.
func Seed(searchSeed int64, reference bool, k int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "fidelity/%d/%v/%d", searchSeed, reference, k)
	return int64(h.Sum64() & (1<<62 - 1))
}

// slot is where one training's score goes: network (0 the control),
// schedule, seed (0-based).
type slot struct {
	net int
	ref bool
	k   int
}

// plan orders the trainings so that a check cut short can still be
// analysed: child-schedule seed 1, the reference, then the other seeds.
func plan(c Config) []slot {
	var out []slot
	add := func(ref bool, from, to int) {
		for k := from; k < to; k++ {
			for i := 0; i <= c.Children; i++ {
				out = append(out, slot{i, ref, k})
			}
		}
	}
	add(false, 0, 1)
	add(true, 0, c.ReferenceSeeds)
	add(false, 1, c.Seeds)
	return out
}

// scores returns the score and seconds arrays a slot writes to.
func (sl slot) scores(n *Net) ([]Float, []float64) {
	if sl.ref {
		return n.Ref, n.RefSeconds
	}
	return n.Child, n.ChildSeconds
}

// train runs the trainings of the check as one batch of jobs (the
// evaluator's pool overlaps them) and files the scores into res. Scores
// found in s.Resume for the same network are reused; s.Save is given the
// result after every training.
func train(ctx context.Context, s Setup, c Config, nets []sdk.Network, res *Result) error {
	all := append([]*Net{&res.Control}, ptrs(res.Children)...)
	for _, n := range all {
		n.Child, n.ChildSeconds = nans(c.Seeds), make([]float64, c.Seeds)
		n.Ref, n.RefSeconds = nans(c.ReferenceSeeds), make([]float64, c.ReferenceSeeds)
	}
	var jobs []search.Job
	var slots []slot
	done, total := 0, 0
	for _, sl := range plan(c) {
		total++
		if resumed(s.Resume, sl, all[sl.net]) {
			done++
			continue
		}
		n := nets[sl.net]
		tr := s.Exp.Child
		tr.Epochs, tr.Seed = s.Exp.Child.Epochs, Seed(s.Search.Seed, sl.ref, sl.k+1)
		if sl.ref {
			tr.Epochs = c.ReferenceEpochs
		}
		jobs = append(jobs, search.Job{ID: -(1000 + total), Arch: n.Arch, Input: n.Input, Weights: clone(n.Weights), Training: tr})
		slots = append(slots, sl)
	}
	if done > 0 && s.Progress != nil {
		s.Progress(done, total, "trainings reused from the interrupted check")
	}
	var saveErr error
	s.Eval.Evaluate(ctx, jobs, func(i int, o search.Outcome) {
		sl := slots[i]
		n := all[sl.net]
		accs, secs := sl.scores(n)
		what := fmt.Sprintf("%s, seed %d, %s", n.Name, sl.k+1, epochs(jobs[i].Training.Epochs))
		if sl.ref {
			what += " (reference)"
		}
		if o.Err != nil && errors.Is(o.Err, context.Canceled) {
			return // not a result: the check is being stopped
		}
		secs[sl.k] = o.Duration.Seconds()
		if o.Err != nil {
			n.Errors = append(n.Errors, fmt.Sprintf("%s: %v", what, o.Err))
			what += ": failed: " + o.Err.Error()
		} else {
			accs[sl.k] = Float(o.Acc)
			what += fmt.Sprintf(": %.2f%%", 100*o.Acc)
		}
		done++
		if s.Save != nil && saveErr == nil {
			saveErr = s.Save(res)
		}
		if s.Progress != nil {
			s.Progress(done, total, what)
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	return saveErr
}

// resumed copies a slot's score from an interrupted check of the same
// network, if it has one.
func resumed(prev *Result, sl slot, n *Net) bool {
	if prev == nil {
		return false
	}
	var p *Net
	switch {
	case sl.net == 0:
		p = &prev.Control
	case sl.net <= len(prev.Children):
		p = &prev.Children[sl.net-1]
	}
	if p == nil || p.Arch != n.Arch {
		return false
	}
	accs, secs := sl.scores(p)
	if sl.k >= len(accs) || sl.k >= len(secs) || math.IsNaN(float64(accs[sl.k])) {
		return false
	}
	dst, dsec := sl.scores(n)
	dst[sl.k], dsec[sl.k] = accs[sl.k], secs[sl.k]
	return true
}

func ptrs(ns []Net) []*Net {
	out := make([]*Net, len(ns))
	for i := range ns {
		out[i] = &ns[i]
	}
	return out
}

func clone(w tensor.Map) tensor.Map {
	if w == nil {
		return nil
	}
	return w.Clone()
}
