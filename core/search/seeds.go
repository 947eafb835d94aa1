package search

import (
	"context"
	"sync"
)

// MeanOfSeeds scores each job on the mean validation accuracy of Seeds
// trainings that differ only in their data order (reward_seeds = R): seed 1
// is the job's own, the others derive from it, so every child of a stage
// and its control still share their orders and gains stay paired. The
// job's weights end as trained with seed 1; the duration is the sum. A job
// fails if any of its trainings fails. Full jobs (final training) and
// Seeds <= 1 pass through unchanged.
type MeanOfSeeds struct {
	Eval  Evaluator
	Seeds int
}

// ExtraSeed is the data-order seed of training k (2, 3, ...) of a job
// whose own seed is seed.
func ExtraSeed(seed int64, k int) int64 { return seedOf(seed, int64(k), 0x5eed) }

// Evaluate runs Seeds trainings per job through the inner evaluator.
func (m MeanOfSeeds) Evaluate(ctx context.Context, jobs []Job, done func(int, Outcome)) []Outcome {
	if m.Seeds <= 1 {
		return m.Eval.Evaluate(ctx, jobs, done)
	}
	var all []Job
	var owner []int
	var first []bool // training k = 1 of its job: the job's own weights
	for i, j := range jobs {
		n := m.Seeds
		if j.Full {
			n = 1
		}
		// Copies are taken before anything trains: seed 1 trains the job's
		// own weights in place.
		for k := 1; k <= n; k++ {
			c := j
			if k > 1 {
				c.Weights, c.Training.Seed = cloneWeights(j.Weights), ExtraSeed(j.Training.Seed, k)
			}
			all = append(all, c)
			owner = append(owner, i)
			first = append(first, k == 1)
		}
	}
	out := make([]Outcome, len(jobs))
	left := make([]int, len(jobs))
	sum := make([]float64, len(jobs))
	for _, i := range owner {
		left[i]++
	}
	var mu sync.Mutex
	m.Eval.Evaluate(ctx, all, func(a int, o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		i := owner[a]
		r := &out[i]
		r.Duration += o.Duration
		switch {
		case o.Err != nil && r.Err == nil:
			r.Err = o.Err
		case o.Err == nil:
			sum[i] += o.Acc
		}
		if first[a] {
			r.Weights = o.Weights
		}
		if left[i]--; left[i] == 0 {
			n := float64(m.Seeds)
			if jobs[i].Full {
				n = 1
			}
			if r.Err == nil {
				r.Acc = sum[i] / n
			} else {
				r.Acc, r.Weights = 0, nil
			}
			if done != nil {
				done(i, *r)
			}
		}
	})
	for i := range out {
		if left[i] > 0 && out[i].Err == nil { // the inner evaluator dropped a training (stopped)
			out[i] = Outcome{Err: context.Canceled}
		}
	}
	return out
}
