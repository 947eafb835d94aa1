package nn

import (
	"runtime"
	"testing"

	"github.com/eas-go/eas/core/ir"
)

// TestMemoryEstimate keeps ir.Graph.Memory honest about this engine: what
// Build allocates (node outputs and gradients, weight gradients, im2col
// buffers) must match the estimate's parts for it to within 20%.
func TestMemoryEstimate(t *testing.T) {
	plain := func(ls ...ir.Layer) ir.Arch { return ir.Arch{Layers: ls} }
	conv := func(f, k int) ir.Layer { return ir.Layer{Kind: ir.Conv, Filters: f, Kernel: k, Stride: 1} }
	db := ir.Layer{Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 12, Bottleneck: 48}, {Growth: 12, Bottleneck: 48}}}
	cases := []struct {
		a     ir.Arch
		batch int
	}{
		{plain(conv(32, 3), ir.Layer{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, conv(64, 3), ir.Layer{Kind: ir.GAP}, ir.Layer{Kind: ir.FC, Units: 128}, ir.Layer{Kind: ir.Softmax, Units: 10}), 64},
		{plain(conv(256, 5), conv(256, 3), ir.Layer{Kind: ir.GAP}, ir.Layer{Kind: ir.Softmax, Units: 10}), 32},
		{plain(conv(24, 3), db, ir.Layer{Kind: ir.Transition, Compression: 0.5}, db, ir.Layer{Kind: ir.GAP}, ir.Layer{Kind: ir.Softmax, Units: 10}), 64},
	}
	for _, c := range cases {
		g, err := ir.Lower(c.a, ir.Shape{C: 3, H: 32, W: 32})
		if err != nil {
			t.Fatal(err)
		}
		params := InitParams(g, 1)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n, err := Build(g, params, c.batch)
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(n)
		got := float64(after.TotalAlloc - before.TotalAlloc)
		m := g.Memory(c.batch, n.Workers())
		want := float64(m.Grads + m.Activations + m.Workspace)
		if r := got / want; r < 0.8 || r > 1.2 {
			t.Errorf("%s batch %d: Build allocated %s, the estimate says %s (ratio %.2f)", c.a, c.batch, ir.Bytes(int64(got)), ir.Bytes(int64(want)), r)
		} else {
			t.Logf("%s batch %d: allocated %s, estimated %s (ratio %.2f)", c.a, c.batch, ir.Bytes(int64(got)), ir.Bytes(int64(want)), r)
		}
	}
}
