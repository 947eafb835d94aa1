package search

import (
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
		case rec.Kind == "sample" && rec.Episode < firstEpisode:
			if rec.Status == store.StatusOK {
				r.cache[rec.Arch] = rec.ValAcc
			}
			if rec.Status != store.StatusFailed && rec.ValAcc > r.best {
				r.best = rec.ValAcc
			}
		case rec.Kind == "sample":
			r.resumed[[2]int{rec.Episode, rec.Index}] = rec
		case rec.Kind == "stage-start" && rec.Stage <= firstStage && rec.Stage > 1:
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
			if rec.Kind == "sample" && rec.Stage == si && rec.Weights != "" && rec.ValAcc > r.stageBest {
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
					if rec.Kind == "sample" && rec.Episode == episode {
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

// episode samples m networks from start.
func (r *Runner) episode(ctx context.Context, stage, stages, ep, m int, start sdk.Network) error {
	r.emit(Progress{Stage: stage, Stages: stages, Episode: ep, Message: fmt.Sprintf("episode %d: %d networks", ep, m)})
	nets := make([]sdk.Network, m)
	actions := make([][]string, m)
	failed := make([]error, m)
	for i := range nets {
		nets[i] = sdk.Network{Arch: start.Arch.Clone(), Input: start.Input, Weights: cloneWeights(start.Weights)}
	}
	for si, tname := range r.steps() {
		t := r.Transforms[tname]
		req := sdk.ProposeRequest{Episode: ep, Step: si, Transform: tname, Nets: make([]sdk.Network, m), Candidates: make([][]sdk.Action, m)}
		for i := range nets {
			req.Nets[i] = sdk.Network{Arch: nets[i].Arch, Input: nets[i].Input} // controllers need no weights
			if failed[i] != nil {
				continue
			}
			c, err := t.Actions(ctx, sdk.ActionsRequest{Net: nets[i], Space: r.Exp.Space})
			if err != nil {
				failed[i] = fmt.Errorf("transform %s: listing actions: %w", tname, err)
				continue
			}
			req.Candidates[i] = c.Actions
		}
		prop, err := r.Controller.Propose(ctx, req)
		props := prop.Actions
		if err != nil {
			return fmt.Errorf("controller %s: propose (episode %d, step %d): %w", r.Search.Controller, ep, si+1, err)
		}
		if len(props) != m {
			return fmt.Errorf("controller %s proposed for %d networks, want %d", r.Search.Controller, len(props), m)
		}
		for i := range nets {
			if failed[i] != nil {
				continue
			}
			for k, a := range props[i] {
				if !slices.ContainsFunc(req.Candidates[i], a.Equal) {
					failed[i] = fmt.Errorf("controller %s proposed %s, which is not a valid action of %s on %s", r.Search.Controller, a, tname, nets[i].Arch)
					break
				}
				res, err := t.Apply(ctx, sdk.ApplyRequest{Net: nets[i], Action: a, Space: r.Exp.Space,
					Seed: seedOf(r.Search.Seed, int64(ep), int64(i), int64(si), int64(k)), Noise: r.Search.Noise},
					host{data: r.Data, seed: seedOf(r.Search.Seed, int64(ep), int64(i), int64(si), 7), in: nets[i].Input})
				if err != nil {
					failed[i] = fmt.Errorf("transform %s: %s: %w", tname, a, err)
					break
				}
				if err := res.Net.Arch.Validate(res.Net.Input); err != nil {
					failed[i] = fmt.Errorf("transform %s: %s produced an invalid network: %w", tname, a, err)
					break
				}
				for _, d := range res.Diagnostics {
					r.emit(Progress{Stage: stage, Episode: ep, Message: fmt.Sprintf("episode %d network %d: %s: %s", ep, i+1, a, d)})
				}
				nets[i] = res.Net
				actions[i] = append(actions[i], a.String())
			}
		}
	}
	// Evaluate the children that need training.
	recs := make([]store.Record, m)
	var jobs []Job
	var jobIdx []int
	for i := range nets {
		id := r.sampled + i + 1
		rec := store.Record{ID: id, Kind: "sample", Stage: stage, Episode: ep, Index: i, Parent: start.Arch.Hash(),
			Actions: actions[i], Arch: nets[i].Arch.String(), Hash: nets[i].Arch.Hash(), Depth: nets[i].Arch.Depth(),
			Epochs: r.Exp.Child.Epochs, RewardSeeds: r.rewardSeeds()}
		if g, err := ir.Lower(nets[i].Arch, nets[i].Input); err == nil {
			rec.Params, rec.MAdds = g.Cost()
		}
		recs[i] = rec
		if old, ok := r.resumed[[2]int{ep, i}]; ok && old.Arch == rec.Arch {
			recs[i] = old
			continue
		}
		if failed[i] != nil {
			recs[i].Status, recs[i].Error = store.StatusFailed, failed[i].Error()
			continue
		}
		if acc, ok := r.cache[rec.Arch]; ok {
			recs[i].Status, recs[i].ValAcc = store.StatusCached, acc
			continue
		}
		tr := r.Exp.Child
		tr.Seed = r.dataSeed(stage)
		jobs = append(jobs, Job{ID: id, Arch: nets[i].Arch, Input: nets[i].Input, Weights: nets[i].Weights, Training: tr})
		jobIdx = append(jobIdx, i)
	}
	// Records that need no training are durable at once.
	for i := range recs {
		if _, resumed := r.resumed[[2]int{ep, i}]; resumed && recs[i].Arch == r.resumed[[2]int{ep, i}].Arch {
			continue
		}
		if recs[i].Status != "" {
			if err := r.Store.Append(recs[i]); err != nil {
				return fmt.Errorf("network %d: recording it: %w", recs[i].ID, err)
			}
			if recs[i].Status != store.StatusFailed && recs[i].ValAcc > r.best {
				r.best = recs[i].ValAcc
			}
			r.emit(Progress{Stage: stage, Stages: stages, Episode: ep, Last: &recs[i]})
		}
	}
	// A failed write (record or checkpoint) stops the search at the end of
	// the episode with its error; the network whose write failed is not
	// recorded, so a resume trains it again and redoes the write.
	var writeErr error
	r.scorer().Evaluate(ctx, jobs, func(k int, o Outcome) {
		i := jobIdx[k]
		rec := &recs[i]
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
				rec.Weights = filepath.Join("checkpoints", fmt.Sprintf("net-%04d.safetensors", rec.ID))
				if err := r.Ckpt.Save(filepath.Join(r.Store.Dir, rec.Weights), nets[i], map[string]string{"val_acc": fmt.Sprint(o.Acc)}); err != nil {
					if writeErr == nil {
						writeErr = fmt.Errorf("network %d: saving its checkpoint: %w", rec.ID, err)
					}
					rec.Status = "" // not done: redone on resume
					return
				}
				rec.WeightsSHA256 = r.hashOf(rec.Weights)
				r.stageBest = o.Acc
			}
		}
		if err := r.Store.Append(*rec); err != nil {
			if writeErr == nil {
				writeErr = fmt.Errorf("network %d: recording it: %w", rec.ID, err)
			}
			rec.Status = ""
			return
		}
		if rec.Status != store.StatusFailed && rec.ValAcc > r.best {
			r.best = rec.ValAcc // so the line printed for this network shows it
		}
		r.emit(Progress{Stage: stage, Stages: stages, Episode: ep, Last: rec})
	})
	if writeErr != nil {
		return writeErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	accs := make([]float64, m)
	fails := make([]bool, m)
	for i, rec := range recs {
		accs[i], fails[i] = rec.ValAcc, rec.Status == store.StatusFailed
		if rec.Status == store.StatusOK {
			r.cache[rec.Arch] = rec.ValAcc
		}
		if !fails[i] && rec.ValAcc > r.best {
			r.best = rec.ValAcc
		}
	}
	if err := r.Controller.Observe(ctx, sdk.ObserveRequest{Episode: ep, Accuracies: accs, Failed: fails}); err != nil {
		return fmt.Errorf("controller %s: observe: %w", r.Search.Controller, err)
	}
	r.sampled += m
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
		if rec.Kind == "control" && rec.Stage == stage {
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
	rec := store.Record{Kind: "control", Stage: stage, Parent: start.Arch.Hash(), Arch: start.Arch.String(), Hash: start.Arch.Hash(), RewardSeeds: r.rewardSeeds(),
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
		if rec.Kind == "stage-start" && rec.Stage == stage {
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
		if rec.Kind == "sample" && rec.Stage == stage && rec.Status == store.StatusOK && rec.Weights != "" &&
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
		acc = out[0].Acc
	}
	rec := store.Record{Kind: "stage-start", Stage: stage + 1, Arch: net.Arch.String(), Hash: net.Arch.Hash(),
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
		if rec.Kind == "sample" && rec.Status == store.StatusOK && !seen[rec.Arch] {
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
