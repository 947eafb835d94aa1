package enginetest_test

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/engine/enginetest"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/tensor"
)

// fakeBackend is the CPU engine behind an adapter of its own that can be
// broken in one way at a time, to show that the suite catches each kind of
// bug. With no breakage it must pass everything.
type fakeBackend struct{ breakage string }

func (f fakeBackend) Name() string     { return "fake-" + f.breakage }
func (f fakeBackend) Describe() string { return "the CPU engine, broken: " + f.breakage }
func (f fakeBackend) Memory(g *ir.Graph, batch int) engine.Memory {
	return engine.Memory{Memory: g.Memory(batch, 1), Where: "host"}
}

var fakeSeeds atomic.Int64

func (f fakeBackend) Build(g *ir.Graph, params tensor.Map, c engine.ModelConfig) (engine.Model, error) {
	n, err := nn.BuildWith(g, params, c.MaxBatch, nn.Options{})
	if err != nil {
		return nil, err
	}
	n.Seed = c.Seed
	opt := c.Optimizer
	switch f.breakage {
	case "bn-momentum":
		n.BNMomentum = 0.2
	case "seed-ignored":
		n.Seed = 1
	case "nondeterministic":
		n.Seed = fakeSeeds.Add(1)
	case "no-nesterov":
		opt.Nesterov = false
	}
	return &fakeModel{Net: n, g: g, sgd: engine.NewSGD(g, opt), opt: opt, breakage: f.breakage}, nil
}

type fakeModel struct {
	*nn.Net
	g        *ir.Graph
	sgd      *engine.SGD
	opt      engine.Optimizer
	breakage string
	logits   *tensor.Tensor
}

func (m *fakeModel) MaxBatch() int { return m.Net.MaxBatch }

func (m *fakeModel) Forward(x *tensor.Tensor, train bool) error {
	if m.breakage == "eval-uses-batch-stats" {
		train = true
	}
	m.logits = m.Net.Forward(x, train)
	return nil
}

func (m *fakeModel) Logits() (*tensor.Tensor, error) { return m.logits, nil }

func (m *fakeModel) Loss(y []int32) (float64, int, error) {
	l, c := m.Net.Loss(y)
	return l, c, nil
}

func (m *fakeModel) Backward() error {
	m.Net.Backward()
	if m.breakage == "conv-weight-grad" {
		for name, g := range m.Grads() {
			if strings.HasSuffix(name, "conv.weight") {
				for i := range g {
					g[i] *= 1.05
				}
			}
		}
	}
	return nil
}

func (m *fakeModel) Step(lr float32) error {
	if m.breakage != "decay-everything" {
		m.sgd.Step(m.Params(), m.Grads(), lr)
		return nil
	}
	// Weight decay on biases and BN scales and shifts too.
	st := m.sgd.State()
	for _, p := range m.g.Params() {
		if !p.Trainable() {
			continue
		}
		w, g, v := m.Params()[p.Name].Data, m.Grads()[p.Name], st["momentum."+p.Name].Data
		for i := range w {
			gi := g[i] + m.opt.WeightDecay*w[i]
			v[i] = m.opt.Momentum*v[i] + gi
			w[i] -= lr * (gi + m.opt.Momentum*v[i])
		}
	}
	m.sgd.SetState(st)
	return nil
}

func (m *fakeModel) ReadParams(dst tensor.Map) error {
	for _, p := range m.g.Params() {
		if m.breakage == "read-params-without-bn-stats" && !p.Trainable() {
			continue
		}
		dst[p.Name] = m.Params()[p.Name].Clone()
	}
	return nil
}

func (m *fakeModel) OptState() tensor.Map { return m.sgd.State() }

func (m *fakeModel) SetOptState(s tensor.Map) {
	if m.breakage != "opt-state-lost" {
		m.sgd.SetState(s)
	}
}

func (m *fakeModel) Close() {}

// recorder is a testing.TB that records failures instead of failing the
// test; Fatal and FailNow end the check's goroutine as in a real test.
type recorder struct {
	testing.TB
	failed bool
	msgs   []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Log(...any)                {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Fail()                     { r.failed = true }
func (r *recorder) Failed() bool              { return r.failed }
func (r *recorder) FailNow()                  { r.failed = true; runtime.Goexit() }
func (r *recorder) Error(a ...any)            { r.Errorf("%s", fmt.Sprint(a...)) }
func (r *recorder) Fatal(a ...any)            { r.Error(a...); runtime.Goexit() }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }
func (r *recorder) Errorf(f string, a ...any) {
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(f, a...))
}
func (r *recorder) Skip(...any)          { runtime.Goexit() }
func (r *recorder) Skipf(string, ...any) { runtime.Goexit() }
func (r *recorder) SkipNow()             { runtime.Goexit() }

// failures runs the checks of the suite that only names (all when nil)
// against b and returns the failing ones with their first message.
func failures(t *testing.T, b engine.Backend, only []string) map[string]string {
	out := map[string]string{}
	for _, c := range enginetest.Checks() {
		if only != nil && !slices.Contains(only, c.Name) {
			continue
		}
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Fn(r, b)
		}()
		<-done
		if r.failed {
			out[c.Name] = strings.Join(r.msgs[:min(1, len(r.msgs))], "")
		}
	}
	return out
}

// TestSuiteCatchesBrokenBackends breaks the CPU engine one way at a time and
// wants the suite to report each breakage in the checks named; the intact
// adapter must pass every check (so the failures come from the breakage).
// Broken backends run only the checks named, to keep the test short.
func TestSuiteCatchesBrokenBackends(t *testing.T) {
	for _, tc := range []struct {
		breakage string
		want     []string // checks that must fail
	}{
		{"", nil},
		{"conv-weight-grad", []string{"gradients/conv3x3", "gradients/conv1x1", "gradients/plain", "gradients/densenet"}},
		{"bn-momentum", []string{"bn-running-stats/plain", "bn-running-stats/densenet"}},
		{"eval-uses-batch-stats", []string{"forward/plain/eval", "forward/bn/eval", "bn-running-stats/plain"}},
		{"no-nesterov", []string{"sgd/nesterov=true"}},
		{"decay-everything", []string{"sgd/nesterov=true", "sgd/nesterov=false"}},
		{"seed-ignored", []string{"determinism"}},
		{"nondeterministic", []string{"determinism"}},
		{"read-params-without-bn-stats", []string{"bn-running-stats/plain", "checkpoint-round-trip", "sgd/nesterov=true"}},
		{"opt-state-lost", []string{"checkpoint-round-trip"}},
	} {
		t.Run("broken="+tc.breakage, func(t *testing.T) {
			got := failures(t, fakeBackend{tc.breakage}, tc.want)
			var names []string
			for n := range got {
				names = append(names, n)
			}
			sort.Strings(names)
			if tc.breakage == "" && len(got) > 0 {
				t.Fatalf("the intact adapter fails %v: %v", names, got)
			}
			for _, w := range tc.want {
				if _, ok := got[w]; !ok {
					t.Errorf("check %s passed; it should catch %s (failing: %v)", w, tc.breakage, names)
				}
			}
			if len(got) > 0 {
				t.Logf("%s: %d checks fail: %v; e.g. %s: %s", tc.breakage, len(got), names, names[0], got[names[0]])
			}
		})
	}
}

// TestRunChecks: the suite outside go test passes the intact CPU engine
// and reports a broken one's failures by check.
func TestRunChecks(t *testing.T) {
	ok := enginetest.RunChecks(fakeBackend{}, nil)
	if len(ok) != len(enginetest.Checks()) {
		t.Fatalf("%d results for %d checks", len(ok), len(enginetest.Checks()))
	}
	for _, r := range ok {
		if len(r.Failures) > 0 {
			t.Errorf("intact backend: %s: %v", r.Name, r.Failures)
		}
	}
	failed := map[string]bool{}
	for _, r := range enginetest.RunChecks(fakeBackend{"bn-momentum"}, nil) {
		failed[r.Name] = len(r.Failures) > 0
	}
	if !failed["bn-running-stats/plain"] || failed["sgd/nesterov=true"] {
		t.Errorf("BN momentum 0.2: failures %v; want bn-running-stats only", failed)
	}
}
