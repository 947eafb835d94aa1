package host

import (
	"context"
	"errors"
	"math/rand"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/refnet"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

// scaler multiplies the last layer's weights by factor (1: the identity);
// with refuseExact it refuses noise 0 and scales by noisy instead.
type scaler struct {
	factor, noisy float32
	refuseExact   bool
}

func (scaler) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "scaler", Kind: sdk.KindTransform, Version: "1"}, nil
}

func (scaler) Actions(context.Context, sdk.ActionsRequest) (sdk.ActionsResult, error) {
	return sdk.ActionsResult{}, nil
}

func (s scaler) Apply(_ context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	f := s.factor
	if s.refuseExact {
		if req.Noise == 0 {
			return sdk.ApplyResult{}, errors.New("exact copies are not supported")
		}
		f = s.noisy
	}
	out := sdk.Network{Arch: req.Net.Arch, Input: req.Net.Input}
	if req.Net.Weights != nil {
		out.Weights = req.Net.Weights.Clone()
		w := out.Weights[ir.Weight(ir.LayerName(len(req.Net.Arch.Layers), ir.PartSM))]
		for i := range w.Data {
			w.Data[i] *= f
		}
	}
	return sdk.ApplyResult{Net: out}, nil
}

func refForward(_ context.Context, net sdk.Network, x *tensor.Tensor) ([]float32, error) {
	g, err := ir.Lower(net.Arch, net.Input)
	if err != nil {
		return nil, err
	}
	l, err := refnet.Logits(g, net.Weights, x, refnet.Options{})
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(l))
	for i, v := range l {
		out[i] = float32(v)
	}
	return out, nil
}

type randHost struct{ shape ir.Shape }

func (h randHost) Batch(_ context.Context, n int) (*tensor.Tensor, error) {
	t := tensor.New(n, h.shape.C, h.shape.H, h.shape.W)
	for i := range t.Data {
		t.Data[i] = float32(i%7) - 3
	}
	return t, nil
}

// TestGuard: the first application of a wrapped transform is checked once;
// a non-preserving one is refused, with the measured difference, from then on.
func TestGuard(t *testing.T) {
	net := smallNet(t)
	g0, err := ir.Lower(net.Arch, net.Input)
	if err != nil {
		t.Fatal(err)
	}
	net.Weights = verify.RandomParams(g0, rand.New(rand.NewSource(3))) // valid BN statistics
	cases := []struct {
		name  string
		tr    scaler
		noise float64
		pass  bool
		note  string
		tolIs float64
	}{
		{"identity", scaler{factor: 1}, -1, true, "", ExactTol},
		{"identity at noise 0", scaler{factor: 1}, 0, true, "", ExactTol},
		{"scales", scaler{factor: 2}, -1, false, "", ExactTol},
		{"refuses noise 0, small change", scaler{refuseExact: true, noisy: 1.01}, -1, true, "refused noise 0", 0.1},
		{"refuses noise 0, large change", scaler{refuseExact: true, noisy: 1.5}, -1, false, "refused noise 0", 0.1},
		{"refuses noise 0, set noise", scaler{refuseExact: true, noisy: 1.05}, 0.001, false, "refused noise 0", 0.01},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var recs []GuardCheck
			g := &Guard{Forward: refForward, Images: 4, Record: func(gc GuardCheck) { recs = append(recs, gc) }}
			tr := g.Wrap(c.tr, "scaler (/x/scaler)")
			req := sdk.ApplyRequest{Net: net, Action: sdk.Action{Transform: "scaler"}, Noise: c.noise}
			h := randHost{net.Input}
			for i := 0; i < 3; i++ {
				_, err := tr.Apply(context.Background(), req, h)
				var ge *GuardError
				if c.pass != (err == nil) || (!c.pass && (!errors.As(err, &ge) || !ge.Fatal())) {
					t.Fatalf("apply %d: %v", i, err)
				}
				if !c.pass && !strings.Contains(err.Error(), "not function-preserving") {
					t.Errorf("message %q", err)
				}
			}
			if len(recs) != 1 || recs[0].Passed != c.pass || recs[0].Tol != c.tolIs || !strings.Contains(recs[0].Note, c.note) || recs[0].Images != 4 {
				t.Fatalf("records %+v", recs)
			}
			if c.pass != (recs[0].RelDiff <= recs[0].Tol) {
				t.Errorf("rel diff %g, tol %g", recs[0].RelDiff, recs[0].Tol)
			}
		})
	}
	// Architecture-only requests (no weights) are not checked.
	var n int
	g := &Guard{Forward: refForward, Record: func(GuardCheck) { n++ }}
	arch := net
	arch.Weights = nil
	if _, err := g.Wrap(scaler{factor: 2}, "s").Apply(context.Background(), sdk.ApplyRequest{Net: arch}, randHost{net.Input}); err != nil || n != 0 {
		t.Errorf("architecture only: %v, %d checks", err, n)
	}
}
