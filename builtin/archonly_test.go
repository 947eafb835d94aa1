package builtin

import (
	"context"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

// TestArchitectureOnly: every built-in applied to a network without weights
// (a dry run) needs no data (nil host), returns no weights, and gives the
// architecture and record it gives with weights, for every valid action of
// random networks.
func TestArchitectureOnly(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	in := ir.Shape{C: 3, H: 8, W: 8}
	ctx := context.Background()
	checked := 0
	for _, fam := range []ir.Family{ir.FamilyPlain, ir.FamilyDenseNet} {
		for c := 0; c < 6; c++ {
			a := verify.RandomArch(r, fam, in)
			g, _ := ir.Lower(a, in)
			full := sdk.Network{Arch: a, Input: in, Weights: verify.RandomParams(g, r)}
			bare := sdk.Network{Arch: a, Input: in}
			host := verify.Host{Shape: in, Seed: r.Int63()}
			for _, name := range TransformNames() {
				tr, _ := Transform(name)
				actsRes, err := tr.Actions(ctx, sdk.ActionsRequest{Net: bare, Space: verify.SmallSpace()})
				acts := actsRes.Actions
				if err != nil {
					t.Fatal(err)
				}
				for _, act := range acts {
					req := sdk.ApplyRequest{Action: act, Space: verify.SmallSpace(), Seed: 7, Noise: -1}
					req.Net = full
					want, err := tr.Apply(ctx, req, host)
					if err != nil {
						t.Fatalf("%s on %s with weights: %v", act, a, err)
					}
					req.Net = bare
					got, err := tr.Apply(ctx, req, nil)
					if err != nil {
						t.Fatalf("%s on %s without weights: %v", act, a, err)
					}
					if got.Net.Weights != nil {
						t.Errorf("%s on %s: weights appeared from nowhere", act, a)
					}
					if got.Net.Arch.String() != want.Net.Arch.String() || got.Record != want.Record {
						t.Errorf("%s on %s: without weights %s (%s), with weights %s (%s)", act, a, got.Net.Arch, got.Record, want.Net.Arch, want.Record)
					}
					checked++
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d actions checked", checked)
	}
	t.Logf("%d actions: architecture-only results equal the weighted ones", checked)
}
