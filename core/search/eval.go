package search

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"runtime/debug"
	"sync"
	"time"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
)

// Data gives the evaluator and the transforms access to the data set.
type Data interface {
	// Train is the search's training split, shuffled (and augmented) per seed.
	Train(seed int64, batch int) train.Source
	// Val is the held-out validation split.
	Val(batch int) train.Source
	// Full is training plus validation, for final training.
	Full(seed int64, batch int) train.Source
	// Test is the test set.
	Test(batch int) train.Source
	// Batch returns n normalised training images for transforms.
	Batch(n int, seed int64) (*tensor.Tensor, error)
}

// Job is one network to train and score.
type Job struct {
	ID       int
	Arch     ir.Arch
	Input    ir.Shape
	Weights  tensor.Map // start weights (reused from the parent); nil for architecture-only networks (dry runs)
	Training experiment.Training
	Full     bool // train on training + validation data and score on the test set
}

// Outcome of a Job.
type Outcome struct {
	Acc      float64    // validation accuracy (test accuracy for Full jobs), in [0, 1]
	Weights  tensor.Map // the trained weights (see Evaluator); nil for failures
	Duration time.Duration
	Err      error
}

// Evaluator trains and scores networks. The contract, which
// core/search/evaltest checks for every implementation:
//
//   - Evaluate returns one Outcome per job, in job order, and calls done
//     (when not nil) exactly once per job with that Outcome as it is known,
//     never two calls at once. No jobs: no outcomes, no calls.
//   - A successful Outcome carries the trained weights in Weights, with the
//     names and shapes of Job.Weights. Whether the evaluator trains
//     Job.Weights in place, a copy, or on another machine is its own
//     business: callers read trained weights only from Outcome.Weights and
//     never from the Job. An evaluator that does not train (Virtual)
//     returns the job's weights unchanged.
//   - A job that cannot be trained (malformed weights, divergence, a lost
//     worker) gets Err, and no other job's result is lost because of it.
//   - The same job (same weights, architecture and training) gets the same
//     accuracy: resumes replay episodes and rely on it.
//   - After ctx is canceled Evaluate returns promptly; a job it did not
//     finish gets an Err wrapping ctx's error.
//
// New evaluators register with core/pipeline (pipeline.RegisterEvaluator)
// so every front end can choose them by name.
type Evaluator interface {
	Evaluate(ctx context.Context, jobs []Job, done func(i int, o Outcome)) []Outcome
}

// Local trains jobs on this machine with a pool of Workers goroutines.
type Local struct {
	Data    Data
	Workers int
	// Backend runs the networks (nil: the default engine with default
	// options).
	Backend engine.Backend
}

// Evaluate runs the jobs, Workers at a time; results come back in job order.
func (l *Local) Evaluate(ctx context.Context, jobs []Job, done func(int, Outcome)) []Outcome {
	out := make([]Outcome, len(jobs))
	w := max(1, l.Workers)
	sem := make(chan struct{}, w)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			o := l.one(ctx, jobs[i])
			mu.Lock()
			out[i] = o
			if done != nil {
				done(i, o)
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return out
}

// one trains a single job, turning panics (out of memory in a slice
// allocation, a bug) into errors so the search goes on.
func (l *Local) one(ctx context.Context, j Job) (o Outcome) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			o = Outcome{Err: fmt.Errorf("training network %d panicked: %v\n%s", j.ID, r, debug.Stack())}
		}
		o.Duration = time.Since(start)
	}()
	g, err := ir.Lower(j.Arch, j.Input)
	if err != nil {
		return Outcome{Err: err}
	}
	cfg := train.Config{Training: j.Training, Backend: l.Backend}
	src, val := l.Data.Train(j.Training.Seed, j.Training.Batch), l.Data.Val(256)
	if j.Full {
		src, val = l.Data.Full(j.Training.Seed, j.Training.Batch), l.Data.Test(256)
	}
	res, err := train.Train(ctx, g, j.Weights, src, val, cfg, nil)
	if err != nil {
		return Outcome{Err: err}
	}
	if math.IsNaN(res.ValAcc) {
		return Outcome{Err: train.ErrDiverged}
	}
	return Outcome{Acc: res.ValAcc, Weights: j.Weights}
}

// Virtual scores a network by a deterministic function of its architecture,
// so whole searches run in seconds (tests, dry runs). The score rises
// smoothly with log-parameters and depth up to a plateau, plus a small
// hash-based perturbation, and lies in [0.5, 0.95].
type Virtual struct {
	Delay time.Duration // artificial time per network (tests of crash and resume)
	// FailEvery makes every n-th job fail (n > 0), to exercise failure paths.
	FailEvery int
}

// Evaluate scores each job.
func (v *Virtual) Evaluate(ctx context.Context, jobs []Job, done func(int, Outcome)) []Outcome {
	out := make([]Outcome, len(jobs))
	for i, j := range jobs {
		if v.Delay > 0 {
			select {
			case <-time.After(v.Delay):
			case <-ctx.Done():
				out[i] = Outcome{Err: ctx.Err()}
				continue
			}
		}
		if v.FailEvery > 0 && j.ID%v.FailEvery == 0 {
			out[i] = Outcome{Err: errors.New("virtual evaluator: injected failure")}
		} else {
			out[i] = Outcome{Acc: VirtualScore(j.Arch, j.Input), Weights: j.Weights, Duration: v.Delay}
		}
		if done != nil {
			done(i, out[i])
		}
	}
	return out
}

// VirtualScore is the Virtual evaluator's deterministic score.
func VirtualScore(a ir.Arch, in ir.Shape) float64 {
	g, err := ir.Lower(a, in)
	if err != nil {
		return 0.5
	}
	p, _ := g.Cost()
	lp := math.Log10(float64(p) + 1)
	d := float64(a.Depth())
	s := 0.5 + 0.4/(1+math.Exp(-(lp-5)*1.5)) + 0.05*(1-math.Exp(-d/8))
	h := fnv.New32a()
	h.Write([]byte(a.String()))
	s += (float64(h.Sum32()%1000)/1000 - 0.5) * 0.02
	return math.Max(0.5, math.Min(0.95, s))
}
