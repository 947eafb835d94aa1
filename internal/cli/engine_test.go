package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/engine/torch"
	"github.com/eas-go/eas/core/nn"
)

func TestEngineOptionsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		blas, threads, simd, wino string
		workers                   int
		want                      engine.Options
		err                       string
	}{
		{want: engine.Options{}},
		{workers: 3, blas: "gonum", threads: "2", simd: "off", want: engine.Options{Workers: 3, Settings: nn.Settings{BLAS: "gonum", BLASThreads: 2, NoSIMD: true}}},
		{blas: "openblas", simd: "on", want: engine.Options{Settings: nn.Settings{BLAS: "openblas"}}},
		{blas: "mkl", err: `EAS_BLAS="mkl"`},
		{threads: "0", err: `EAS_BLAS_THREADS="0"`},
		{threads: "two", err: `EAS_BLAS_THREADS="two"`},
		{simd: "no", err: `EAS_SIMD="no"`},
		{wino: "off", want: engine.Options{Settings: nn.Settings{NoWinograd: true}}},
		{wino: "on", want: engine.Options{}},
		{wino: "0", err: `EAS_WINOGRAD="0"`},
		{workers: -1, err: "--workers"},
	} {
		t.Setenv("EAS_BLAS", tc.blas)
		t.Setenv("EAS_BLAS_THREADS", tc.threads)
		t.Setenv("EAS_SIMD", tc.simd)
		t.Setenv("EAS_WINOGRAD", tc.wino)
		got, err := engineOptions(tc.workers)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want one naming %s", tc, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %+v, %v; want %+v", tc, got, err, tc.want)
		}
	}
}

func TestOpenEngine(t *testing.T) {
	t.Setenv("EAS_ENGINE", "")
	t.Setenv("EAS_DEVICE", "")
	b, err := openEngine(EngineFlags{Engine: "cpu"}, 2)
	if err != nil || b.Name() != "cpu" || !strings.Contains(b.Describe(), "2 workers") {
		t.Fatalf("default engine: %v, %v", b, err)
	}
	if _, err := openEngine(EngineFlags{Engine: "tpu"}, 0); err == nil || !strings.Contains(err.Error(), `--engine "tpu": want cpu or torch`) {
		t.Errorf("unknown engine: %v", err)
	}
}

// TestEngineFlagsResolve: --engine and --device (and EAS_ENGINE,
// EAS_DEVICE) choose a backend; auto takes CUDA only where the shim sees a
// GPU; cuda where it cannot run fails at once with one line.
func TestEngineFlagsResolve(t *testing.T) {
	noShim := fmt.Errorf("%w (looked in x): build it with `make torch`", torch.ErrNoShim)
	defer func(f func() (torch.Versions, error)) { torchInfo = f }(torchInfo)
	for _, tc := range []struct {
		f            EngineFlags
		env          string // EAS_DEVICE
		gpus         int
		shimErr      error
		name, device string
		err          string
	}{
		{name: "cpu", device: "cpu"},
		{gpus: 1, name: "torch", device: "cuda"},
		{shimErr: noShim, name: "cpu", device: "cpu"},
		{f: EngineFlags{Engine: "cpu"}, gpus: 1, name: "cpu", device: "cpu"},
		{f: EngineFlags{Engine: "torch"}, name: "torch", device: "cpu"},
		{f: EngineFlags{Engine: "torch"}, shimErr: noShim, err: "make torch"},
		{f: EngineFlags{Engine: "torch", Device: "cpu"}, gpus: 1, name: "torch", device: "cpu"},
		{f: EngineFlags{Device: "cpu"}, gpus: 1, name: "cpu", device: "cpu"},
		{f: EngineFlags{Device: "cuda:1"}, gpus: 2, name: "torch", device: "cuda:1"},
		{f: EngineFlags{Device: "cuda"}, err: "--device cuda: libtorch 2.9 sees no CUDA GPU"},
		{f: EngineFlags{Device: "cuda"}, shimErr: noShim, err: "--device cuda: torch engine: libeas_torch.so not found"},
		{env: "cuda", err: "--device cuda: libtorch 2.9 sees no CUDA GPU"},
		{f: EngineFlags{Engine: "cpu", Device: "cuda"}, gpus: 1, err: "--device cuda needs --engine torch"},
		{f: EngineFlags{Device: "cuda:x"}, gpus: 1, err: `unknown device "cuda:x"`},
		{f: EngineFlags{Device: "tpu"}, err: `--device "tpu": want cpu, cuda, cuda:N or auto`},
		{f: EngineFlags{Engine: "tpu"}, err: `--engine "tpu"`},
	} {
		t.Setenv("EAS_ENGINE", "")
		t.Setenv("EAS_DEVICE", tc.env)
		torchInfo = func() (torch.Versions, error) {
			return torch.Versions{LibTorch: "2.9", GPUs: tc.gpus, Lib: "x"}, tc.shimErr
		}
		name, device, err := tc.f.resolve()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%+v (EAS_DEVICE=%q, %d GPUs, shim %v): %v; want one line with %q", tc.f, tc.env, tc.gpus, tc.shimErr, err, tc.err)
			}
			continue
		}
		if err != nil || name != tc.name || device != tc.device {
			t.Errorf("%+v (%d GPUs, shim %v): %s on %s, %v; want %s on %s", tc.f, tc.gpus, tc.shimErr, name, device, err, tc.name, tc.device)
		}
	}
}
