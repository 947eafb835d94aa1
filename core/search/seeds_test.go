package search

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/core/store"
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

// A search with reward_seeds = 3 trains every child and the control three
// times (seed 1 the search's own order), scores them on the mean, and its
// records say so; reward_seeds = 1 records are as they were (no field).
func TestSearchRewardSeeds(t *testing.T) {
	for _, seeds := range []int{1, 3} {
		inner := &seedScore{}
		r := testRunner(t, t.TempDir(), inner, fcWider{})
		r.Search.Control, r.Search.RewardSeeds, r.Search.Budget = true, seeds, 4
		if err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		trained, own := 0, 0
		for _, j := range inner.seen {
			trained++
			if j.Training.Seed == r.dataSeed(1) {
				own++
			}
		}
		if trained != 5*seeds || own != 5 {
			t.Errorf("reward_seeds %d: %d trainings, %d with the search's order; want %d and 5", seeds, trained, own, 5*seeds)
		}
		s := r.dataSeed(1)
		want := float64(s%100) / 100
		if seeds == 3 {
			want = (float64(s%100) + float64(ExtraSeed(s, 2)%100) + float64(ExtraSeed(s, 3)%100)) / 300
		}
		for _, rec := range r.Store.Records() {
			if rec.Kind != store.KindSample && rec.Kind != store.KindControl {
				continue
			}
			wantField := 0
			if seeds > 1 {
				wantField = seeds
			}
			if rec.RewardSeeds != wantField || math.Abs(rec.ValAcc-want) > 1e-12 || rec.Seconds != float64(seeds) {
				t.Errorf("reward_seeds %d: record %+v, want acc %v over %d s", seeds, rec, want, seeds)
			}
			b, _ := json.Marshal(rec)
			if strings.Contains(string(b), "reward_seeds") != (seeds > 1) {
				t.Errorf("reward_seeds %d: record %s", seeds, b)
			}
		}
	}
}
