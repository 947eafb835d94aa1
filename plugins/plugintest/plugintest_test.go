package plugintest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/host"
	"github.com/eas-go/eas/plugins/sdk"
)

// scale multiplies the last layer's weights (non-preserving unless factor 1),
// optionally with unseeded noise (non-deterministic) or without refusing
// invalid layers.
type scale struct {
	factor float32
	noisy  bool
	lax    bool
	loud   float32 // factor used instead when the request asks for the default noise
	graphs float32 // factor used instead on graphs (a transform that mishandles them)
}

func (scale) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "scale", Kind: sdk.KindTransform, Version: "1", Families: []string{"plain"}, Params: []string{"layer"}}, nil
}

func (x scale) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	acts, err := x.actions(ctx, req.Net, req.Space)
	return sdk.ActionsResult{Actions: acts}, err
}

func (x scale) actions(_ context.Context, n sdk.Network, _ ir.Space) ([]sdk.Action, error) {
	return []sdk.Action{{Transform: "scale", Args: map[string]int{"layer": len(n.Arch.Layers)}}}, nil
}

var global = rand.New(rand.NewSource(99))

func (s scale) Apply(_ context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	if l := req.Action.Args["layer"]; !s.lax && (l < 1 || l > len(req.Net.Arch.Layers)) {
		return sdk.ApplyResult{}, fmt.Errorf("layer %d out of range", l)
	}
	w := req.Net.Weights.Clone()
	name := fmt.Sprintf("l%d.sm.weight", len(req.Net.Arch.Layers))
	f := s.factor
	if req.Noise < 0 && s.loud != 0 {
		f = s.loud
	}
	if req.Net.Arch.HasMerges() && s.graphs != 0 {
		f = s.graphs
	}
	for i := range w[name].Data {
		w[name].Data[i] *= f
		if s.noisy {
			w[name].Data[i] += float32(global.NormFloat64()) * 1e-9
		}
	}
	return sdk.ApplyResult{Net: sdk.Network{Arch: req.Net.Arch, Input: req.Net.Input, Weights: w}}, nil
}

// counter is a controller whose state is a counter; leaky forgets it on Load.
type counter struct {
	n     uint64
	leaky bool
}

func (*counter) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "counter", Kind: sdk.KindController, Version: "1"}, nil
}
func (*counter) Configure(context.Context, sdk.ControllerConfig) error { return nil }
func (c *counter) Propose(ctx context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	acts, err := c.propose(ctx, req)
	return sdk.ProposeResult{Actions: acts}, err
}

func (c *counter) propose(_ context.Context, req sdk.ProposeRequest) ([][]sdk.Action, error) {
	out := make([][]sdk.Action, len(req.Nets))
	for i, cs := range req.Candidates {
		if len(cs) > 0 {
			out[i] = []sdk.Action{cs[int(c.n)%len(cs)]}
		}
		c.n++
	}
	return out, nil
}
func (c *counter) Observe(context.Context, sdk.ObserveRequest) error { c.n += 7; return nil }
func (c *counter) Save(ctx context.Context) (sdk.ControllerState, error) {
	b, err := c.save(ctx)
	return sdk.ControllerState{Data: b}, err
}

func (c *counter) save(context.Context) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, c.n), nil
}
func (c *counter) Load(_ context.Context, st sdk.ControllerState) error {
	b := st.Data
	if len(b) != 8 {
		return errors.New("bad state")
	}
	if !c.leaky {
		c.n = binary.LittleEndian.Uint64(b)
	}
	return nil
}

func target(kind string, t func() sdk.Transform, c func() sdk.Controller) Target {
	b := host.Builtins{
		Transform:  func(string) (sdk.Transform, bool) { return t(), t != nil },
		Controller: func(string) (sdk.Controller, bool) { return c(), c != nil },
	}
	return Target{Launch: func(ctx context.Context) (*host.Plugin, error) {
		return host.Builtin(ctx, kind, "x", host.Options{Builtins: b, InProcess: true})
	}}
}

func TestCheck(t *testing.T) {
	tr := func(s scale) Target {
		return target(sdk.KindTransform, func() sdk.Transform { return s }, nil)
	}
	ctl := func(leaky bool) Target {
		return target(sdk.KindController, nil, func() sdk.Controller { return &counter{leaky: leaky} })
	}
	cases := []struct {
		name   string
		target Target
		fails  []string // checks expected to fail
	}{
		{"good transform", tr(scale{factor: 1}), nil},
		{"not preserving", tr(scale{factor: 2}), []string{"preservation plain", "preservation plain (default noise)", "preservation graphs"}},
		{"breaks graphs", tr(scale{factor: 1, graphs: 2}), []string{"preservation graphs"}},
		// Exact at noise 0, far off with its default noise: only the second row catches it.
		{"noisy default", tr(scale{factor: 1, loud: 1.5}), []string{"preservation plain (default noise)"}},
		{"noise within the limit", tr(scale{factor: 1, loud: 1.01}), nil},
		{"not deterministic", tr(scale{factor: 1, noisy: true}), []string{"determinism"}},
		{"accepts invalid", tr(scale{factor: 1, lax: true}), []string{"rejects invalid action"}},
		{"good controller", ctl(false), nil},
		{"forgets on load", ctl(true), []string{"save/load"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := Check(context.Background(), c.target, Options{Cases: 4, Seed: 3})
			var failed []string
			for _, r := range rs {
				if r.Status == Fail {
					failed = append(failed, r.Check)
				}
			}
			if strings.Join(failed, ",") != strings.Join(c.fails, ",") || Failed(rs) != (len(c.fails) > 0) {
				t.Errorf("failed %v, want %v\n%v", failed, c.fails, rs)
			}
			if len(rs) < 4 {
				t.Errorf("only %d rows: %v", len(rs), rs)
			}
		})
	}
	rs := Check(context.Background(), Target{Launch: func(context.Context) (*host.Plugin, error) {
		return nil, errors.New("cannot start")
	}}, Options{})
	if len(rs) != 1 || rs[0].Check != "handshake" || rs[0].Status != Fail {
		t.Errorf("unstartable: %v", rs)
	}
}
