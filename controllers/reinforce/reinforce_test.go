package reinforce

import (
	"context"
	"math"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/eas-go/eas/controllers/internal/actspace"
	"github.com/eas-go/eas/controllers/internal/rng"
	"github.com/eas-go/eas/controllers/random"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/deeper"
	"github.com/eas-go/eas/transforms/densedeeper"
	"github.com/eas-go/eas/transforms/densewider"
	"github.com/eas-go/eas/transforms/verify"
	"github.com/eas-go/eas/transforms/wider"
)

// The built-in transforms by name (package builtin imports this package, so
// the tests cannot use the registry) and their descriptions, which tell the
// controller how to choose (Info.Choice).
var transforms = func() map[string]sdk.Transform {
	m := map[string]sdk.Transform{}
	for _, mk := range []func() sdk.Transform{wider.New, deeper.New, densewider.New, densedeeper.New} {
		t := mk()
		i, _ := t.Describe(context.Background())
		m[i.Name] = t
	}
	return m
}()

func infos(names ...string) []sdk.Info {
	var out []sdk.Info
	for _, n := range names {
		i, _ := transforms[n].Describe(context.Background())
		out = append(out, i)
	}
	return out
}

var ctx = context.Background()

func configured(t testing.TB, seed int64, settings map[string]string) *Controller {
	c := New().(*Controller)
	if err := c.Configure(ctx, sdk.ControllerConfig{Seed: seed, Space: ir.PaperSpace(), Settings: settings, Steps: []string{"wider", "deeper"},
		Transforms: infos("wider", "deeper")}); err != nil {
		t.Fatal(err)
	}
	return c
}

func candidates(t testing.TB, tr string, nets []sdk.Network, space ir.Space) [][]sdk.Action {
	tf := transforms[tr]
	out := make([][]sdk.Action, len(nets))
	for i, n := range nets {
		aRes, err := tf.Actions(ctx, sdk.ActionsRequest{Net: n, Space: space})
		a := aRes.Actions
		if err != nil {
			t.Fatal(err)
		}
		out[i] = a
	}
	return out
}

// TestGradientMatchesFiniteDifferences checks d(objective)/d(params) from
// gorgonia against central differences on a tiny policy.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	c := configured(t, 3, map[string]string{"embedding": "4", "hidden": "3", "entropy": "0.1"})
	nets := []sdk.Network{{Arch: dsl.MustArch("C(16,3,1) P(2,2,MAX) C(32,3,1) FC(64) SM(10)"), Input: ir.Shape{C: 3, H: 32, W: 32}},
		{Arch: dsl.MustArch("C(32,5,1) P(2,2,MAX) FC(128) SM(10)"), Input: ir.Shape{C: 3, H: 32, W: 32}}}
	for _, st := range []string{"wider", "deeper"} {
		if _, err := c.Propose(ctx, sdk.ProposeRequest{Transform: st, Nets: nets, Candidates: candidates(t, st, nets, ir.PaperSpace())}); err != nil {
			t.Fatal(err)
		}
	}
	recs, adv := c.pending, []float64{0.7, -0.4}
	obj, grads, err := c.objective(recs, adv)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	checked := 0
	for _, name := range c.pol.names {
		v := c.pol.vals[name]
		g, ok := grads[name]
		if !ok {
			continue
		}
		for _, i := range r.Perm(len(v))[:min(2, len(v))] {
			old := v[i]
			const h = 1e-6
			v[i] = old + h
			up, _, err1 := c.objective(recs, adv)
			v[i] = old - h
			down, _, err2 := c.objective(recs, adv)
			v[i] = old
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			num := (up - down) / (2 * h)
			if math.Abs(num-g[i]) > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("d J / d %s[%d]: gorgonia %.8g, finite difference %.8g", name, i, g[i], num)
			}
			checked++
		}
	}
	if checked < 30 {
		t.Errorf("only %d coordinates checked", checked)
	}
	t.Logf("objective %.5f, %d coordinates checked", obj, checked)
}

// env is a synthetic search problem on architectures alone: the reward is
// high when layer 1 is widened and a layer is inserted in the first block.
type env struct{ space ir.Space }

func (e env) step(t testing.TB, a ir.Arch, act sdk.Action) ir.Arch {
	a = a.Clone()
	switch act.Transform {
	case "wider":
		l := &a.Layers[act.Args["layer"]-1]
		if l.Kind == ir.Conv {
			l.Filters, _ = ir.Next(e.space.Filters, l.Filters)
		} else {
			l.Units, _ = ir.Next(e.space.Units, l.Units)
		}
	case "deeper":
		after := act.Args["after"]
		nl := ir.Layer{Kind: ir.FC, Units: 64}
		if k, ok := act.Args["kernel"]; ok {
			nl = ir.Layer{Kind: ir.Conv, Filters: 16, Kernel: k, Stride: 1}
		}
		a.Layers = append(a.Layers[:after], append([]ir.Layer{nl}, a.Layers[after:]...)...)
	}
	return a
}

func syntheticReward(start, a ir.Arch) float64 {
	r := 0.5
	if a.Layers[0].Filters > start.Layers[0].Filters {
		r += 0.2
	}
	if a.Layers[1].Kind == ir.Conv || a.Layers[2].Kind == ir.Conv && a.Layers[1].Kind != ir.Pool { // a conv inserted before the first pooling
		r += 0.2
	}
	return r
}

func runSearch(t testing.TB, c sdk.Controller, seed int64, episodes, m int) []float64 {
	space := ir.PaperSpace()
	if err := c.Configure(ctx, sdk.ControllerConfig{Seed: seed, Space: space, Steps: []string{"wider", "deeper"}, Transforms: infos("wider", "deeper")}); err != nil {
		t.Fatal(err)
	}
	var means []float64
	for ep := 1; ep <= episodes; ep++ {
		means = append(means, episode(t, c, ep, m))
	}
	return means
}

var synthStart = dsl.MustArch("C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) C(64,3,1) FC(64) SM(10)")

// episode runs one wider and one deeper step for m networks and returns their mean reward.
func episode(t testing.TB, c sdk.Controller, ep, m int) float64 {
	space := ir.PaperSpace()
	start := synthStart
	e := env{space}
	{
		nets := make([]sdk.Network, m)
		for i := range nets {
			nets[i] = sdk.Network{Arch: start, Input: ir.Shape{C: 3, H: 32, W: 32}}
		}
		for _, st := range []string{"wider", "deeper"} {
			propsRes, err := c.Propose(ctx, sdk.ProposeRequest{Episode: ep, Transform: st, Nets: nets, Candidates: candidates(t, st, nets, space)})
			props := propsRes.Actions
			if err != nil {
				t.Fatal(err)
			}
			for i := range nets {
				for _, a := range props[i] {
					nets[i].Arch = e.step(t, nets[i].Arch, a)
				}
			}
		}
		accs := make([]float64, m)
		sum := 0.0
		for i := range nets {
			accs[i] = syntheticReward(start, nets[i].Arch)
			sum += accs[i]
		}
		if err := c.Observe(ctx, sdk.ObserveRequest{Episode: ep, Accuracies: accs, Failed: make([]bool, m)}); err != nil {
			t.Fatal(err)
		}
		return sum / float64(m)
	}
}

func tail(v []float64, from int) float64 {
	s := 0.0
	for _, x := range v[from:] {
		s += x
	}
	return s / float64(len(v)-from)
}

// TestLearnsSyntheticReward: over 5 seeds, RL's mean reward in episodes
// 40-50 clearly exceeds random search's.
func TestLearnsSyntheticReward(t *testing.T) {
	if testing.Short() {
		t.Skip("about a minute")
	}
	var rl, rnd float64
	for seed := int64(1); seed <= 5; seed++ {
		r := tail(runSearch(t, New(), seed, 50, 10), 40)
		q := tail(runSearch(t, random.New(), seed, 50, 10), 40)
		t.Logf("seed %d: RL %.3f, random %.3f", seed, r, q)
		rl += r / 5
		rnd += q / 5
	}
	t.Logf("mean accuracy in episodes 41-50: RL %.3f, random %.3f", rl, rnd)
	if rl < rnd+0.05 {
		t.Errorf("RL %.3f does not clearly beat random %.3f", rl, rnd)
	}
	// 0.9 is reached only by widening layer 1 and deepening block 0 together:
	// a mean near it means the policy concentrated on the rewarded actions.
	if rl < 0.85 {
		t.Errorf("RL's action distribution did not concentrate on the rewarded actions (mean %.3f, maximum 0.9)", rl)
	}
}

// TestProposalsAreValid: every proposed action is a candidate, on random architectures.
func TestProposalsAreValid(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	sp := verify.SmallSpace()
	for _, mk := range []func() sdk.Controller{New, random.New} {
		c := mk()
		all := infos("wider", "deeper", "densewider", "densedeeper")
		if err := c.Configure(ctx, sdk.ControllerConfig{Seed: 1, Space: sp, Transforms: all}); err != nil {
			t.Fatal(err)
		}
		inBranch := 0 // proposals of layers inside merges' branches
		for it := 0; it < 20; it++ {
			fam := ir.FamilyPlain
			steps := []string{"wider", "deeper"}
			if it%3 == 1 {
				fam, steps = ir.FamilyDenseNet, []string{"densewider", "densedeeper"}
			}
			nets := make([]sdk.Network, 4)
			for i := range nets {
				in := ir.Shape{C: 3, H: 8, W: 8}
				nets[i] = sdk.Network{Arch: verify.RandomArch(r, fam, in), Input: in}
				if it%3 == 2 { // graphs: the action spaces hold layers in branches
					nets[i].Arch = verify.RandomGraph(r, in)
				}
			}
			for _, st := range steps {
				cands := candidates(t, st, nets, sp)
				propsRes, err := c.Propose(ctx, sdk.ProposeRequest{Transform: st, Nets: nets, Candidates: cands})
				props := propsRes.Actions
				if err != nil {
					t.Fatal(err)
				}
				for i := range nets {
					for _, a := range props[i] {
						if !slices.ContainsFunc(cands[i], a.Equal) {
							t.Fatalf("%s proposed %s on %s, not a candidate", st, a, nets[i].Arch)
						}
						if li := a.Args["layer"] + a.Args["after"]; nets[i].Arch.HasMerges() && li > 0 {
							if m, _ := nets[i].Arch.Tree().Enclosing(li); m > 0 {
								inBranch++
							}
						}
					}
					if !actspace.Each(all, st) && len(cands[i]) > 0 && len(props[i]) != 1 {
						t.Fatalf("%s: %d actions for one network", st, len(props[i]))
					}
				}
			}
			c.Observe(ctx, sdk.ObserveRequest{Episode: it, Accuracies: []float64{0.5, 0.6, 0.7, 0.8}, Failed: make([]bool, 4)})
		}
		if inBranch == 0 {
			t.Error("no proposal of a layer inside a branch")
		}
	}
}

// TestSaveLoadResumesExactly: after Load, the next proposals equal those of
// the controller that was saved.
func TestSaveLoadResumesExactly(t *testing.T) {
	for _, mk := range []func() sdk.Controller{New, random.New} {
		a := mk()
		runSearch(t, a, 4, 2, 4)
		state, err := a.Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b := mk()
		b.Configure(ctx, sdk.ControllerConfig{Seed: 99, Space: ir.PaperSpace(), Transforms: infos("wider", "deeper")})
		if err := b.Load(ctx, state); err != nil {
			t.Fatal(err)
		}
		nets := []sdk.Network{{Arch: dsl.MustArch("C(16,3,1) P(2,2,MAX) FC(64) SM(10)"), Input: ir.Shape{C: 3, H: 32, W: 32}}}
		for _, st := range []string{"wider", "deeper", "deeper"} {
			req := sdk.ProposeRequest{Transform: st, Nets: nets, Candidates: candidates(t, st, nets, ir.PaperSpace())}
			paRes, _ := a.Propose(ctx, req)
			pa := paRes.Actions
			pbRes, _ := b.Propose(ctx, req)
			pb := pbRes.Actions
			if len(pa[0]) != len(pb[0]) || (len(pa[0]) > 0 && pa[0][0].String() != pb[0][0].String()) {
				t.Fatalf("after load: %v vs %v", pa, pb)
			}
		}
		if err := b.Load(ctx, sdk.ControllerState{Data: []byte("{")}); err == nil {
			t.Error("corrupt state accepted")
		}
	}
	_ = rng.New
}

// BenchmarkProposeAndUpdate: actions for 10 networks for one wider and one
// deeper step, then one policy update (steady state: graphs compiled).
func BenchmarkProposeAndUpdate(b *testing.B) {
	c := configured(b, 1, nil)
	runSearch(b, c, 1, 1, 10) // compiles the graph shapes
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		episode(b, c, i+2, 10)
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/episode")
}

// TestSamplingMachinesMatchGradientMachines checks that the forward-only
// machines used to sample give bit-identical distributions to the machines
// that also differentiate (which the update uses): sampling must not depend
// on which machine computed the probabilities.
func TestSamplingMachinesMatchGradientMachines(t *testing.T) {
	c := configured(t, 5, nil)
	nets := []sdk.Network{{Arch: dsl.MustArch("C(16,3,1) P(2,2,MAX) C(32,3,1) FC(64) SM(10)"), Input: ir.Shape{C: 3, H: 32, W: 32}},
		{Arch: dsl.MustArch("C(32,5,1) P(2,2,MAX) C(64,3,1) FC(128) SM(10)"), Input: ir.Shape{C: 3, H: 32, W: 32}}}
	for _, st := range []string{"wider", "deeper", "deeper"} {
		if _, err := c.Propose(ctx, sdk.ProposeRequest{Transform: st, Nets: nets, Candidates: candidates(t, st, nets, ir.PaperSpace())}); err != nil {
			t.Fatal(err)
		}
	}
	compared := 0
	for _, ds := range c.pending {
		for _, d := range ds {
			levels := []int{0}
			if !d.Multi {
				levels = []int{0, 1}
				if d.Opt >= 0 {
					levels = append(levels, 2)
				}
			}
			for _, l := range levels {
				fs := shape{T: len(d.Tokens), multi: d.Multi, level: l, fwd: true}
				gs := shape{T: len(d.Tokens), multi: d.Multi, level: levels[len(levels)-1]}
				if !d.Multi {
					gs.level = max(gs.level, 1)
				} else {
					fs.level, gs.level = 0, 0
				}
				var fin []float64
				if !d.Multi { // sampling: encoder once, then a head machine
					var err error
					if fin, err = c.encode(d.Tokens); err != nil {
						t.Fatal(err)
					}
					fs = shape{level: l, fwd: true, head: true}
				}
				var got [2][]float64
				for k, s := range []shape{fs, gs} {
					m, err := c.machine(s)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := m.runWith(c.pol, d, 0.3, 0.1, fin); err != nil {
						t.Fatal(err)
					}
					got[k] = values(m.probs[l])
				}
				if !slices.Equal(got[0], got[1]) {
					t.Errorf("decision %+v level %d: sampling machine %v, gradient machine %v", d, l, got[0], got[1])
				}
				compared++
			}
		}
	}
	if compared < 6 {
		t.Errorf("only %d distributions compared", compared)
	}
}
