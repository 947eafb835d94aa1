package plugintest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/host"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

// Status of one check.
const (
	Pass = "ok"
	Fail = "FAIL"
	Skip = "skip"
)

// Result is one row of the conformance table.
type Result struct {
	Check  string
	Status string
	Detail string
}

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Target is the plugin under test; Launch starts a fresh instance each call
// (controller checks compare two instances).
type Target struct {
	Launch func(ctx context.Context) (*host.Plugin, error)
}

// InProcess is a target serving a transform (or a controller, or both; nil
// for none) from this process, policed as the host polices a plugin: what a
// plugin's own tests use. Each launch calls the constructors again.
func InProcess(t func() sdk.Transform, c func() sdk.Controller) Target {
	b := host.Builtins{}
	kind := sdk.KindTransform
	if t != nil {
		b.Transform = func(string) (sdk.Transform, bool) { return t(), true }
	}
	if c != nil {
		b.Controller = func(string) (sdk.Controller, bool) { return c(), true }
		if t == nil {
			kind = sdk.KindController
		}
	}
	return Target{Launch: func(ctx context.Context) (*host.Plugin, error) {
		return host.Builtin(ctx, kind, "under-test", host.Options{Builtins: b, InProcess: true})
	}}
}

// Executable is a target that starts the plugin executable at path (what
// easrun plugin check does).
func Executable(path string, o host.Options) Target {
	return Target{Launch: func(ctx context.Context) (*host.Plugin, error) { return host.Launch(ctx, path, o) }}
}

// Options of a check run.
type Options struct {
	Cases int   // random networks per family for preservation (default 20)
	Seed  int64 // default 1
	Tol   float64
	// Transforms provide candidate actions for controller checks (the
	// built-ins, typically). Without them, candidates are wider(layer=i)
	// for each conv and FC layer.
	Transforms map[string]sdk.Transform
	// Progress, when set, receives each result as soon as it is known
	// (a plugin that hangs makes every call wait for its deadline).
	Progress func(Result)
}

func (o Options) cases() int {
	if o.Cases > 0 {
		return o.Cases
	}
	return 20
}

func (o Options) tol() float64 {
	if o.Tol > 0 {
		return o.Tol
	}
	return 1e-5
}

// Check runs every applicable check and returns the rows; it never stops at
// the first failure unless the plugin cannot be started at all.
func Check(ctx context.Context, tg Target, o Options) []Result {
	if o.Seed == 0 {
		o.Seed = 1
	}
	var rs []Result
	add := func(more ...Result) {
		rs = append(rs, more...)
		if o.Progress != nil {
			for _, r := range more {
				o.Progress(r)
			}
		}
	}
	start := time.Now()
	p, err := tg.Launch(ctx)
	if err != nil {
		add(Result{"handshake", Fail, err.Error()})
		return rs
	}
	defer p.Close()
	where := "subprocess " + filepath.Base(p.Path())
	if p.Path() == "builtin" {
		where = "in-process"
	}
	add(Result{"handshake", Pass, fmt.Sprintf("protocol %d, %s, started in %v", sdk.ProtocolVersion, where, time.Since(start).Round(time.Millisecond))})
	for _, info := range p.Infos() {
		add(describeCheck(info))
		switch info.Kind {
		case sdk.KindTransform:
			t, err := p.Transform()
			if err != nil {
				add(Result{"transform", Fail, err.Error()})
				continue
			}
			add(transformChecks(ctx, info, t, o)...)
		case sdk.KindController:
			add(controllerChecks(ctx, info, p, tg, o)...)
		}
	}
	return rs
}

func describeCheck(i sdk.Info) Result {
	var bad []string
	if i.Version == "" {
		bad = append(bad, "no version")
	}
	for _, f := range i.Families {
		if f != string(ir.FamilyPlain) && f != string(ir.FamilyDenseNet) {
			bad = append(bad, fmt.Sprintf("unknown family %q", f))
		}
	}
	d := fmt.Sprintf("%s %s %s, families %v", i.Kind, i.Name, i.Version, families(i))
	if len(bad) > 0 {
		return Result{"describe", Fail, d + ": " + strings.Join(bad, ", ")}
	}
	return Result{"describe", Pass, d}
}

func families(i sdk.Info) []ir.Family {
	if len(i.Families) == 0 {
		return []ir.Family{ir.FamilyPlain}
	}
	var out []ir.Family
	for _, f := range i.Families {
		out = append(out, ir.Family(f))
	}
	return out
}

var in = ir.Shape{C: 3, H: 8, W: 8}

// randomNet draws a random network of family f with random weights.
func randomNet(r *rand.Rand, f ir.Family) (sdk.Network, error) {
	a := verify.RandomArch(r, f, in)
	g, err := ir.Lower(a, in)
	if err != nil {
		return sdk.Network{}, err
	}
	return sdk.Network{Arch: a, Input: in, Weights: verify.RandomParams(g, r)}, nil
}

func transformChecks(ctx context.Context, info sdk.Info, t sdk.Transform, o Options) []Result {
	var rs []Result
	r := rand.New(rand.NewSource(o.Seed))
	space := verify.SmallSpace()
	// Actions on random networks, and one (net, action) per network for determinism.
	type pick struct {
		net sdk.Network
		act sdk.Action
	}
	var picks []pick
	nActs, nNets := 0, 0
	var actErr error
	for _, f := range families(info) {
		for c := 0; c < o.cases(); c++ {
			net, err := randomNet(r, f)
			if err != nil {
				actErr = err
				break
			}
			actsRes, err := t.Actions(ctx, sdk.ActionsRequest{Net: net, Space: space})
			acts := actsRes.Actions
			if err != nil {
				actErr = fmt.Errorf("on %s: %w", net.Arch, err)
				break
			}
			nNets++
			nActs += len(acts)
			if len(acts) > 0 && len(picks) < 5 {
				picks = append(picks, pick{net, acts[r.Intn(len(acts))]})
			}
		}
	}
	switch {
	case actErr != nil:
		rs = append(rs, Result{"actions", Fail, actErr.Error()})
	case nActs == 0:
		rs = append(rs, Result{"actions", Fail, fmt.Sprintf("no action on %d random networks", nNets)})
	default:
		rs = append(rs, Result{"actions", Pass, fmt.Sprintf("%d actions on %d random networks, all within declared params %v", nActs, nNets, info.Params)})
	}

	// Determinism: the same request (default noise, fixed seed) twice.
	det := Result{"determinism", Pass, ""}
	if len(picks) == 0 {
		det = Result{"determinism", Skip, "no action to apply"}
	}
	for i, pk := range picks {
		req := sdk.ApplyRequest{Net: pk.net, Action: pk.act, Space: space, Seed: o.Seed + int64(i), Noise: -1}
		h := verify.Host{Shape: in, Seed: o.Seed}
		a, err1 := t.Apply(ctx, req, h)
		b, err2 := t.Apply(ctx, req, h)
		if err := errors.Join(err1, err2); err != nil {
			det = Result{"determinism", Fail, fmt.Sprintf("%s on %s: %v", pk.act, pk.net.Arch, err)}
			break
		}
		if why := sameNet(a.Net, b.Net); why != "" {
			det = Result{"determinism", Fail, fmt.Sprintf("%s on %s with seed %d twice: %s", pk.act, pk.net.Arch, req.Seed, why)}
			break
		}
	}
	if det.Status == Pass {
		det.Detail = fmt.Sprintf("%d actions applied twice with the same seed gave identical networks", len(picks))
	}
	rs = append(rs, det)

	// Function preservation with exact copies (noise 0), per family, then
	// with the plugin's default noise (what a search uses unless its
	// noise is set) within NoiseTol.
	for _, noise := range []float64{0, -1} {
		for _, f := range families(info) {
			rs = append(rs, preservationCheck(ctx, t, f, noise, o))
		}
	}
	if slices.Contains(families(info), ir.FamilyPlain) {
		rs = append(rs, graphCheck(ctx, t, o))
	}

	// Rejection of an out-of-range layer.
	rs = append(rs, rejectCheck(ctx, info, t, r))
	return rs
}

// NoiseTol is the largest relative logit difference accepted from a
// transform applied with its default noise: ten times the worst the built-ins
// give with theirs (about 0.02 at noise 0.01 on random networks).
const NoiseTol = 0.1

func preservationCheck(ctx context.Context, t sdk.Transform, f ir.Family, noise float64, o Options) Result {
	name, tol := "preservation "+string(f), o.tol()
	if noise != 0 {
		name, tol = name+" (default noise)", NoiseTol
	}
	rep, err := verify.Preservation(ctx, t, verify.Options{Family: f, Cases: o.cases(), Seed: o.Seed, Noise: noise, Tol: tol})
	switch {
	case err != nil:
		return Result{name, Fail, err.Error()}
	case rep.Applied == 0:
		return Result{name, Fail, fmt.Sprintf("no action applied on %d random networks", rep.Cases)}
	case len(rep.Failures) > 0:
		return Result{name, Fail, fmt.Sprintf("%d of %d cases above %g, worst %s", len(rep.Failures), rep.Applied, tol, rep.Worst)}
	}
	return Result{name, Pass, fmt.Sprintf("%d of %d random networks transformed, max relative logit difference %.2g (limit %g)", rep.Applied, rep.Cases, rep.MaxRelDiff, tol)}
}

// graphCheck: a plain-network transform receives graphs (ADD, CAT, ID) too.
// Every action it offers on one must apply and keep the function (noise 0);
// offering none is allowed (the transform leaves graphs alone).
func graphCheck(ctx context.Context, t sdk.Transform, o Options) Result {
	const name = "preservation graphs"
	rep, err := verify.Preservation(ctx, t, verify.Options{Graphs: true, Cases: o.cases(), Seed: o.Seed, Noise: 0, Tol: o.tol()})
	switch {
	case err != nil:
		return Result{name, Fail, err.Error()}
	case rep.Applied == 0:
		return Result{name, Skip, fmt.Sprintf("no action offered on %d random graphs (the transform leaves graphs alone)", rep.Cases)}
	case len(rep.Failures) > 0:
		return Result{name, Fail, fmt.Sprintf("%d of %d cases above %g, worst %s", len(rep.Failures), rep.Applied, o.tol(), rep.Worst)}
	}
	return Result{name, Pass, fmt.Sprintf("%d of %d random graphs transformed, max relative logit difference %.2g (limit %g)", rep.Applied, rep.Cases, rep.MaxRelDiff, o.tol())}
}

// rejectCheck applies actions whose every argument is out of range (a layer
// past the end, or negative): the plugin must refuse them with an error, not
// crash or answer.
func rejectCheck(ctx context.Context, info sdk.Info, t sdk.Transform, r *rand.Rand) Result {
	const name = "rejects invalid action"
	if len(info.Params) == 0 {
		return Result{name, Skip, "declares no action arguments"}
	}
	net, err := randomNet(r, families(info)[0])
	if err != nil {
		return Result{name, Fail, err.Error()}
	}
	for _, v := range []int{len(net.Arch.Layers) + 7, -1} {
		args := map[string]int{}
		for _, p := range info.Params {
			args[p] = v
		}
		act := sdk.Action{Transform: info.Name, Args: args}
		_, err := t.Apply(ctx, sdk.ApplyRequest{Net: net, Action: act, Space: verify.SmallSpace(), Seed: 1}, verify.Host{Shape: in, Seed: 1})
		var pe *host.PluginError
		switch {
		case err == nil:
			return Result{name, Fail, fmt.Sprintf("accepted %s on the %d-layer %s", act, len(net.Arch.Layers), net.Arch)}
		case !errors.As(err, &pe) || pe.Fault != host.FaultError:
			return Result{name, Fail, fmt.Sprintf("%s: %v (want a plain error, not a crash)", act, err)}
		}
	}
	return Result{name, Pass, fmt.Sprintf("arguments past layer %d and negative ones are refused with an error", len(net.Arch.Layers))}
}

// sameNet compares two networks bit for bit.
func sameNet(a, b sdk.Network) string {
	if !a.Arch.Equal(b.Arch) {
		return fmt.Sprintf("architectures %s and %s", a.Arch, b.Arch)
	}
	if len(a.Weights) != len(b.Weights) {
		return fmt.Sprintf("%d and %d weight tensors", len(a.Weights), len(b.Weights))
	}
	for name, x := range a.Weights {
		y := b.Weights[name]
		if y == nil || !y.SameShape(x.Shape) {
			return "weight " + name + " differs in shape"
		}
		for i := range x.Data {
			if x.Data[i] != y.Data[i] {
				return fmt.Sprintf("weight %s[%d]: %g vs %g", name, i, x.Data[i], y.Data[i])
			}
		}
	}
	return ""
}

// episode is a fixed set of networks and, per step, their candidate actions.
type episode struct {
	steps []string
	nets  []sdk.Network
	cands map[string][][]sdk.Action
	infos []sdk.Info
}

func makeEpisode(ctx context.Context, o Options, r *rand.Rand) (*episode, error) {
	e := &episode{cands: map[string][][]sdk.Action{}}
	for i := 0; i < 3; i++ {
		n, err := randomNet(r, ir.FamilyPlain)
		if err != nil {
			return nil, err
		}
		n.Weights = nil // controllers see architectures only
		e.nets = append(e.nets, n)
	}
	names := make([]string, 0, len(o.Transforms))
	for n := range o.Transforms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t := o.Transforms[name]
		info, err := t.Describe(ctx)
		if err != nil {
			return nil, err
		}
		fams := families(info)
		if fams[0] != ir.FamilyPlain && len(fams) == 1 {
			continue
		}
		var all [][]sdk.Action
		for _, n := range e.nets {
			actsRes, err := t.Actions(ctx, sdk.ActionsRequest{Net: n, Space: verify.SmallSpace()})
			acts := actsRes.Actions
			if err != nil {
				return nil, err
			}
			all = append(all, acts)
		}
		e.steps = append(e.steps, name, name)
		e.cands[name] = all
		e.infos = append(e.infos, info)
	}
	if len(e.steps) == 0 {
		// Synthetic wider candidates when no transforms are given.
		var all [][]sdk.Action
		for _, n := range e.nets {
			var acts []sdk.Action
			for i, l := range n.Arch.Layers {
				if l.Kind.Width() != nil {
					acts = append(acts, sdk.Action{Transform: "wider", Args: map[string]int{"layer": i + 1}})
				}
			}
			all = append(all, acts)
		}
		e.steps = []string{"wider", "wider"}
		e.cands["wider"] = all
		e.infos = []sdk.Info{{Name: "wider", Kind: sdk.KindTransform, Version: "synthetic", Params: []string{"layer"}, Choice: sdk.ChooseEach}}
	}
	return e, nil
}

// run proposes every step of episode ep and observes seeded rewards; it
// returns the proposals as text for comparison.
func (e *episode) run(ctx context.Context, c sdk.Controller, ep int, seed int64) (string, error) {
	var b strings.Builder
	for s, name := range e.steps {
		propsRes, err := c.Propose(ctx, sdk.ProposeRequest{Episode: ep, Step: s, Transform: name, Nets: e.nets, Candidates: e.cands[name]})
		props := propsRes.Actions
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "step %d: %v\n", s, props)
	}
	r := rand.New(rand.NewSource(seed + int64(ep)))
	acc := make([]float64, len(e.nets))
	failed := make([]bool, len(e.nets))
	for i := range acc {
		acc[i] = 0.5 + 0.4*r.Float64()
	}
	failed[len(failed)-1] = true
	return b.String(), c.Observe(ctx, sdk.ObserveRequest{Episode: ep, Accuracies: acc, Failed: failed})
}

func controllerChecks(ctx context.Context, info sdk.Info, p *host.Plugin, tg Target, o Options) []Result {
	var rs []Result
	e, err := makeEpisode(ctx, o, rand.New(rand.NewSource(o.Seed)))
	if err != nil {
		return append(rs, Result{"episode setup", Fail, err.Error()})
	}
	cfg := sdk.ControllerConfig{Seed: o.Seed, Space: verify.SmallSpace(), Steps: e.steps, Transforms: e.infos}
	c, err := p.Controller()
	if err == nil {
		err = c.Configure(ctx, cfg)
	}
	var first string
	if err == nil {
		first, err = e.run(ctx, c, 1, o.Seed)
	}
	if err != nil {
		return append(rs, Result{"propose", Fail, err.Error()})
	}
	rs = append(rs, Result{"propose", Pass, fmt.Sprintf("%d steps x %d networks, every action among the candidates", len(e.steps), len(e.nets))})

	// Determinism: a fresh instance with the same seed proposes the same.
	det := func() Result {
		p2, err := tg.Launch(ctx)
		if err != nil {
			return Result{"determinism", Fail, err.Error()}
		}
		defer p2.Close()
		c2, err := p2.Controller()
		if err == nil {
			err = c2.Configure(ctx, cfg)
		}
		var again string
		if err == nil {
			again, err = e.run(ctx, c2, 1, o.Seed)
		}
		if err != nil {
			return Result{"determinism", Fail, err.Error()}
		}
		if again != first {
			return Result{"determinism", Fail, fmt.Sprintf("seed %d gave\n%s then\n%s", o.Seed, first, again)}
		}
		return Result{"determinism", Pass, fmt.Sprintf("a fresh instance with seed %d proposed the same episode", o.Seed)}
	}()
	rs = append(rs, det)

	// Save/load: propose after load (fresh instance) == propose after save.
	sl := func() Result {
		state, err := c.Save(ctx)
		if err != nil {
			return Result{"save/load", Fail, err.Error()}
		}
		after, err := e.run(ctx, c, 2, o.Seed)
		if err != nil {
			return Result{"save/load", Fail, err.Error()}
		}
		p2, err := tg.Launch(ctx)
		if err != nil {
			return Result{"save/load", Fail, err.Error()}
		}
		defer p2.Close()
		c2, err := p2.Controller()
		if err == nil {
			err = c2.Configure(ctx, cfg)
		}
		if err == nil {
			err = c2.Load(ctx, state)
		}
		var loaded string
		if err == nil {
			loaded, err = e.run(ctx, c2, 2, o.Seed)
		}
		if err != nil {
			return Result{"save/load", Fail, err.Error()}
		}
		if loaded != after {
			return Result{"save/load", Fail, fmt.Sprintf("after save:\n%safter load:\n%s", after, loaded)}
		}
		return Result{"save/load", Pass, fmt.Sprintf("%d-byte state: a fresh instance after Load proposes what the saved one did", len(state.Data))}
	}()
	return append(rs, sl)
}
