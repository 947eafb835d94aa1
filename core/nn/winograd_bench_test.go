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
// convolution of the Table 1 network, of a widened child network and of
// DenseNet's growth convolutions (C = 48, F = 12), batch 64, through the
// Winograd path and through the path it takes without it (im2col, or
// stacked-tap when F <= C; chunks of images or bands of rows as conv.go's
// plan chooses): compare the two in one run. cpu-ms/op (process CPU time)
// is steadier than ns/op on a shared host; GFLOP/s counts direct
// convolution's multiply-adds for both paths.
func BenchmarkConv3x3(b *testing.B) {
	shapes := []struct{ c, f, hw int }{{3, 16, 32}, {16, 32, 16}, {32, 64, 8}, {64, 128, 4}, {32, 32, 32}, {32, 64, 16}, {64, 64, 16}, {64, 128, 8}, {128, 128, 8}, {128, 192, 4}, {16, 16, 32}, {48, 12, 32}, {48, 12, 16}, {48, 12, 8}}
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
	b.ReportMetric(3*2*float64(f*c*9*hw*hw*64)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
