package gorgoniabench

import (
	"math"
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
	"github.com/eas-go/eas/dsl"
)

const benchBatch = 64

// table1 is the paper's start network in the DSL.
const table1 = "C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) C(64,3,1) P(2,2,MAX) C(128,3,1) P(4,4,AVG) FC(256) SM(10)"

// TestGorgoniaTable1Steps builds the gorgonia trainer (batch 8, well under a
// second) and checks two steps give a finite, positive loss.
func TestGorgoniaTable1Steps(t *testing.T) {
	tr, err := BuildTable1(8)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for i := 0; i < 2; i++ {
		if err := tr.Step(); err != nil {
			t.Fatal(err)
		}
		if l := tr.Loss(); math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
			t.Fatalf("step %d: loss %v, want finite and positive", i, l)
		}
		t.Logf("step %d: loss %.4f", i, tr.Loss())
	}
}

func BenchmarkGorgoniaTable1Train(b *testing.B) {
	tr, err := BuildTable1(benchBatch)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Step(); err != nil { // warm-up: first-run allocations
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tr.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkOursTable1Train(b *testing.B) {
	g, err := ir.Lower(dsl.MustArch(table1), ir.Shape{C: 3, H: 32, W: 32})
	if err != nil {
		b.Fatal(err)
	}
	params := nn.InitParams(g, 1)
	net, err := nn.Build(g, params, benchBatch)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("our engine: BLAS %s, %d workers", nn.BLASName(), net.Workers())
	opt := train.NewSGD(g, experiment.PaperChild())
	r := rand.New(rand.NewSource(1))
	x := tensor.New(benchBatch, 3, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := make([]int32, benchBatch)
	for i := range labels {
		labels[i] = int32(r.Intn(10))
	}
	step := func() {
		net.Forward(x, true)
		net.Loss(labels)
		net.Backward()
		opt.Step(params, net.Grads(), 0.01)
	}
	step() // warm-up, as for gorgonia
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "img/s")
}
