package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
)

// Checkpoints saves and loads networks; the CLI wires core/checkpoint in.
type Checkpoints interface {
	Save(path string, net sdk.Network, meta map[string]string) error
	Load(path string) (sdk.Network, error)
}

// Progress is reported as the search advances.
type Progress struct {
	Search         string
	Stage, Stages  int
	Episode        int
	Done, Total    int // networks sampled in this search / budget
	Best           float64
	StartAcc       float64
	Last           *store.Record // the network just finished, if any
	Message        string
	Elapsed        time.Duration
	EstimatedTotal time.Duration // 0 when unknown
}

// Runner runs one named search of an experiment.
type Runner struct {
	Exp        *experiment.Experiment
	Search     experiment.Search
	Transforms map[string]sdk.Transform
	Controller sdk.Controller
	Eval       Evaluator
	Data       Data // may be nil with the virtual evaluator
	Store      *store.Store
	Ckpt       Checkpoints
	// Start is the trained start network and its validation accuracy.
	Start    sdk.Network
	StartAcc float64
	OnEvent  func(Progress)
	// PluginLog, when set, is named when every network of an episode
	// failed (a plugin's stderr and stack traces go there).
	PluginLog string

	began     time.Time
	sampled   int
	best      float64
	stageBest float64
	cache     map[string]float64
	resumed   map[[2]int]store.Record // (episode, index) -> finished record of an interrupted episode
	baseline  float64
}

type host struct {
	data Data
	seed int64
	in   ir.Shape
}

// Batch serves training images to transforms; without data (virtual runs)
// it serves seeded standard-normal images of the network's input shape.
func (h host) Batch(ctx context.Context, n int) (*tensor.Tensor, error) {
	if h.data != nil {
		return h.data.Batch(n, h.seed)
	}
	t := tensor.New(n, h.in.C, h.in.H, h.in.W)
	x := uint64(h.seed)*0x9e3779b97f4a7c15 + 1
	for i := range t.Data { // xorshift + Box-Muller-free approximation: sum of uniforms
		var s float32
		for k := 0; k < 4; k++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			s += float32(x>>40) / float32(1<<24)
		}
		t.Data[i] = (s - 2) * 1.7
	}
	return t, nil
}

func seedOf(parts ...int64) int64 {
	h := fnv.New64a()
	for _, p := range parts {
		var b [8]byte
		for i := range b {
			b[i] = byte(p >> (8 * i))
		}
		h.Write(b[:])
	}
	return int64(h.Sum64() & (1<<62 - 1))
}

func (r *Runner) emit(p Progress) {
	if r.OnEvent == nil {
		return
	}
	p.Search, p.Total, p.Done, p.Best, p.StartAcc = r.Search.Name, r.Search.Budget, r.sampled, r.best, r.StartAcc
	p.Elapsed = time.Since(r.began)
	if r.sampled > 0 {
		p.EstimatedTotal = time.Duration(float64(p.Elapsed) * float64(r.Search.Budget) / float64(r.sampled))
	}
	r.OnEvent(p)
}

func (r *Runner) stages() []experiment.Stage {
	if len(r.Search.Stages) > 0 {
		return r.Search.Stages
	}
	return []experiment.Stage{{Budget: r.Search.Budget}}
}

func (r *Runner) steps() []string {
	var s []string
	for _, st := range r.Search.Steps {
		for i := 0; i < st.Count; i++ {
			s = append(s, st.Transform)
		}
	}
	return s
}

// Configure sends the controller its configuration.
func (r *Runner) Configure(ctx context.Context) error {
	var infos []sdk.Info
	seen := map[string]bool{}
	for _, name := range r.steps() {
		t, ok := r.Transforms[name]
		if !ok {
			return fmt.Errorf("search %q: no transform named %q", r.Search.Name, name)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		info, err := t.Describe(ctx)
		if err != nil {
			return fmt.Errorf("transform %q: %w", name, err)
		}
		infos = append(infos, info)
	}
	return r.Controller.Configure(ctx, sdk.ControllerConfig{Seed: r.Search.Seed, Space: r.Exp.Space,
		Settings: r.Search.Settings, Steps: r.steps(), Transforms: infos})
}

// Run performs the search, resuming from the store if it holds earlier work.
func (r *Runner) Run(ctx context.Context) error {
	r.began = time.Now()
	r.cache = map[string]float64{}
	r.resumed = map[[2]int]store.Record{}
	r.best = r.StartAcc
	if err := r.Configure(ctx); err != nil {
		return err
	}
	stageStart := r.Start
	firstStage, firstEpisode := 1, 1
	if cs, ok, err := r.Store.LoadController(); err != nil {
		return err
	} else if ok {
		if err := r.Controller.Load(ctx, sdk.ControllerState{Data: cs.State}); err != nil {
			return fmt.Errorf("resume: controller state: %w", err)
		}
		firstStage, firstEpisode, r.sampled = cs.Stage, cs.Episode+1, cs.Sampled
	}
	for _, rec := range r.Store.Records() {
		switch {
		case rec.Kind == store.KindSample && rec.Episode < firstEpisode:
			if rec.Status == store.StatusOK {
				r.cache[rec.Arch] = rec.ValAcc
			}
			if rec.Status != store.StatusFailed && rec.ValAcc > r.best {
				r.best = rec.ValAcc
			}
		case rec.Kind == store.KindSample:
			r.resumed[[2]int{rec.Episode, rec.Index}] = rec
		case rec.Kind == store.KindStageStart && rec.Stage <= firstStage && rec.Stage > 1:
			net, err := r.loadRecorded(rec)
			if err != nil {
				return fmt.Errorf("resume: stage %d start: %w", rec.Stage, err)
			}
			stageStart = net
		}
	}
	if len(r.resumed) > 0 || firstEpisode > 1 {
		r.emit(Progress{Stage: firstStage, Episode: firstEpisode,
			Message: fmt.Sprintf("resuming at episode %d: %d networks done, %d of the interrupted episode reused", firstEpisode, r.sampled, len(r.resumed))})
	}
	stages := r.stages()
	episode := firstEpisode
	for si := firstStage; si <= len(stages); si++ {
		st := stages[si-1]
		if err := r.control(ctx, si, len(stages), stageStart); err != nil {
			return err
		}
		r.stageBest = -1
		for _, rec := range r.Store.Records() {
			if rec.Kind == store.KindSample && rec.Stage == si && rec.Weights != "" && rec.ValAcc > r.stageBest {
				r.stageBest = rec.ValAcc
			}
		}
		stageEnd := 0
		for _, s := range stages[:si] {
			stageEnd += s.Budget
		}
		for r.sampled < stageEnd {
			if err := ctx.Err(); err != nil {
				return err
			}
			m := min(r.Search.PerEpisode, stageEnd-r.sampled)
			if err := r.episode(ctx, si, len(stages), episode, m, stageStart); err != nil {
				// A controller plugin that crashed is restarted by the host with
				// the state saved after the last episode: replay this episode
				// once, reusing every network it already recorded.
				var re interface{ Restarted() bool }
				if ctx.Err() != nil || !errors.As(err, &re) || !re.Restarted() {
					return err
				}
				r.emit(Progress{Stage: si, Episode: episode, Message: fmt.Sprintf("episode %d: %v; replaying it with the restarted plugin", episode, err)})
				for _, rec := range r.Store.Records() {
					if rec.Kind == store.KindSample && rec.Episode == episode {
						r.resumed[[2]int{rec.Episode, rec.Index}] = rec
					}
				}
				if err := r.episode(ctx, si, len(stages), episode, m, stageStart); err != nil {
					return err
				}
			}
			episode++
		}
		if si < len(stages) {
			next, _, err := r.resumedStart(si + 1) // its accuracy is in the stage-start record
			if err == nil && next.Weights == nil { // not retrained before a crash: do it now
				next, _, err = r.nextStart(ctx, si, st)
			}
			if err != nil {
				return err
			}
			stageStart = next
		}
	}
	r.emit(Progress{Stage: len(stages), Stages: len(stages), Episode: episode - 1, Message: "search finished"})
	return nil
}

// child is one network of an episode on its way to a record.
type child struct {
	net     sdk.Network
	actions []string
	err     error // the transforms failed on it
	rec     store.Record
	resumed bool // recorded by an interrupted run of this episode: reused as it is
}

// episode samples m networks from start: the steps grow them, the children
// that need it are trained, every child is recorded once, and the
// controller observes the accuracies and is saved.
func (r *Runner) episode(ctx context.Context, stage, stages, ep, m int, start sdk.Network) error {
	r.emit(Progress{Stage: stage, Stages: stages, Episode: ep, Message: fmt.Sprintf("episode %d: %d networks", ep, m)})
	kids := make([]child, m)
	for i := range kids {
		kids[i].net = sdk.Network{Arch: start.Arch.Clone(), Input: start.Input, Weights: cloneWeights(start.Weights)}
	}
	for si, tname := range r.steps() {
		if err := r.step(ctx, stage, ep, si, tname, kids); err != nil {
			return err
		}
	}
	jobs, jobKid := r.plan(stage, ep, start, kids)
	// Records that need no training are durable at once.
	for i := range kids {
		if k := &kids[i]; !k.resumed && k.rec.Status != "" {
			if err := r.Store.Append(k.rec); err != nil {
				return fmt.Errorf("network %d: recording it: %w", k.rec.ID, err)
			}
			r.settled(k.rec)
			r.emit(Progress{Stage: stage, Stages: stages, Episode: ep, Last: &k.rec})
		}
	}
	if err := r.train(ctx, stage, stages, ep, kids, jobs, jobKid); err != nil {
		return err
	}
	return r.observe(ctx, stage, ep, kids)
}

// step applies one step of the episode (transform tname) to every child
// still growing: the transform lists each child's actions, the controller
// picks, the transform applies. A child the transform fails on stops
// growing and is recorded as failed; a controller failure ends the episode.
func (r *Runner) step(ctx context.Context, stage, ep, si int, tname string, kids []child) error {
	m := len(kids)
	t := r.Transforms[tname]
	req := sdk.ProposeRequest{Episode: ep, Step: si, Transform: tname, Nets: make([]sdk.Network, m), Candidates: make([][]sdk.Action, m)}
	for i := range kids {
		k := &kids[i]
		req.Nets[i] = sdk.Network{Arch: k.net.Arch, Input: k.net.Input} // controllers need no weights
		if k.err != nil {
			continue
		}
		c, err := t.Actions(ctx, sdk.ActionsRequest{Net: k.net, Space: r.Exp.Space})
		if err != nil {
			k.err = fmt.Errorf("transform %s: listing actions: %w", tname, err)
			continue
		}
		req.Candidates[i] = c.Actions
	}
	prop, err := r.Controller.Propose(ctx, req)
	if err != nil {
		return fmt.Errorf("controller %s: propose (episode %d, step %d): %w", r.Search.Controller, ep, si+1, err)
	}
	if len(prop.Actions) != m {
		return fmt.Errorf("controller %s proposed for %d networks, want %d", r.Search.Controller, len(prop.Actions), m)
	}
	for i := range kids {
		k := &kids[i]
		for n, a := range prop.Actions[i] {
			if k.err != nil {
				break
			}
			if !slices.ContainsFunc(req.Candidates[i], a.Equal) {
				k.err = fmt.Errorf("controller %s proposed %s, which is not a valid action of %s on %s", r.Search.Controller, a, tname, k.net.Arch)
				break
			}
			k.err = r.apply(ctx, stage, ep, i, si, n, t, tname, a, k)
			if fatal(k.err) {
				return k.err
			}
		}
	}
	return nil
}

// fatal reports whether err ends the search rather than one network: a
// transform refused by the host's run guard (it does not preserve the
// function) would only make misleading children.
func fatal(err error) bool {
	var f interface{ Fatal() bool }
	return errors.As(err, &f) && f.Fatal()
}

// apply applies action a (the n-th of step si) to child i.
func (r *Runner) apply(ctx context.Context, stage, ep, i, si, n int, t sdk.Transform, tname string, a sdk.Action, k *child) error {
	res, err := t.Apply(ctx, sdk.ApplyRequest{Net: k.net, Action: a, Space: r.Exp.Space,
		Seed: seedOf(r.Search.Seed, int64(ep), int64(i), int64(si), int64(n)), Noise: r.Search.Noise},
		host{data: r.Data, seed: seedOf(r.Search.Seed, int64(ep), int64(i), int64(si), 7), in: k.net.Input})
	if err != nil {
		return fmt.Errorf("transform %s: %s: %w", tname, a, err)
	}
	if err := res.Net.Arch.Validate(res.Net.Input); err != nil {
		return fmt.Errorf("transform %s: %s produced an invalid network: %w", tname, a, err)
	}
	for _, d := range res.Diagnostics {
		r.emit(Progress{Stage: stage, Episode: ep, Message: fmt.Sprintf("episode %d network %d: %s: %s", ep, i+1, a, d)})
	}
	k.net = res.Net
	k.actions = append(k.actions, a.String())
	return nil
}

// plan gives every child its record and returns the jobs of those that
// need training (jobKid[j] is job j's child). A child recorded by an
// interrupted run of this episode keeps that record; a failed one is
// recorded failed; one whose architecture this search already trained
// reuses its accuracy.
func (r *Runner) plan(stage, ep int, start sdk.Network, kids []child) (jobs []Job, jobKid []int) {
	for i := range kids {
		k := &kids[i]
		id := r.sampled + i + 1
		k.rec = store.Record{ID: id, Kind: store.KindSample, Stage: stage, Episode: ep, Index: i, Parent: start.Arch.Hash(),
			Actions: k.actions, Arch: k.net.Arch.String(), Hash: k.net.Arch.Hash(), Depth: k.net.Arch.Depth(),
			Epochs: r.Exp.Child.Epochs, RewardSeeds: r.rewardSeeds()}
		if g, err := ir.Lower(k.net.Arch, k.net.Input); err == nil {
			k.rec.Params, k.rec.MAdds = g.Cost()
		}
		if old, ok := r.resumed[[2]int{ep, i}]; ok && old.Arch == k.rec.Arch {
			k.rec, k.resumed = old, true
			r.settled(old)
			continue
		}
		if k.err != nil {
			k.rec.Status, k.rec.Error = store.StatusFailed, k.err.Error()
			continue
		}
		if acc, ok := r.cache[k.rec.Arch]; ok {
			k.rec.Status, k.rec.ValAcc = store.StatusCached, acc
			continue
		}
		tr := r.Exp.Child
		tr.Seed = r.dataSeed(stage)
		jobs = append(jobs, Job{ID: id, Arch: k.net.Arch, Input: k.net.Input, Weights: k.net.Weights, Training: tr})
		jobKid = append(jobKid, i)
	}
	return jobs, jobKid
}

// settled notes a child's final record: the best accuracy so far.
func (r *Runner) settled(rec store.Record) {
	if rec.Status != store.StatusFailed && rec.ValAcc > r.best {
		r.best = rec.ValAcc
	}
}

// train evaluates the jobs and records each child as its result arrives,
// with a checkpoint of the trained weights (Outcome.Weights) when it is
// the best of the stage so far. A failed write (record or checkpoint)
// stops the search at the end of the episode with its error; the network
// whose write failed is not recorded, so a resume trains it again and
// redoes the write.
func (r *Runner) train(ctx context.Context, stage, stages, ep int, kids []child, jobs []Job, jobKid []int) error {
	var writeErr error
	r.scorer().Evaluate(ctx, jobs, func(j int, o Outcome) {
		k := &kids[jobKid[j]]
		rec := &k.rec
		rec.Seconds = o.Duration.Seconds()
		if o.Err != nil {
			if errors.Is(o.Err, context.Canceled) {
				return // not a result: the run is being stopped
			}
			rec.Status, rec.Error = store.StatusFailed, o.Err.Error()
		} else {
			rec.Status, rec.ValAcc = store.StatusOK, o.Acc
			// Virtual scores come without weights: the checkpoint then holds
			// the architecture alone, so multi-stage dry runs go on.
			if r.Ckpt != nil && o.Acc > r.stageBest {
				if err := r.saveChild(rec, sdk.Network{Arch: k.net.Arch, Input: k.net.Input, Weights: o.Weights}, o.Acc); err != nil {
					writeErr = cmp.Or(writeErr, err)
					rec.Status = "" // not done: redone on resume
					return
				}
			}
		}
		if err := r.Store.Append(*rec); err != nil {
			writeErr = cmp.Or(writeErr, fmt.Errorf("network %d: recording it: %w", rec.ID, err))
			rec.Status = ""
			return
		}
		r.settled(*rec) // so the line printed for this network shows it
		r.emit(Progress{Stage: stage, Stages: stages, Episode: ep, Last: rec})
	})
	if writeErr != nil {
		return writeErr
	}
	return ctx.Err()
}

// saveChild writes a trained child's checkpoint and notes it in rec.
func (r *Runner) saveChild(rec *store.Record, net sdk.Network, acc float64) error {
	rec.Weights = filepath.Join("checkpoints", fmt.Sprintf("net-%04d.safetensors", rec.ID))
	if err := r.Ckpt.Save(filepath.Join(r.Store.Dir, rec.Weights), net, map[string]string{"val_acc": fmt.Sprint(acc)}); err != nil {
		return fmt.Errorf("network %d: saving its checkpoint: %w", rec.ID, err)
	}
	rec.WeightsSHA256 = r.hashOf(rec.Weights)
	r.stageBest = acc
	return nil
}

// observe shows the controller the episode's accuracies and saves its state
// with the search's position, after which the episode counts as done.
func (r *Runner) observe(ctx context.Context, stage, ep int, kids []child) error {
	accs := make([]float64, len(kids))
	fails := make([]bool, len(kids))
	for i, k := range kids {
		accs[i], fails[i] = k.rec.ValAcc, k.rec.Status == store.StatusFailed
		if k.rec.Status == store.StatusOK {
			r.cache[k.rec.Arch] = k.rec.ValAcc
		}
	}
	if !slices.Contains(fails, false) && len(kids) > 0 {
		msg := fmt.Sprintf("every network of episode %d failed; the first: %s", ep, kids[0].rec.Error)
		if r.PluginLog != "" {
			msg += fmt.Sprintf(" (plugin output, stack traces included, is in %s)", r.PluginLog)
		}
		r.emit(Progress{Stage: stage, Episode: ep, Message: msg})
	}
	if err := r.Controller.Observe(ctx, sdk.ObserveRequest{Episode: ep, Accuracies: accs, Failed: fails}); err != nil {
		return fmt.Errorf("controller %s: observe: %w", r.Search.Controller, err)
	}
	r.sampled += len(kids)
	state, err := r.Controller.Save(ctx)
	if err != nil {
		return fmt.Errorf("controller %s: save: %w", r.Search.Controller, err)
	}
	return r.Store.SaveController(store.ControllerState{Stage: stage, Episode: ep, Sampled: r.sampled, State: state.Data})
}

// dataSeed is the data-order seed of every child of a stage and of its
// control: all see the same batches in the same order, so a child's gain
// over the control is the architecture's, not a luckier shuffle's.
func (r *Runner) dataSeed(stage int) int64 { return seedOf(r.Search.Seed, int64(stage), 99) }

// cloneWeights copies weights; nil (an architecture-only network, as in dry
// runs) stays nil so transforms know there is nothing to carry over.
func cloneWeights(w tensor.Map) tensor.Map {
	if w == nil {
		return nil
	}
	return w.Clone()
}

// control trains the identity child of a stage once: its start network with
// the child schedule and the children's data order. It is recorded (kind
// "control") but never shown to the controller nor counted in the budget; a
// resumed run finds the record and does not train it again.
func (r *Runner) control(ctx context.Context, stage, stages int, start sdk.Network) error {
	if !r.Search.Control {
		return nil
	}
	for _, rec := range r.Store.Records() {
		if rec.Kind == store.KindControl && rec.Stage == stage {
			return nil
		}
	}
	tr := r.Exp.Child
	tr.Seed = r.dataSeed(stage)
	r.emit(Progress{Stage: stage, Stages: stages, Message: fmt.Sprintf("control: training the start network of stage %d for %d epochs with the child schedule", stage, tr.Epochs)})
	// Control jobs have negative IDs: they are no sampled network.
	out := r.scorer().Evaluate(ctx, []Job{{ID: -stage, Arch: start.Arch, Input: start.Input, Weights: cloneWeights(start.Weights), Training: tr}}, nil)
	o := out[0]
	if err := ctx.Err(); err != nil {
		return err
	}
	if errors.Is(o.Err, context.Canceled) {
		return o.Err
	}
	rec := store.Record{Kind: store.KindControl, Stage: stage, Parent: start.Arch.Hash(), Arch: start.Arch.String(), Hash: start.Arch.Hash(), RewardSeeds: r.rewardSeeds(),
		Depth: start.Arch.Depth(), Epochs: tr.Epochs, Seconds: o.Duration.Seconds(), Status: store.StatusOK, ValAcc: o.Acc}
	if g, err := ir.Lower(start.Arch, start.Input); err == nil {
		rec.Params, rec.MAdds = g.Cost()
	}
	msg := fmt.Sprintf("control (stage %d start retrained %d epochs): %.2f%%", stage, tr.Epochs, 100*o.Acc)
	if o.Err != nil {
		// A failed control is a result too (the start network diverged
		// under the child schedule): recorded, not retried.
		rec.Status, rec.Error, rec.ValAcc = store.StatusFailed, o.Err.Error(), 0
		msg = fmt.Sprintf("control (stage %d) failed: %v", stage, o.Err)
	}
	if err := r.Store.Append(rec); err != nil {
		return err
	}
	r.emit(Progress{Stage: stage, Stages: stages, Message: msg})
	return nil
}

// resumedStart returns stage's recorded start network (Weights nil when
// there is none yet), so a resumed run never retrains a stage start twice.
func (r *Runner) resumedStart(stage int) (sdk.Network, float64, error) {
	for _, rec := range r.Store.Records() {
		if rec.Kind == store.KindStageStart && rec.Stage == stage {
			net, err := r.loadRecorded(rec)
			return net, rec.ValAcc, err
		}
	}
	return sdk.Network{}, 0, nil
}

// nextStart retrains the stage's best network and records it as the next
// stage's start point.
func (r *Runner) nextStart(ctx context.Context, stage int, st experiment.Stage) (sdk.Network, float64, error) {
	var best *store.Record
	recs := r.Store.Records()
	for i := range recs {
		rec := &recs[i]
		if rec.Kind == store.KindSample && rec.Stage == stage && rec.Status == store.StatusOK && rec.Weights != "" &&
			(best == nil || rec.ValAcc > best.ValAcc) {
			best = rec
		}
	}
	if best == nil {
		return sdk.Network{}, 0, fmt.Errorf("stage %d produced no usable network to start stage %d from", stage, stage+1)
	}
	net, err := r.loadRecorded(*best)
	if err != nil {
		return sdk.Network{}, 0, err
	}
	acc := best.ValAcc
	r.emit(Progress{Stage: stage, Message: fmt.Sprintf("stage %d done: retraining network %d (%.2f%%) for %d epochs", stage, best.ID, 100*acc, st.RetrainEpochs)})
	if st.RetrainEpochs > 0 {
		tr := r.Exp.Child
		tr.Epochs = st.RetrainEpochs
		tr.Seed = seedOf(r.Search.Seed, int64(stage), 1234)
		out := r.Eval.Evaluate(ctx, []Job{{ID: best.ID, Arch: net.Arch, Input: net.Input, Weights: net.Weights, Training: tr}}, nil)
		if out[0].Err != nil {
			return sdk.Network{}, 0, fmt.Errorf("retraining the best network of stage %d: %w", stage, out[0].Err)
		}
		acc, net.Weights = out[0].Acc, out[0].Weights
	}
	rec := store.Record{Kind: store.KindStageStart, Stage: stage + 1, Arch: net.Arch.String(), Hash: net.Arch.Hash(),
		Depth: net.Arch.Depth(), ValAcc: acc, Status: store.StatusOK, Epochs: st.RetrainEpochs,
		Weights: filepath.Join("checkpoints", fmt.Sprintf("stage-%d-start.safetensors", stage+1))}
	if g, err := ir.Lower(net.Arch, net.Input); err == nil {
		rec.Params, rec.MAdds = g.Cost()
	}
	if err := r.Ckpt.Save(filepath.Join(r.Store.Dir, rec.Weights), net, map[string]string{"val_acc": fmt.Sprint(acc)}); err != nil {
		return sdk.Network{}, 0, err
	}
	rec.WeightsSHA256 = r.hashOf(rec.Weights)
	if err := r.Store.Append(rec); err != nil {
		return sdk.Network{}, 0, err
	}
	return net, acc, nil
}

// Top returns the k best distinct architectures sampled so far, best first.
func Top(recs []store.Record, k int) []store.Record {
	var out []store.Record
	seen := map[string]bool{}
	for _, rec := range recs {
		if rec.Kind == store.KindSample && rec.Status == store.StatusOK && !seen[rec.Arch] {
			seen[rec.Arch] = true
			out = append(out, rec)
		}
	}
	// Ties go to the earlier-sampled network, not the earlier-finished one:
	// with parallel or remote evaluators the finishing order varies.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ValAcc != out[j].ValAcc {
			return out[i].ValAcc > out[j].ValAcc
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > k {
		out = out[:k]
	}
	return out
}

// hashOf is the SHA-256 of a checkpoint just written under the run
// directory ("" when the Checkpoints keep no file there, as in tests).
func (r *Runner) hashOf(rel string) string {
	h, _ := store.FileSHA256(filepath.Join(r.Store.Dir, rel))
	return h
}

// loadRecorded loads a record's checkpoint after checking it is the file
// the run wrote (a replaced or damaged checkpoint is refused).
func (r *Runner) loadRecorded(rec store.Record) (sdk.Network, error) {
	path := filepath.Join(r.Store.Dir, rec.Weights)
	if err := store.VerifyRecorded(path, rec.WeightsSHA256, fmt.Sprintf("checkpoint of network %d", rec.ID)); err != nil {
		return sdk.Network{}, err
	}
	return r.Ckpt.Load(path)
}

// scorer is the evaluator that scores children and controls: the mean of
// reward_seeds trainings when the search asks for more than one.
func (r *Runner) scorer() Evaluator {
	if r.Search.Seeds() > 1 {
		return MeanOfSeeds{Eval: r.Eval, Seeds: r.Search.Seeds()}
	}
	return r.Eval
}

// rewardSeeds is what records say of their scoring: 0 (omitted) for one
// training, so records of such runs stay as they were.
func (r *Runner) rewardSeeds() int {
	if n := r.Search.Seeds(); n > 1 {
		return n
	}
	return 0
}
