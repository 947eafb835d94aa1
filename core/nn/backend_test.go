package nn

import (
	"strings"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/engine/enginetest"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

func TestBackendOptions(t *testing.T) {
	defer restoreProcessSettings()()
	g := mustLower(t, []ir.Layer{conv(4, 3, 1), {Kind: ir.Softmax, Units: 2}}, ir.Shape{C: 1, H: 4, W: 4})
	bnID := -1
	for _, nd := range g.Nodes {
		if nd.Op == ir.OpBN {
			bnID = nd.ID
		}
	}
	for _, tc := range []struct {
		o     engine.Options
		s     Settings
		fused bool
	}{{engine.Options{Workers: 3}, Settings{}, true}, {engine.Options{Workers: 1, NoFusion: true}, Settings{BLAS: "gonum", NoSIMD: true}, false}} {
		tc.o.Settings = tc.s
		b, err := engine.Open("cpu", tc.o)
		if err != nil {
			t.Fatal(err)
		}
		m, err := b.Build(g, InitParams(g, 1), engine.ModelConfig{MaxBatch: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.(*model).Workers(); got != tc.o.Workers {
			t.Errorf("%+v: model has %d workers", tc.o, got)
		}
		x := tensor.New(1, 1, 4, 4)
		for i := range x.Data {
			x.Data[i] = float32(i%5) - 2
		}
		m.Forward(x, true)
		if fused := m.Output(bnID) == nil; fused != tc.fused {
			t.Errorf("%+v: BN fused = %v, want %v", tc.o, fused, tc.fused)
		}
		if gonum := strings.HasPrefix(BLASName(), "gonum"); gonum != (tc.s.BLAS == "gonum") || UsingOpenBLAS() && gonum {
			t.Errorf("%+v: BLAS %s", tc.o, BLASName())
		}
		if simd := KernelsName() != "go"; simd && tc.s.NoSIMD {
			t.Errorf("%+v: kernels %s", tc.o, KernelsName())
		}
	}
	if _, err := NewBackend(engine.Options{Settings: Settings{BLAS: "mkl"}}); err == nil {
		t.Error("unknown BLAS accepted")
	}
	if _, err := NewBackend(engine.Options{Settings: Settings{BLASThreads: -1}}); err == nil {
		t.Error("negative BLAS threads accepted")
	}
	if _, err := NewBackend(engine.Options{Settings: "gonum"}); err == nil || !strings.Contains(err.Error(), "nn.Settings") {
		t.Errorf("settings of another type: %v", err)
	}
	if _, err := NewBackend(engine.Options{Device: "cuda"}); err == nil || !strings.Contains(err.Error(), `"cuda"`) {
		t.Errorf("device cuda: %v", err)
	}
	if err := SetBLAS("mkl"); err == nil || !strings.Contains(err.Error(), `"mkl"`) {
		t.Errorf("SetBLAS(mkl): %v", err)
	}
}

// TestConformance holds the CPU engine to the backend suite with its default
// settings and with every setting that changes which code runs: BN+ReLU
// unfused, one worker and three (per-worker partial sums), the portable Go
// kernels, and the pure-Go BLAS.
func TestConformance(t *testing.T) {
	defer restoreProcessSettings()()
	for _, v := range []struct {
		name string
		o    engine.Options
	}{
		{"default", engine.Options{}},
		{"unfused-1-worker", engine.Options{NoFusion: true, Workers: 1}},
		{"go-kernels-gonum-3-workers", engine.Options{Settings: Settings{NoSIMD: true, BLAS: "gonum"}, Workers: 3}},
	} {
		t.Run(v.name, func(t *testing.T) {
			b, err := NewBackend(v.o)
			if err != nil {
				t.Fatal(err)
			}
			enginetest.Run(t, b)
		})
	}
}

// restoreProcessSettings returns a func that puts back the process-wide BLAS
// and kernel choices (a test run with EAS_SIMD=off must keep the Go kernels).
func restoreProcessSettings() func() {
	simd, gonum := useSIMD, forceGonum.Load()
	return func() { useSIMD = simd; forceGonum.Store(gonum) }
}

// Opening a backend with default options (as train does when it is given
// none) must not undo a process-wide choice made earlier.
func TestDefaultBackendKeepsProcessSettings(t *testing.T) {
	defer restoreProcessSettings()()
	if _, err := NewBackend(engine.Options{Settings: Settings{BLAS: "gonum", NoSIMD: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Open("", engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(BLASName(), "gonum") || KernelsName() != "go" {
		t.Errorf("after opening a default backend: %s, %s kernels; want gonum and go kept", BLASName(), KernelsName())
	}
	if _, err := NewBackend(engine.Options{Settings: &Settings{BLAS: "auto"}}); err != nil || forceGonum.Load() {
		t.Errorf("BLAS auto did not lift the gonum choice: %v", err)
	}
}
