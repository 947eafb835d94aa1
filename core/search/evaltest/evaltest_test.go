package evaltest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/search"
)

func local(t *testing.T, env Env) search.Evaluator {
	be, err := engine.Open(engine.Default, engine.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &search.Local{Data: env.Data, Workers: 2, Backend: be}
}

func TestLocal(t *testing.T) { Run(t, Options{}, local) }

func TestVirtual(t *testing.T) {
	Run(t, Options{ScoresOnly: true}, func(t *testing.T, env Env) search.Evaluator { return &search.Virtual{} })
}

// recorder is a T that keeps what a check reports.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }

// broken wraps an evaluator and breaks one rule of the contract.
type broken struct {
	search.Evaluator
	twice, noWeights, reverse, poison bool
}

func (b broken) Evaluate(ctx context.Context, jobs []search.Job, done func(int, search.Outcome)) []search.Outcome {
	out := b.Evaluator.Evaluate(ctx, jobs, nil)
	for i := range out {
		if b.noWeights {
			out[i].Weights = nil
		}
		if b.poison && out[i].Err != nil {
			for k := range out {
				out[k].Err = out[i].Err
			}
		}
	}
	if b.reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	for i, o := range out {
		if done != nil {
			done(i, o)
			if b.twice {
				done(i, o)
			}
		}
	}
	return out
}

// TestChecksFailOnBrokenEvaluators: each check catches the evaluator that
// breaks its rule (a suite that cannot fail proves nothing).
func TestChecksFailOnBrokenEvaluators(t *testing.T) {
	env := NewEnv(t)
	good := local(t, env)
	for _, c := range []struct {
		check string
		ev    search.Evaluator
		want  string
	}{
		{"OutcomesInJobOrder", broken{Evaluator: good, twice: true}, "done called 2 times"},
		{"OutcomesInJobOrder", broken{Evaluator: good, reverse: true}, "in the batch"},
		{"TrainedWeightsInOutcome", broken{Evaluator: good, noWeights: true}, "no trained weights"},
		{"TrainedWeightsInOutcome", &search.Virtual{}, "untrained weights"},
		{"FailureStaysAlone", broken{Evaluator: good, poison: true}, "beside a failing one"},
		{"FailureStaysAlone", &search.Virtual{}, "no error"},
	} {
		var fn func(T, Env, search.Evaluator, Options)
		for _, k := range checks {
			if k.name == c.check {
				fn = k.fn
			}
		}
		r := &recorder{}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); fn(r, env, c.ev, Options{}) }()
		wg.Wait()
		if all := strings.Join(r.msgs, "\n"); !strings.Contains(all, c.want) {
			t.Errorf("%s on %T: want a failure saying %q, got %q", c.check, c.ev, c.want, all)
		}
	}
}
