package nn

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Table1 is the paper's start network.
func table1Layers() []ir.Layer {
	p := func(k, s int, op ir.PoolOp) ir.Layer { return ir.Layer{Kind: ir.Pool, Kernel: k, Stride: s, Op: op} }
	return []ir.Layer{conv(16, 3, 1), p(2, 2, ir.Max), conv(32, 3, 1), p(2, 2, ir.Max), conv(64, 3, 1), p(2, 2, ir.Max),
		conv(128, 3, 1), p(4, 4, ir.Avg), {Kind: ir.FC, Units: 256}, {Kind: ir.Softmax, Units: 10}}
}

func benchNet(b *testing.B, train bool) {
	g := mustLower(b, table1Layers(), ir.Shape{C: 3, H: 32, W: 32})
	n, err := Build(g, InitParams(g, 1), 64)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	x := tensor.New(64, 3, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := make([]int32, 64)
	for i := range labels {
		labels[i] = int32(r.Intn(10))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.Forward(x, train)
		if train {
			n.Loss(labels)
			n.Backward()
		}
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkTable1Train is one forward+backward of the Table 1 network, batch 64.
func BenchmarkTable1Train(b *testing.B) { benchNet(b, true) }

// BenchmarkTable1Eval is one inference forward, batch 64.
func BenchmarkTable1Eval(b *testing.B) { benchNet(b, false) }

// BenchmarkConvLayer times one 3x3 convolution layer (forward + backward,
// batch 64) of the Table 1 network and of a 10x child, by input channels,
// filters and map size, in GFLOP/s: the figure the GEMM plan (colBudget,
// bandBudget, minCols) is tuned on. Compare variants in one run.
func BenchmarkConvLayer(b *testing.B) {
	for _, s := range []struct{ c, f, hw int }{
		{3, 16, 32}, {16, 32, 16}, {32, 64, 8}, {64, 128, 4}, // Table 1
		{32, 32, 32}, {32, 64, 16}, {64, 64, 16}, {64, 128, 8}, {128, 128, 8}, {128, 192, 4}, // child
	} {
		b.Run(fmt.Sprintf("C%d-F%d-%dx%d", s.c, s.f, s.hw, s.hw), func(b *testing.B) {
			g := ir.NewGraph(ir.Shape{C: s.c, H: s.hw, W: s.hw})
			x := g.Add(ir.Node{Op: ir.OpReLU}, 0) // so the conv computes its input gradient
			g.Add(ir.Node{Op: ir.OpConv, Name: "b.conv", Filters: s.f, Kernel: 3, Stride: 1, Pad: 1}, x)
			n, err := Build(g, InitParams(g, 1), 64)
			if err != nil {
				b.Fatal(err)
			}
			n.batch = 64
			r := rand.New(rand.NewSource(1))
			for _, a := range [][]float32{n.act[1], n.grad[2]} {
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
			}
			l := n.layers[2]
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.forward(true)
				l.backward()
			}
			flop := 3 * 2 * float64(s.f*s.c*9*s.hw*s.hw*64)
			b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
