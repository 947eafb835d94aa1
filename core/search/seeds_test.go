package search

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/eas-go/eas/core/tensor"
)

// seedScore scores a job by its data-order seed (seed%100/100) and fails
// the seed named in failSeed.
type seedScore struct {
	seen     []Job
	failSeed int64
}

func (s *seedScore) Evaluate(_ context.Context, jobs []Job, done func(int, Outcome)) []Outcome {
	out := make([]Outcome, len(jobs))
	for i, j := range jobs {
		s.seen = append(s.seen, j)
		out[i] = Outcome{Acc: float64(j.Training.Seed%100) / 100, Weights: j.Weights, Duration: time.Second}
		if j.Training.Seed == s.failSeed {
			out[i] = Outcome{Err: errors.New("diverged"), Duration: time.Second}
		}
		if done != nil {
			done(i, out[i])
		}
	}
	return out
}

func seedJobs() []Job {
	w := func() tensor.Map { return tensor.Map{"l1.fc.weight": tensor.New(2, 2)} }
	j := []Job{{ID: 1, Weights: w()}, {ID: 2, Weights: w()}, {ID: 3, Weights: w(), Full: true}}
	for i := range j {
		j[i].Training.Seed = int64(10 * (i + 1))
	}
	return j
}

func TestMeanOfSeeds(t *testing.T) {
	// One seed: the inner evaluator sees exactly the jobs.
	inner := &seedScore{}
	jobs := seedJobs()
	one := MeanOfSeeds{Eval: inner, Seeds: 1}.Evaluate(context.Background(), jobs, nil)
	if !reflect.DeepEqual(inner.seen, jobs) || one[0].Acc != 0.10 || one[1].Acc != 0.20 {
		t.Errorf("seeds = 1 changed the jobs or scores: %+v", one)
	}
	// Three seeds: seed 1 is the job's own (its weights trained in place),
	// the others derived and on copies; the score is the mean.
	inner = &seedScore{}
	jobs = seedJobs()
	var calls []int
	out := MeanOfSeeds{Eval: inner, Seeds: 3}.Evaluate(context.Background(), jobs, func(i int, o Outcome) { calls = append(calls, i) })
	if len(inner.seen) != 3+3+1 || len(calls) != 3 {
		t.Fatalf("%d trainings, %d done calls; want 7 (the full job once) and 3", len(inner.seen), len(calls))
	}
	for i := 0; i < 2; i++ {
		s := jobs[i].Training.Seed
		seeds := []int64{s, ExtraSeed(s, 2), ExtraSeed(s, 3)}
		want := 0.0
		for k, sd := range seeds {
			got := inner.seen[3*i+k]
			if got.Training.Seed != sd || got.ID != jobs[i].ID {
				t.Errorf("job %d training %d: seed %d id %d, want %d %d", i, k+1, got.Training.Seed, got.ID, sd, jobs[i].ID)
			}
			same := reflect.ValueOf(got.Weights).Pointer() == reflect.ValueOf(jobs[i].Weights).Pointer()
			if same != (k == 0) {
				t.Errorf("job %d training %d: shares the job's weights = %v", i, k+1, same)
			}
			want += float64(sd%100) / 100 / 3
		}
		if math.Abs(out[i].Acc-want) > 1e-12 || out[i].Duration != 3*time.Second ||
			reflect.ValueOf(out[i].Weights).Pointer() != reflect.ValueOf(jobs[i].Weights).Pointer() {
			t.Errorf("job %d: %+v, want acc %v over 3 s with its own weights", i, out[i], want)
		}
	}
	if out[2].Acc != 0.30 || out[2].Duration != time.Second {
		t.Errorf("full job: %+v", out[2])
	}
	// A failed training fails its job, not the others.
	inner = &seedScore{failSeed: ExtraSeed(20, 3)}
	out = MeanOfSeeds{Eval: inner, Seeds: 3}.Evaluate(context.Background(), seedJobs(), nil)
	if out[0].Err != nil || out[1].Err == nil || out[1].Weights != nil {
		t.Errorf("failure: %+v", out)
	}
}
