package nn

import (
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

// child10xLayers is the widened and deepened child network of
// scripts/bench_peers.py (child10x): 10.5x the start's mult-adds.
func child10xLayers() []ir.Layer {
	p := func(k, s int, op ir.PoolOp) ir.Layer { return ir.Layer{Kind: ir.Pool, Kernel: k, Stride: s, Op: op} }
	return []ir.Layer{conv(32, 3, 1), conv(32, 3, 1), p(2, 2, ir.Max), conv(64, 3, 1), conv(64, 3, 1), p(2, 2, ir.Max),
		conv(128, 3, 1), conv(128, 3, 1), p(2, 2, ir.Max), conv(192, 3, 1), p(4, 4, ir.Avg), {Kind: ir.FC, Units: 256}, {Kind: ir.Softmax, Units: 10}}
}

func benchNet(b *testing.B, layers []ir.Layer, train bool) {
	g := mustLower(b, layers, ir.Shape{C: 3, H: 32, W: 32})
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
func BenchmarkTable1Train(b *testing.B) { benchNet(b, table1Layers(), true) }

// BenchmarkTable1Eval is one inference forward, batch 64.
func BenchmarkTable1Eval(b *testing.B) { benchNet(b, table1Layers(), false) }

// BenchmarkChild10xTrain is one forward+backward of the 10x child, batch
// 64: all its convolutions but the first take the Winograd path.
func BenchmarkChild10xTrain(b *testing.B) { benchNet(b, child10xLayers(), true) }
