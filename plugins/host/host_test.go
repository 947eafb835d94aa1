package host

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/host/internal/fake"
	"github.com/eas-go/eas/plugins/sdk"
)

func smallNet(t testing.TB) sdk.Network {
	t.Helper()
	a := ir.Arch{Layers: []ir.Layer{
		{Kind: ir.Conv, Filters: 4, Kernel: 3, Stride: 1},
		{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max},
		{Kind: ir.FC, Units: 8},
		{Kind: ir.Softmax, Units: 3},
	}}
	in := ir.Shape{C: 2, H: 4, W: 4}
	return sdk.Network{Arch: a, Input: in, Weights: params(t, a, in)}
}

func params(t testing.TB, a ir.Arch, in ir.Shape) tensor.Map {
	g, err := ir.Lower(a, in)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	m := tensor.Map{}
	for _, p := range g.Params() {
		x := tensor.New(p.Shape...)
		for i := range x.Data {
			x.Data[i] = float32(r.NormFloat64())
		}
		m[p.Name] = x
	}
	return m
}

type constHost struct{ shape ir.Shape }

func (h constHost) Batch(_ context.Context, n int) (*tensor.Tensor, error) {
	return tensor.New(n, h.shape.C, h.shape.H, h.shape.W), nil
}

func apply(ctx context.Context, tr sdk.Transform, net sdk.Network, mode int) (sdk.ApplyResult, error) {
	return tr.Apply(ctx, sdk.ApplyRequest{Net: net, Action: sdk.Action{Transform: "fake",
		Args: map[string]int{"layer": 1, "mode": mode}}, Space: ir.PaperSpace()}, constHost{net.Input})
}

func TestTransformFaults(t *testing.T) {
	cases := []struct {
		name    string
		mode    int
		fault   Fault
		reason  string
		process bool // needs a real process
	}{
		{"panic", fake.ModePanic, FaultPanic, "panicked: fake panics on purpose", false},
		{"exit", fake.ModeExit, FaultExit, "exited", true},
		{"hang", fake.ModeHang, FaultHang, "did not answer within its " + testTimeout.String() + " deadline", false},
		{"bad shape", fake.ModeBadShape, FaultMalformed, "ir.Lower(arch).Params() says", false},
		{"nan", fake.ModeNaN, FaultMalformed, "non-finite weight", false},
		{"bad arch", fake.ModeBadArch, FaultMalformed, "fails ir.Arch.Check", false},
		{"error", fake.ModeError, FaultError, "returned an error: fake refuses", false},
	}
	for _, lm := range launchModes() {
		t.Run(lm.name, func(t *testing.T) {
			p := lm.start(t, sdk.KindTransform, Options{CallTimeout: testTimeout})
			defer p.Close()
			tr, err := p.Transform()
			if err != nil {
				t.Fatal(err)
			}
			net := smallNet(t)
			ctx := context.Background()
			first, err := apply(ctx, tr, net, fake.ModeIdentity)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				if c.process && !lm.process {
					continue
				}
				before := p.Restarts()
				_, err := apply(ctx, tr, net, c.mode)
				var pe *PluginError
				if !errors.As(err, &pe) {
					t.Fatalf("%s: got %v, want a *PluginError", c.name, err)
				}
				if pe.Fault != c.fault || !strings.Contains(pe.Reason, c.reason) || !strings.Contains(pe.Error(), "fake") ||
					!strings.HasPrefix(pe.Op, "apply fake(") {
					t.Errorf("%s: got %s (fault %s), want fault %s with %q", c.name, pe, pe.Fault, c.fault, c.reason)
				}
				// The next call works, on a restarted plugin where the fault demands it.
				res, err := apply(ctx, tr, net, fake.ModeIdentity)
				if err != nil {
					t.Fatalf("%s: call after the fault: %v", c.name, err)
				}
				if pe.Restarted() != (p.Restarts() == before+1) {
					t.Errorf("%s: restarts %d -> %d, fault restarts: %v", c.name, before, p.Restarts(), pe.Restarted())
				}
				if lm.process && pe.Restarted() && res.Details["pid"][0] == first.Details["pid"][0] {
					t.Errorf("%s: same pid %d after restart", c.name, first.Details["pid"][0])
				}
				if d := tensor.MaxRelDiff(res.Net.Weights["l1.conv.weight"].Data, net.Weights["l1.conv.weight"].Data); d != 0 {
					t.Errorf("%s: identity changed weights by %g", c.name, d)
				}
			}
		})
	}
}

func TestTransformActionsHostAndCancel(t *testing.T) {
	for _, lm := range launchModes() {
		t.Run(lm.name, func(t *testing.T) {
			p := lm.start(t, sdk.KindTransform, Options{CallTimeout: testTimeout})
			defer p.Close()
			tr, _ := p.Transform()
			net := smallNet(t)
			ctx := context.Background()
			info, err := tr.Describe(ctx)
			if err != nil || info.Name != "fake" || info.Version != "0.1.0" || len(info.Params) != 2 {
				t.Fatalf("describe: %+v, %v", info, err)
			}
			actsRes, err := tr.Actions(ctx, sdk.ActionsRequest{Net: net, Space: ir.PaperSpace()})
			acts := actsRes.Actions
			if err != nil || len(acts) != len(net.Arch.Layers) || acts[2].String() != "fake(layer=3)" {
				t.Fatalf("actions: %v, %v", acts, err)
			}
			bad := ir.PaperSpace()
			bad.Kernels = append(bad.Kernels, fake.BadActionsKernel)
			_, err = tr.Actions(ctx, sdk.ActionsRequest{Net: net, Space: bad})
			var pe *PluginError
			if !errors.As(err, &pe) || pe.Fault != FaultMalformed || !strings.Contains(pe.Reason, "outside its declared space") {
				t.Errorf("undeclared action: got %v", err)
			}
			res, err := apply(ctx, tr, net, fake.ModeHost)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Details["batch"]; len(got) != 4 || got[0] != 4 || got[1] != 2 {
				t.Errorf("host batch shape %v, want [4 2 4 4]", got)
			}
			// Caller cancellation reaches the plugin and is reported as such.
			cctx, cancel := context.WithCancel(ctx)
			go func() { time.Sleep(100 * time.Millisecond); cancel() }()
			_, err = apply(cctx, tr, net, fake.ModeWaitCancel)
			if !errors.As(err, &pe) || pe.Fault != FaultCanceled || !errors.Is(err, context.Canceled) {
				t.Errorf("cancel: got %v", err)
			}
			// Weightless networks stay weightless.
			res, err = apply(ctx, tr, sdk.Network{Arch: net.Arch, Input: net.Input}, fake.ModeIdentity)
			if err != nil || res.Net.Weights != nil {
				t.Errorf("weightless apply: %v, weights %v", err, res.Net.Weights != nil)
			}
		})
	}
}

func TestController(t *testing.T) {
	net := smallNet(t)
	cands := [][]sdk.Action{
		{{Transform: "fake", Args: map[string]int{"layer": 1}}, {Transform: "fake", Args: map[string]int{"layer": 3}}},
		nil,
	}
	req := sdk.ProposeRequest{Episode: 1, Transform: "fake", Nets: []sdk.Network{net, net}, Candidates: cands}
	for _, lm := range launchModes() {
		t.Run(lm.name, func(t *testing.T) {
			p := lm.start(t, sdk.KindController, Options{CallTimeout: testTimeout})
			defer p.Close()
			c, err := p.Controller()
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := c.Configure(ctx, sdk.ControllerConfig{Seed: 1, Steps: []string{"fake"}}); err != nil {
				t.Fatal(err)
			}
			gotRes, err := c.Propose(ctx, req)
			got := gotRes.Actions
			if err != nil || len(got) != 2 || got[0][0].String() != "fake(layer=3)" || len(got[1]) != 0 {
				t.Fatalf("propose: %v, %v", got, err)
			}
			if err := c.Observe(ctx, sdk.ObserveRequest{Episode: 1, Accuracies: []float64{0.5, 0}, Failed: []bool{false, true}}); err != nil {
				t.Fatal(err)
			}
			state, err := c.Save(ctx)
			if err != nil || len(state.Data) != 8 {
				t.Fatalf("save: %v, %v", state, err)
			}
			afterRes, _ := c.Propose(ctx, req)
			after := afterRes.Actions
			if err := c.Load(ctx, state); err != nil {
				t.Fatal(err)
			}
			againRes, _ := c.Propose(ctx, req)
			again := againRes.Actions
			if after[0][0].String() != again[0][0].String() {
				t.Errorf("propose after load %v, after save %v", again, after)
			}
			if err := c.Load(ctx, sdk.ControllerState{Data: []byte{1}}); err == nil || !strings.Contains(err.Error(), "fakectl") {
				t.Errorf("bad state: %v", err)
			}
			// A proposal outside the candidates is malformed.
			if err := c.Configure(ctx, sdk.ControllerConfig{Settings: map[string]string{"bad": "1"}}); err != nil {
				t.Fatal(err)
			}
			_, err = c.Propose(ctx, req)
			var pe *PluginError
			if !errors.As(err, &pe) || pe.Fault != FaultMalformed || !strings.Contains(pe.Reason, "not among its candidate actions") {
				t.Fatalf("bad proposal: %v", err)
			}
			// After the restart, the proxy configures the new instance again.
			if _, err := c.Propose(ctx, req); err == nil {
				t.Error("restarted controller lost its (bad) configuration")
			}
		})
	}
}

func TestBigWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 100 MB each way")
	}
	p, err := Launch(context.Background(), fakePlugin(t), Options{CallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tr, _ := p.Transform()
	// 3*32*32 inputs x 8192 units: 25.2 M float32 = 100.7 MB in one tensor.
	a := ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 8192}, {Kind: ir.Softmax, Units: 10}}}
	in := ir.Shape{C: 3, H: 32, W: 32}
	g, _ := ir.Lower(a, in)
	w := tensor.Map{}
	total := 0
	for _, prm := range g.Params() {
		x := tensor.New(prm.Shape...)
		for i := range x.Data {
			x.Data[i] = float32(i % 1021)
		}
		w[prm.Name] = x
		total += 4 * len(x.Data)
	}
	if total < 100e6 {
		t.Fatalf("only %d bytes", total)
	}
	start := time.Now()
	res, err := apply(context.Background(), tr, sdk.Network{Arch: a, Input: in, Weights: w}, fake.ModeIdentity)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d MB there and back in %v", total>>20, time.Since(start))
	for name, x := range w {
		y := res.Net.Weights[name]
		if y == nil || !y.SameShape(x.Shape) || tensor.MaxRelDiff(x.Data, y.Data) != 0 {
			t.Fatalf("%s did not come back intact", name)
		}
	}
}

func TestStartFailures(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "plain.txt")
	os.WriteFile(notExec, []byte("x"), 0o644)
	script := filepath.Join(dir, "notaplugin")
	os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o755)
	cases := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"not executable", notExec, "not an executable file"},
		{"no handshake", script, "notaplugin"},
		{"other protocol", buildTestdata(t, "wrongproto"), "incompatible API version with plugin. Plugin version: 99"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Launch(context.Background(), c.path, Options{StartTimeout: 5 * time.Second})
			var pe *PluginError
			if !errors.As(err, &pe) || pe.Fault != FaultStart || !strings.Contains(pe.Error(), c.want) {
				t.Fatalf("got %v, want a start error containing %q", err, c.want)
			}
		})
	}
	_, err := Builtin(context.Background(), sdk.KindTransform, "nope", Options{Builtins: fakeBuiltins(), InProcess: true})
	if err == nil || !strings.Contains(err.Error(), "no such built-in transform") {
		t.Errorf("unknown built-in: %v", err)
	}
}

func TestDiscoverAndSet(t *testing.T) {
	bin := fakePlugin(t)
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "plugins"), 0o755)
	link := filepath.Join(base, "plugins", "fakeplugin")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(base, "plugins", "README"), []byte("not a plugin"), 0o644)
	envDir := t.TempDir()
	os.Symlink(bin, filepath.Join(envDir, "other"))
	t.Setenv(PathEnv, envDir+string(os.PathListSeparator)+filepath.Join(base, "missing"))
	got, err := Discover(base, []string{"plugins/fakeplugin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].From != "explicit" || got[1].From != "$"+PathEnv {
		t.Fatalf("discover: %+v", got)
	}
	if _, err := Discover(base, []string{"plugins/README"}, nil); err == nil || !strings.Contains(err.Error(), "plugins/README") {
		t.Errorf("explicit non-executable: %v", err)
	}

	ctx := context.Background()
	// A plugin reusing built-in names: those names resolve to neither.
	set, err := Open(ctx, []string{link}, Options{Builtins: fakeBuiltins(), InProcess: true, CallTimeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Transform(ctx, "fake"); err == nil || !strings.Contains(err.Error(), `transform "fake" is declared by the built-in and plugin `+link) {
		t.Errorf("a plugin shadowing a built-in name was accepted: %v", err)
	}
	set.Close()
	set, err = Open(ctx, []string{link}, Options{CallTimeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if _, err := set.Transform(ctx, "fake"); err != nil {
		t.Error(err)
	}
	if _, err := set.Controller(ctx, "fakectl"); err != nil {
		t.Error(err)
	}
	if _, err := set.Transform(ctx, "wider"); err == nil || !strings.Contains(err.Error(), `no transform named "wider" (known: fake)`) {
		t.Errorf("unknown: %v", err)
	}
}

func TestLogFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "plugins.log")
	p, err := Launch(context.Background(), fakePlugin(t), Options{LogFile: log, CallTimeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tr, _ := p.Transform()
	if _, err := apply(context.Background(), tr, smallNet(t), fake.ModePanic); err == nil {
		t.Fatal("no error from a panic")
	}
	// The host logs the fault at once; the plugin's stderr (its panic trace)
	// follows asynchronously through the pipe; a loaded CI machine can take
	// seconds to schedule the reader, so wait generously.
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		if strings.Contains(string(b), "fake panics on purpose") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log lacks the plugin's stderr:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
