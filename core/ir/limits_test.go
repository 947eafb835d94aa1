package ir_test

import (
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
)

// deepArch is n convolutions then SM: the shape of a long search result.
func deepArch(t *testing.T, n int) (ir.Arch, ir.Shape) {
	t.Helper()
	in := ir.Shape{C: 1, H: 4, W: 4}
	a, l := dsl.ValidateArch("x", strings.Repeat("C(2,3,1) ", n)+"SM(2)", in)
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return a, in
}

// TestCheckWorkIsLinear counts allocations (deterministic, unlike time) of
// what `easrun check` does for an architecture: parse and check, lower,
// cost every node, total. Doubling the layers must roughly double the work;
// costs recomputed per node (every NodeCost listing all parameters) made it
// quadruple.
func TestCheckWorkIsLinear(t *testing.T) {
	work := func(n int) float64 {
		src := strings.Repeat("C(2,3,1) ", n) + "SM(2)"
		in := ir.Shape{C: 1, H: 4, W: 4}
		return testing.AllocsPerRun(1, func() {
			a, l := dsl.ValidateArch("x", src, in)
			if l.HasErrors() {
				t.Fatal(l.Err())
			}
			g, err := ir.Lower(a, in)
			if err != nil {
				t.Fatal(err)
			}
			for id := range g.Nodes {
				g.NodeCost(id)
			}
			g.Cost()
			g.Memory(64, 2)
		})
	}
	small, large := work(400), work(1600)
	if r := large / small; r > 4.8 { // linear: ~4; quadratic: ~16
		t.Errorf("checking 1600 layers allocates %.0f times, 400 layers %.0f: ratio %.1f, want about 4 (linear)", large, small, r)
	}
}

// TestCostIsLinear: Cost alone, the part that was quadratic.
func TestCostIsLinear(t *testing.T) {
	allocs := func(n int) float64 {
		a, in := deepArch(t, n)
		g, err := ir.Lower(a, in)
		if err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(1, func() { g.Cost() })
	}
	small, large := allocs(200), allocs(800)
	if small == 0 {
		// Cost allocates nothing: then it cannot be quadratic in allocations.
		if large != 0 {
			t.Errorf("Cost of 200 layers allocates nothing, of 800 layers %.0f times", large)
		}
		return
	}
	if r := large / small; r > 4.8 {
		t.Errorf("Cost of 800 layers allocates %.0f times, 200 layers %.0f: ratio %.1f, want about 4", large, small, r)
	}
}

func TestLimits(t *testing.T) {
	in := ir.Shape{C: 3, H: 32, W: 32}
	cases := []struct{ arch, want string }{
		{strings.Repeat("DO(0.1) ", ir.MaxLayers) + "SM(2)", "x:1:80001: error: the architecture has 10001 layers; the limit is 10000"},
		{"C(100000000,3,1) SM(10)", "C: number of filters must be at most 16777216, got 100000000"},
		{"C(16,2049,1) SM(10)", "C: kernel size must be at most 1024, got 2049"},
		{"FC(16777216) FC(16777216) SM(10)", "the network would have 2.82e+14 parameters; the limit is 6.87e+10"},
		{"C(16777216,1,1) C(16777216,1,1) SM(2)", "parameters; the limit is"},
		{"C(8,3,1) DB(10000x1) T(1) DB(2x1) GAP SM(2)", "layer 4: the dense blocks have 10002 layers in all up to here; the limit is 10000"},
	}
	for _, c := range cases {
		a, l := dsl.ParseArch("x", c.arch)
		var err error
		if l.HasErrors() {
			err = l.Err()
		} else {
			err = a.Validate(in)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60s: got %v, want %q", c.arch, err, c.want)
		}
	}
	long := ir.Arch{Layers: make([]ir.Layer, ir.MaxLayers+1)}
	for i := range long.Layers {
		long.Layers[i] = ir.Layer{Kind: ir.Dropout}
	}
	if ps := long.Check(in); len(ps) != 1 || ps[0].Layer != ir.MaxLayers+1 || ps[0].Msg != "the architecture has 10001 layers; the limit is 10000" {
		t.Errorf("too many layers: %v", ps)
	}
	if err := (ir.Arch{Layers: []ir.Layer{{Kind: ir.Softmax, Units: 2}}}).Validate(ir.Shape{C: 3, H: 1 << 20, W: 1}); err == nil {
		t.Error("a 1048576-pixel-high input was accepted")
	}
}

func TestMemory(t *testing.T) {
	a, l := dsl.ValidateArch("x", "C(16,3,1) P(2,2,MAX) FC(32) SM(10)", ir.Shape{C: 3, H: 8, W: 8})
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	g, err := ir.Lower(a, ir.Shape{C: 3, H: 8, W: 8})
	if err != nil {
		t.Fatal(err)
	}
	m := g.Memory(4, 2)
	// Parameters: conv 16*3*3*3 + BN 4*16 + FC 32*256 + BN 4*32 + SM 10*32+10.
	weights := int64(432 + 64 + 8192 + 128 + 330)
	trainable := int64(432 + 32 + 8192 + 64 + 330)
	// Node outputs per example: 192 input, 1024 conv, 1024 bn, 1024 relu, 256 pool, 32*3, 10.
	acts := int64(192 + 3*1024 + 256 + 3*32 + 10)
	// im2col: per worker (2) the 27 x 64 patches of a chunk of 4 images and
	// their gradient, an output buffer for the chunk, and a weight gradient
	// 16 x 27.
	col := int64(27 * 64)
	work := 2 * (2*4*col + 16*4*64 + 16*27)
	want := ir.Memory{Params: 4 * weights, Grads: 4 * trainable, Optimizer: 4 * trainable,
		Activations: 4 * 2 * 4 * acts, Workspace: 4 * work}
	if m != want {
		t.Errorf("Memory(4) = %+v, want %+v", m, want)
	}
	if m.Total() != want.Params+want.Grads+want.Optimizer+want.Activations+want.Workspace {
		t.Errorf("Total = %d", m.Total())
	}
	// The example: 100 million filters would need terabytes.
	huge := ir.Arch{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 1 << 22, Kernel: 3, Stride: 1}, {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 10}}}
	hg, err := ir.Lower(huge, ir.Shape{C: 3, H: 32, W: 32})
	if err != nil {
		t.Fatal(err)
	}
	if tot := hg.Memory(64, 2).Total(); tot < 1<<40 {
		t.Errorf("C(4194304,3,1) on 32x32 for batch 64: %s, want terabytes", ir.Bytes(tot))
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 30: "3.0 GiB"} {
		if got := ir.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
