package host

import (
	"context"
	"testing"

	"github.com/eas-go/eas/plugins/host/internal/fake"
	"github.com/eas-go/eas/plugins/sdk"
)

// BenchmarkApply measures the overhead of one transform call: direct, through
// the in-process proxy, and through a plugin subprocess (gRPC, weights chunked,
// host callback listener set up per call).
func BenchmarkApply(b *testing.B) {
	net := smallNet(b)
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := apply(ctx, fake.Transform{}, net, fake.ModeIdentity); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, lm := range launchModes() {
		if lm.name == "reexec" {
			continue // same path as subprocess
		}
		b.Run(lm.name, func(b *testing.B) {
			p := lm.start(b, sdk.KindTransform, Options{})
			defer p.Close()
			tr, _ := p.Transform()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := apply(ctx, tr, net, fake.ModeIdentity); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(lm.name+"-nohost", func(b *testing.B) {
			p := lm.start(b, sdk.KindTransform, Options{})
			defer p.Close()
			tr, _ := p.Transform()
			req := sdk.ApplyRequest{Net: net, Action: sdk.Action{Transform: "fake", Args: map[string]int{"layer": 1}}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Apply(ctx, req, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
