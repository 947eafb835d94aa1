package nn

import (
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"time"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// BenchmarkConv3x3 is one training step (forward and backward) of each 3x3
// convolution of a widened child network and of DenseNet's growth
// convolutions (C = 48, F = 12), batch 64, through the Winograd path
// and through the path it takes without it (im2col, or stacked-tap when
// F <= C): compare the two in one run. cpu-ms/op (process CPU
// time) is steadier than ns/op on a shared host.
func BenchmarkConv3x3(b *testing.B) {
	shapes := []struct{ c, f, hw int }{{32, 32, 32}, {32, 64, 16}, {64, 64, 16}, {64, 128, 8}, {128, 128, 8}, {128, 192, 4}, {16, 16, 32}, {48, 12, 32}, {48, 12, 16}, {48, 12, 8}}
	for _, s := range shapes {
		for _, path := range []string{"winograd", "im2col"} {
			b.Run(fmt.Sprintf("C%d-F%d-%dx%d/%s", s.c, s.f, s.hw, s.hw, path), func(b *testing.B) {
				benchConvStep(b, s.c, s.f, s.hw, path == "im2col")
			})
		}
	}
}

// benchConvStep times forward+backward of one 3x3 convolution, batch 64,
// through im2col or (when selected) Winograd.
func benchConvStep(b *testing.B, c, f, hw int, im2col bool) {
	in := ir.Shape{C: c, H: hw, W: hw}
	g := ir.NewGraph(in)
	x := g.Add(ir.Node{Op: ir.OpDropout, Rate: 0}, 0)
	g.Add(ir.Node{Op: ir.OpConv, Name: "b.conv", Filters: f, Kernel: 3, Stride: 1, Pad: 1}, x)
	n, err := BuildWith(g, InitParams(g, 1), 64, Options{NoWinograd: im2col})
	if err != nil {
		b.Fatal(err)
	}
	if !im2col && countWino(n) == 0 {
		b.Skip("not selected for Winograd")
	}
	r := rand.New(rand.NewSource(1))
	xt := tensor.New(64, c, hw, hw)
	for i := range xt.Data {
		xt.Data[i] = float32(r.NormFloat64())
	}
	n.Forward(xt, true)
	conv := n.layers[2]
	b.ResetTimer()
	t0 := cpuTime()
	for i := 0; i < b.N; i++ {
		conv.forward(true)
		conv.backward()
	}
	b.ReportMetric((cpuTime()-t0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "img/s")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkChild10xTrain is one forward+backward of the widened and
// deepened child network of scripts/bench_peers.py (child10x), batch 64:
// all its convolutions but the first take the Winograd path.
func BenchmarkChild10xTrain(b *testing.B) {
	p := func(k, s int, op ir.PoolOp) ir.Layer { return ir.Layer{Kind: ir.Pool, Kernel: k, Stride: s, Op: op} }
	layers := []ir.Layer{conv(32, 3, 1), conv(32, 3, 1), p(2, 2, ir.Max), conv(64, 3, 1), conv(64, 3, 1), p(2, 2, ir.Max),
		conv(128, 3, 1), conv(128, 3, 1), p(2, 2, ir.Max), conv(192, 3, 1), p(4, 4, ir.Avg), {Kind: ir.FC, Units: 256}, {Kind: ir.Softmax, Units: 10}}
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
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.Forward(x, true)
		n.Loss(labels)
		n.Backward()
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "img/s")
}
