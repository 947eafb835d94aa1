package builtin

import (
	"context"
	"math"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/refnet"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

// chain applies steps (transform names) with random valid actions.
func chain(t *testing.T, r *rand.Rand, net sdk.Network, host sdk.Host, steps []string) sdk.Network {
	ctx := context.Background()
	for _, s := range steps {
		tr, _ := Transform(s)
		actsRes, err := tr.Actions(ctx, sdk.ActionsRequest{Net: net, Space: verify.SmallSpace()})
		acts := actsRes.Actions
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) == 0 {
			continue
		}
		res, err := tr.Apply(ctx, sdk.ApplyRequest{Net: net, Action: acts[r.Intn(len(acts))], Space: verify.SmallSpace(), Seed: r.Int63(), Noise: 0}, host)
		if err != nil {
			t.Fatal(err)
		}
		net = res.Net
	}
	return net
}

// TestEpisodeChains: 4 wider then 5 deeper steps (an EAS episode), in both
// spaces, keep the function; the first training loss on the host batch
// equals the parent's.
func TestEpisodeChains(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	in := ir.Shape{C: 3, H: 8, W: 8}
	spaces := map[ir.Family][]string{
		ir.FamilyPlain:    {"wider", "wider", "wider", "wider", "deeper", "deeper", "deeper", "deeper", "deeper"},
		ir.FamilyDenseNet: {"densewider", "densewider", "densewider", "densewider", "densedeeper", "densedeeper", "densedeeper", "densedeeper", "densedeeper"},
	}
	for fam, steps := range spaces {
		worst := 0.0
		for c := 0; c < 12; c++ {
			a := verify.RandomArch(r, fam, in)
			g, _ := ir.Lower(a, in)
			net := sdk.Network{Arch: a, Input: in, Weights: verify.RandomParams(g, r)}
			host := verify.Host{Shape: in, Seed: r.Int63()}
			x, _ := host.Batch(context.Background(), verify.HostBatch)
			out := chain(t, r, net, host, steps)
			g2, err := ir.Lower(out.Arch, in)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := refnet.Logits(g, net.Weights, x, refnet.Options{})
			e, _ := refnet.Logits(g2, out.Weights, x, refnet.Options{})
			d := rel(b, e)
			worst = math.Max(worst, d)
			if d > 1e-5 {
				t.Errorf("%s: %s -> %s: max relative difference %.3g", fam, a, out.Arch, d)
			}
			// First training step: the loss on the host batch in training mode.
			labels := make([]int, verify.HostBatch)
			for i := range labels {
				labels[i] = r.Intn(a.Layers[len(a.Layers)-1].Units)
			}
			bt, _ := refnet.Logits(g, net.Weights, x, refnet.Options{Train: true})
			et, _ := refnet.Logits(g2, out.Weights, x, refnet.Options{Train: true})
			if l1, l2 := verify.Loss(bt, labels), verify.Loss(et, labels); math.Abs(l1-l2) > 1e-5*math.Max(1, l1) && fam == ir.FamilyPlain {
				t.Errorf("%s: first training loss %.8f, parent's %.8f", out.Arch, l2, l1)
			}
		}
		t.Logf("%s: 12 chains of 9 steps, max relative difference %.3g", fam, worst)
	}
}

func rel(a, b []float64) float64 {
	var n, d float64
	for i := range a {
		n = math.Max(n, math.Abs(a[i]-b[i]))
		d = math.Max(d, math.Abs(a[i]))
	}
	return n / d
}

// largeWiden widens layer 4 of a 38M-parameter network to 768 filters.
func largeWiden(tb testing.TB) (sdk.ApplyResult, int64) {
	a := ir.Arch{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 512, Kernel: 3, Stride: 1}, {Kind: ir.Conv, Filters: 512, Kernel: 3, Stride: 1},
		{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, {Kind: ir.Conv, Filters: 512, Kernel: 3, Stride: 1}, {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max},
		{Kind: ir.FC, Units: 1024}, {Kind: ir.Softmax, Units: 10}}}
	in := ir.Shape{C: 3, H: 32, W: 32}
	g, err := ir.Lower(a, in)
	if err != nil {
		tb.Fatal(err)
	}
	p, _ := g.Cost()
	w := tensor.Map{}
	for _, q := range g.Params() {
		w[q.Name] = tensor.New(q.Shape...)
	}
	tr, _ := Transform("wider")
	res, err := tr.Apply(context.Background(), sdk.ApplyRequest{Net: sdk.Network{Arch: a, Input: in, Weights: w},
		Action: sdk.Action{Transform: "wider", Args: map[string]int{"layer": 4, "to": 768}}, Space: ir.PaperSpace()}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return res, p
}

// TestWidenLargeLayer: widening a big layer gives the new width and weights of
// the widened graph's shapes. Its speed is BenchmarkWidenLargeLayer's job.
func TestWidenLargeLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 300 MB")
	}
	res, _ := largeWiden(t)
	if f := res.Net.Arch.Layers[3].Filters; f != 768 {
		t.Fatalf("layer 4 has %d filters, want 768", f)
	}
	g, err := ir.Lower(res.Net.Arch, res.Net.Input)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range g.Params() {
		wt, ok := res.Net.Weights[q.Name]
		if !ok || wt.Len() != tensor.New(q.Shape...).Len() {
			t.Fatalf("%s: missing or of the wrong size", q.Name)
		}
	}
}

// BenchmarkWidenLargeLayer: go test -run '^$' -bench WidenLarge ./builtin
func BenchmarkWidenLargeLayer(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_, p := largeWiden(b)
		b.ReportMetric(float64(p)/1e6, "Mparams")
	}
}
