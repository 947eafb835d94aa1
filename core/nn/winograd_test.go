package nn

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/engine/enginetest"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// The F(2x2,3x3) matrices, for the float64 reference of the transforms.
var (
	winoBT = [4][4]float64{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	winoAT = [2][4]float64{{1, 1, 1, 0}, {0, 1, -1, -1}}
)

// refWinoKernel is the float64 definition of kernel name on the layout of
// winograd_kernels.go: it returns what the kernel must leave in the slice it
// writes (tiles for input/grad-output, the band for output/grad-input).
func refWinoKernel(name string, band, tiles []float32, ntx, ldr, ldx int) []float64 {
	var out []float64
	if name == "input" || name == "gradOutput" {
		out = f64(tiles)
	} else {
		out = f64(band)
	}
	for tx := 0; tx < ntx; tx++ {
		for k := 0; k < lanes; k++ {
			bandAt := func(i, j int) int { return i*ldr + (2*tx+j)*lanes + k }
			tileAt := func(i, j int) int { return (4*i+j)*ldx + tx*lanes + k }
			switch name {
			case "input": // V = B^T d B
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						var s float64
						for a := 0; a < 4; a++ {
							for b := 0; b < 4; b++ {
								s += winoBT[i][a] * float64(band[bandAt(a, b)]) * winoBT[j][b]
							}
						}
						out[tileAt(i, j)] = s
					}
				}
			case "output": // y = A^T M A
				for i := 0; i < 2; i++ {
					for j := 0; j < 2; j++ {
						var s float64
						for a := 0; a < 4; a++ {
							for b := 0; b < 4; b++ {
								s += winoAT[i][a] * float64(tiles[tileAt(a, b)]) * winoAT[j][b]
							}
						}
						out[bandAt(i, j)] = s
					}
				}
			case "gradOutput": // DY = A dy A^T
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						var s float64
						for a := 0; a < 2; a++ {
							for b := 0; b < 2; b++ {
								s += winoAT[a][i] * float64(band[bandAt(a, b)]) * winoAT[b][j]
							}
						}
						out[tileAt(i, j)] = s
					}
				}
			case "gradInput": // dd += B X B^T
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						var s float64
						for a := 0; a < 4; a++ {
							for b := 0; b < 4; b++ {
								s += winoBT[a][i] * float64(tiles[tileAt(a, b)]) * winoBT[b][j]
							}
						}
						out[bandAt(i, j)] += s
					}
				}
			}
		}
	}
	return out
}

// TestWinoKernels holds the Go bodies of the tile transforms to their
// float64 definition (1e-5 relative to the values' scale) and the AVX2
// bodies to the Go bodies bit for bit, on rows of 1 to 17 tiles with
// padding between rows and between transformed values (which must stay
// untouched).
func TestWinoKernels(t *testing.T) {
	kernels := []struct {
		name     string
		goBody   func(dst, src []float32, ntx, ldr, ldx int)
		asm      func(dst, src *float32, ntx, ldr, ldx int)
		bandRows int
		toBand   bool // writes the band (else the tiles)
	}{
		{"input", winoInputGo, winoInputAVX2, 4, false},
		{"output", winoOutputGo, winoOutputAVX2, 2, true},
		{"gradOutput", winoGradOutputGo, winoGradOutputAVX2, 2, false},
		{"gradInput", winoGradInputGo, winoGradInputAVX2, 4, true},
	}
	r := rand.New(rand.NewSource(5))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
			if r.Intn(10) == 0 {
				v[i] = 0
			}
		}
		return v
	}
	for _, kc := range kernels {
		for _, ntx := range []int{1, 2, 3, 4, 7, 16, 17} {
			ldr := (2*ntx+2)*lanes + lanes*r.Intn(3)
			ldx := ntx*lanes + lanes*r.Intn(3)
			band := fill(kc.bandRows*ldr + lanes)
			tiles := fill(16*ldx + lanes)
			want := refWinoKernel(kc.name, band, tiles, ntx, ldr, ldx)
			run := func(asm bool) []float32 {
				b, ti := append([]float32(nil), band...), append([]float32(nil), tiles...)
				dst, src := ti, b
				if kc.toBand {
					dst, src = b, ti
				}
				if asm {
					kc.asm(&dst[0], &src[0], ntx, ldr, ldx)
				} else {
					kc.goBody(dst, src, ntx, ldr, ldx)
				}
				if kc.toBand {
					return b
				}
				return ti
			}
			got := run(false)
			for i, w := range want {
				if math.Abs(float64(got[i])-w) > 1e-5*(1+math.Abs(w)) {
					t.Fatalf("%s ntx=%d: Go body [%d] = %g, definition %g", kc.name, ntx, i, got[i], w)
				}
			}
			if !hasSIMD {
				continue
			}
			vec := run(true)
			for i := range got {
				if math.Float32bits(vec[i]) != math.Float32bits(got[i]) {
					t.Fatalf("%s ntx=%d: AVX2 body [%d] = %g, Go body %g", kc.name, ntx, i, vec[i], got[i])
				}
			}
		}
	}
	if !hasSIMD {
		t.Log("no AVX2+FMA here: only the Go bodies were checked")
	}
}

// withWino sets the Winograd selection and chunk size for a test; lowering
// the minimum widths and batch share lets tiny layers and batches take the
// path.
func withWino(t *testing.T, minWidth, budget int) {
	oldC, oldF, oldB, oldI := winoMinC, winoMinF, winoBudget, winoMinImages
	winoMinC, winoMinF, winoBudget, winoMinImages = minWidth, minWidth, budget, 1
	t.Cleanup(func() { winoMinC, winoMinF, winoBudget, winoMinImages = oldC, oldF, oldB, oldI })
}

// withSIMD runs the rest of a test with the vector kernels on or off.
func withSIMD(t *testing.T, on bool) {
	old := useSIMD
	SetSIMD(on)
	t.Cleanup(func() { useSIMD = old })
}

// winoLayerCases select the Winograd path (with the minimum widths
// lowered): odd and even maps, maps of one tile, bias, batches that split
// unevenly over workers and leave lanes empty, and an input gradient that is
// added (the concat case: the conv's input has other consumers).
func winoLayerCases() []layerCase {
	conv := func(f int, bias bool) func(g *ir.Graph, x int) int {
		return func(g *ir.Graph, x int) int {
			return g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: f, Kernel: 3, Stride: 1, Pad: 1, Bias: bias}, x)
		}
	}
	return []layerCase{
		{"wino-even", ir.Shape{C: 3, H: 4, W: 6}, 3, conv(4, false)},
		{"wino-odd", ir.Shape{C: 2, H: 5, W: 7}, 5, conv(3, true)},
		{"wino-one-tile-row", ir.Shape{C: 3, H: 2, W: 3}, 2, conv(2, false)},
		{"wino-tall", ir.Shape{C: 2, H: 9, W: 2}, 11, conv(3, false)},
		{"wino-add", ir.Shape{C: 2, H: 5, W: 4}, 3, func(g *ir.Graph, x int) int {
			r := g.Add(ir.Node{Op: ir.OpReLU}, x)
			c := g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: 3, Kernel: 3, Stride: 1, Pad: 1}, x)
			return g.Add(ir.Node{Op: ir.OpConcat}, r, c, x)
		}},
	}
}

// TestWinoGradients holds the Winograd path to finite differences of the
// float64 reference, with one tile row per chunk (bands carry the input
// gradient over) and whole maps of several groups per chunk, with the AVX2
// and the Go transforms.
func TestWinoGradients(t *testing.T) {
	for _, budget := range []int{1, 1 << 20} {
		for _, simd := range []bool{true, false} {
			for _, lc := range winoLayerCases() {
				for _, train := range []bool{true, false} {
					t.Run(fmt.Sprintf("%s/train=%v/budget=%d/simd=%v", lc.name, train, budget, simd), func(t *testing.T) {
						withWino(t, 1, budget)
						withSIMD(t, simd)
						g := ir.NewGraph(lc.in)
						lc.build(g, g.Add(ir.Node{Op: ir.OpDropout, Rate: 0}, 0))
						n, err := Build(g, InitParams(g, 1), lc.batch)
						if err != nil {
							t.Fatal(err)
						}
						if countWino(n) == 0 {
							t.Fatal("the convolution did not take the Winograd path")
						}
						checkLayer(t, lc, train)
					})
				}
			}
		}
	}
}

func countWino(n *Net) int {
	c := 0
	for _, l := range n.layers {
		if cl, ok := l.(*convLayer); ok && cl.wino != nil {
			c++
		}
	}
	return c
}

// winoNetRun trains one step of layers on x and returns the logits, every
// gradient and the eval logits, with the given engine settings.
func winoNetRun(t *testing.T, g *ir.Graph, x *tensor.Tensor, labels []int32, o Options, wantWino bool) map[string][]float32 {
	t.Helper()
	n, err := BuildWith(g, InitParams(g, 7), len(labels), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := countWino(n) > 0; got != wantWino {
		t.Fatalf("Winograd path taken: %v, want %v", got, wantWino)
	}
	out := map[string][]float32{}
	out["logits"] = append([]float32(nil), n.Forward(x, true).Data...)
	n.Loss(labels)
	n.Backward()
	for k, v := range n.Grads() {
		out[k] = append([]float32(nil), v...)
	}
	out["eval logits"] = append([]float32(nil), n.Forward(x, false).Data...)
	return out
}

// TestWinoMatchesIm2col compares networks of Winograd convolutions (odd and
// even maps, several layers, a dense block whose inputs get added
// gradients) with the same networks through im2col: logits and every
// gradient agree to 1e-4 relative to their largest value, for 1 to 3
// workers, with several chunk sizes. Each run is also repeated: the Winograd
// path is bit-for-bit deterministic.
func TestWinoMatchesIm2col(t *testing.T) {
	nets := []struct {
		name   string
		in     ir.Shape
		layers []ir.Layer
	}{
		{"plain-odd", ir.Shape{C: 3, H: 9, W: 7}, []ir.Layer{conv(8, 3, 1), conv(8, 3, 1), {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max}, conv(12, 3, 1), {Kind: ir.FC, Units: 5}, {Kind: ir.Softmax, Units: 3}}},
		{"densenet", ir.Shape{C: 3, H: 8, W: 8}, []ir.Layer{conv(8, 3, 1), {Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 4, Bottleneck: 8}, {Growth: 4, Bottleneck: 0}}},
			{Kind: ir.GAP}, {Kind: ir.Softmax, Units: 3}}},
	}
	for _, nt := range nets {
		for _, budget := range []int{1, 1 << 12, 1 << 20} {
			for _, workers := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("%s/budget=%d/workers=%d", nt.name, budget, workers), func(t *testing.T) {
					withWino(t, 4, budget)
					g := mustLower(t, nt.layers, nt.in)
					const batch = 11
					r := rand.New(rand.NewSource(3))
					x := tensor.New(batch, nt.in.C, nt.in.H, nt.in.W)
					for i := range x.Data {
						x.Data[i] = float32(r.NormFloat64())
					}
					labels := make([]int32, batch)
					for i := range labels {
						labels[i] = int32(r.Intn(3))
					}
					want := winoNetRun(t, g, x, labels, Options{Workers: workers, NoWinograd: true}, false)
					got := winoNetRun(t, g, x, labels, Options{Workers: workers}, true)
					again := winoNetRun(t, g, x, labels, Options{Workers: workers}, true)
					requireClose(t, want, got, 1e-4, "Winograd", "with im2col")
					for k, v := range got {
						for i := range v {
							if math.Float32bits(again[k][i]) != math.Float32bits(v[i]) {
								t.Fatalf("%s[%d] = %g, then %g: not deterministic", k, i, v[i], again[k][i])
							}
						}
					}
				})
			}
		}
	}
}

// TestLaneKernels checks the lane transposes (AVX2 on multiples of 4
// values of 8 images, Go for the rest) against their definition, exactly,
// with both kernel sets; laneOut adds when asked, and neither touches
// anything else.
func TestLaneKernels(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for _, simd := range []bool{true, false} {
		withSIMD(t, simd)
		for _, n := range []int{1, 3, 4, 5, 8, 12, 15, 16, 32, 33} {
			for _, nimg := range []int{1, 5, 8} {
				stride := n + r.Intn(5)
				src := make([]float32, 8*stride+3)
				for i := range src {
					src[i] = float32(r.NormFloat64())
				}
				dst := make([]float32, n*lanes+5)
				for i := range dst {
					dst[i] = -7
				}
				laneIn(dst, src, n, stride, nimg)
				for i, v := range dst {
					x, k := i/lanes, i%lanes
					want := float32(-7)
					if x < n && k < nimg {
						want = src[k*stride+x]
					}
					if v != want {
						t.Fatalf("simd=%v laneIn n=%d nimg=%d: dst[%d] = %g, want %g", simd, n, nimg, i, v, want)
					}
				}
				for _, add := range []bool{false, true} {
					out := make([]float32, len(src))
					for i := range out {
						out[i] = float32(i)
					}
					laneOut(out, dst, n, stride, nimg, add)
					for i, v := range out {
						k, x := i/stride, i%stride
						want := float32(i)
						if k < nimg && x < n {
							if add {
								want += dst[x*lanes+k]
							} else {
								want = dst[x*lanes+k]
							}
						}
						if v != want {
							t.Fatalf("simd=%v laneOut n=%d nimg=%d add=%v: dst[%d] = %g, want %g", simd, n, nimg, add, i, v, want)
						}
					}
				}
			}
		}
	}
}

// A training step and an evaluation through Winograd convolutions allocate
// nothing.
func TestWinoStepAllocsNothing(t *testing.T) {
	withWino(t, winoMinC, winoBudget) // any batch share
	in := ir.Shape{C: 16, H: 6, W: 5}
	g := mustLower(t, []ir.Layer{conv(16, 3, 1), conv(20, 3, 1), {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 3}}, in)
	n, err := Build(g, InitParams(g, 1), 9)
	if err != nil {
		t.Fatal(err)
	}
	if countWino(n) != 2 {
		t.Fatalf("%d convolutions took the Winograd path, want 2", countWino(n))
	}
	train, eval := stepAllocs(t, g, engine.Options{Workers: 2}, in, 9)
	if train != 0 || eval != 0 {
		t.Errorf("allocations: %v per training step, %v per evaluation; want 0", train, eval)
	}
}

// TestConformanceWinograd runs the backend suite with every 3x3 stride-1
// convolution on the Winograd path (the suite's networks are narrower than
// the path's minimum width, lowered here to 1), one tile row per chunk:
// with the default kernels and BLAS, and with the Go transforms and gonum.
func TestConformanceWinograd(t *testing.T) {
	defer restoreProcessSettings()()
	for _, o := range []engine.Options{{Workers: 2}, {Settings: Settings{NoSIMD: true, BLAS: "gonum"}, Workers: 3}} {
		t.Run(fmt.Sprintf("nosimd=%v", o.Settings != nil), func(t *testing.T) {
			withWino(t, 1, 1)
			b, err := NewBackend(o)
			if err != nil {
				t.Fatal(err)
			}
			enginetest.Run(t, b)
		})
	}
}

// TestWinoWorkspaceEstimate holds ir.Graph.Memory's workspace to what Build
// allocates beyond activations and gradients for a network of Winograd
// convolutions (20%), with several chunk shapes: whole maps of several
// groups, bands of tile rows, odd maps.
func TestWinoWorkspaceEstimate(t *testing.T) {
	cases := []struct {
		in     ir.Shape
		layers []ir.Layer
		batch  int
	}{
		{ir.Shape{C: 16, H: 32, W: 32}, []ir.Layer{conv(64, 3, 1), conv(128, 3, 1), conv(96, 3, 1), {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 10}}, 16},
		{ir.Shape{C: 24, H: 9, W: 7}, []ir.Layer{conv(32, 3, 1), conv(48, 3, 1), {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 10}}, 40},
	}
	for _, c := range cases {
		g := mustLower(t, c.layers, c.in)
		params := InitParams(g, 1)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n, err := BuildWith(g, params, c.batch, Options{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if countWino(n) != len(c.layers)-2 {
			t.Fatalf("%d convolutions took the Winograd path, want %d", countWino(n), len(c.layers)-2)
		}
		m := g.Memory(c.batch, 2)
		got := float64(after.TotalAlloc-before.TotalAlloc) - float64(m.Grads+m.Activations)
		if r := got / float64(m.Workspace); r < 0.8 || r > 1.2 {
			t.Errorf("%v batch %d: Build allocated %s of workspace, the estimate says %s (ratio %.2f)", c.layers, c.batch, ir.Bytes(int64(got)), ir.Bytes(m.Workspace), r)
		}
	}
}

// TestWinoRandomShapes compares single Winograd convolutions with im2col on
// random shapes (maps 2 to 13 on a side, odd and even, 1 to 12 images over 1
// to 3 workers, random chunk sizes, bias or not, added input gradient or
// not): output, input gradient and weight gradient agree to 1e-4 relative.
func TestWinoRandomShapes(t *testing.T) {
	r := rand.New(rand.NewSource(21))
	for trial := 0; trial < 40; trial++ {
		in := ir.Shape{C: 1 + r.Intn(6), H: 2 + r.Intn(12), W: 2 + r.Intn(12)}
		f, batch := 1+r.Intn(6), 1+r.Intn(12)
		workers := 1 + r.Intn(min(3, batch)) // Winograd wants a share of the batch per worker
		budget := []int{1, 1 << 10, 1 << 20}[r.Intn(3)]
		bias, add := r.Intn(2) == 0, r.Intn(2) == 0
		name := fmt.Sprintf("%v-F%d-batch%d-workers%d-budget%d-bias%v-add%v", in, f, batch, workers, budget, bias, add)
		t.Run(name, func(t *testing.T) {
			withWino(t, 1, budget)
			g := ir.NewGraph(in)
			x := g.Add(ir.Node{Op: ir.OpDropout, Rate: 0}, 0)
			c := g.Add(ir.Node{Op: ir.OpConv, Name: "t.conv", Filters: f, Kernel: 3, Stride: 1, Pad: 1, Bias: bias}, x)
			if add { // a second consumer of x: the conv adds its input gradient
				g.Add(ir.Node{Op: ir.OpConcat}, c, x)
			}
			xt := tensor.New(batch, in.C, in.H, in.W)
			for i := range xt.Data {
				xt.Data[i] = float32(r.NormFloat64())
			}
			params := InitParams(g, int64(trial))
			seed := make([]float32, batch*g.Nodes[len(g.Nodes)-1].Out.Size())
			for i := range seed {
				seed[i] = float32(r.NormFloat64())
			}
			run := func(noWino bool) map[string][]float32 {
				n, err := BuildWith(g, params, batch, Options{Workers: workers, NoWinograd: noWino})
				if err != nil {
					t.Fatal(err)
				}
				if got := countWino(n) == 1; got == noWino {
					t.Fatalf("Winograd taken: %v, want %v", got, !noWino)
				}
				n.Forward(xt, true)
				last := len(g.Nodes) - 1
				copy(n.grad[last], seed)
				for i := last; i > 0; i-- {
					n.layers[i].backward()
				}
				out := map[string][]float32{"y": append([]float32(nil), n.Output(c)...), "dx": append([]float32(nil), n.grad[x][:batch*in.Size()]...)}
				for k, v := range n.Grads() {
					out[k] = append([]float32(nil), v...)
				}
				return out
			}
			requireClose(t, run(true), run(false), 1e-4, "Winograd", "with im2col")
		})
	}
}

// Settings.NoWinograd reaches the nets a backend builds, and
// Describe says which convolutions run.
func TestBackendNoWinograd(t *testing.T) {
	g := mustLower(t, []ir.Layer{conv(16, 3, 1), {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 2}}, ir.Shape{C: 16, H: 4, W: 4})
	for _, off := range []bool{false, true} {
		b, err := engine.Open("cpu", engine.Options{Workers: 2, Settings: Settings{NoWinograd: off}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := b.Build(g, InitParams(g, 1), engine.ModelConfig{MaxBatch: 16})
		if err != nil {
			t.Fatal(err)
		}
		if got := countWino(m.(*model).Net) == 1; got == off {
			t.Errorf("NoWinograd=%v: Winograd taken = %v", off, got)
		}
		if d := b.Describe(); strings.Contains(d, "no Winograd") != off {
			t.Errorf("NoWinograd=%v: Describe() = %q", off, d)
		}
	}
}
