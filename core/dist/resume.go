package dist

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Epoch checkpoints: a worker uploads the parameters and optimiser state
// of a training in progress to the output store as resume/<job id>, at
// most every CheckpointEvery; a worker given a redelivered job continues
// from there (train.Config.StartEpoch and OptState), ending with the
// weights of an uninterrupted training: the loaders shuffle each epoch
// from (seed, epoch) and the schedule continues from the step count.
// Networks with dropout restart from epoch 0 (their random masks do not
// resume), as do jobs whose checkpoint is missing or unusable.

// DefaultCheckpointEvery is how often a training uploads its state.
const DefaultCheckpointEvery = 3 * time.Minute

const epochMeta = "eas_epoch"

// resumePrefix names a job's epoch checkpoints, resume/<id>/<epoch>-<delivery>:
// a new object each time (workers may not replace objects, which takes a
// purge), the driver removes them with the job.
func resumePrefix(id string) string { return "resume/" + id + "/" }

func resumable(g *ir.Graph) bool {
	for _, n := range g.Nodes {
		if n.Op == ir.OpDropout {
			return false
		}
	}
	return true
}

// epochSaver returns train.Config.OnEpoch for a job.
func (w *Worker) epochSaver(ctx context.Context, label, name string, job JobMsg, g *ir.Graph) func(int, func() (tensor.Map, tensor.Map, error)) error {
	every := w.CheckpointEvery
	if every == 0 {
		every = DefaultCheckpointEvery
	}
	last := time.Now()
	return func(done int, state func() (tensor.Map, tensor.Map, error)) error {
		if w.epochDelay > 0 {
			sleepCtx(ctx, w.epochDelay)
		}
		if every < 0 || time.Since(last) < every {
			return nil
		}
		last = time.Now()
		params, opt, err := state()
		if err != nil {
			return err
		}
		all := params.Clone()
		for k, v := range opt {
			all[k] = v
		}
		b, err := checkpoint.Encode(g.Arch, job.Input, all, map[string]string{epochMeta: strconv.Itoa(done)})
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			_, err = w.b.outputs.PutBytes(pctx, fmt.Sprintf("%s%06d-%s", resumePrefix(job.ID), done, name), b)
			cancel()
		}
		if err != nil {
			w.logf("%s: epoch checkpoint not stored: %v", label, err) // the training goes on
			return nil
		}
		w.logf("%s: checkpoint after epoch %d", label, done)
		return nil
	}
}

// resumeFrom reads the job's epoch checkpoint into weights; it returns the
// epochs done and the optimiser state, or 0 when there is none to use.
func (w *Worker) resumeFrom(ctx context.Context, label string, job JobMsg, g *ir.Graph, weights tensor.Map) (int, tensor.Map) {
	latest := ""
	if infos, err := w.b.outputs.List(ctx); err == nil {
		for _, in := range infos {
			if strings.HasPrefix(in.Name, resumePrefix(job.ID)) && in.Name > latest {
				latest = in.Name
			}
		}
	}
	if latest == "" {
		return 0, nil
	}
	b, err := w.b.outputs.GetBytes(ctx, latest)
	if err != nil {
		w.logf("%s: epoch checkpoint %s: %v: training from epoch 0", label, latest, err)
		return 0, nil
	}
	ck, err := checkpoint.Parse(b)
	if err == nil && ck.ArchString != g.Arch.String() {
		err = fmt.Errorf("of %s", ck.ArchString)
	}
	epoch := 0
	if err == nil {
		if epoch, err = strconv.Atoi(ck.Meta[epochMeta]); err == nil && (epoch < 1 || epoch >= job.Training.Epochs) {
			err = fmt.Errorf("epoch %d of %d", epoch, job.Training.Epochs)
		}
	}
	opt := tensor.Map{}
	params := tensor.Map{}
	if err == nil {
		for k, v := range ck.Params {
			if strings.HasPrefix(k, "momentum.") {
				opt[k] = v
			} else {
				params[k] = v
			}
		}
		for n, t := range weights {
			if p, ok := params[n]; !ok || !p.SameShape(t.Shape) {
				err = fmt.Errorf("tensor %s missing or misshaped", n)
				break
			}
		}
	}
	if err != nil {
		w.logf("%s: epoch checkpoint not used (%v): training from epoch 0", label, err)
		return 0, nil
	}
	for n, t := range weights {
		copy(t.Data, params[n].Data)
	}
	w.logf("%s: resuming after epoch %d from the last delivery's checkpoint", label, epoch)
	return epoch, opt
}
