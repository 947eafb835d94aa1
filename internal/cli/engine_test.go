package cli

import (
	"strings"
	"testing"

	"github.com/eas-go/eas/core/engine"
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
	b, err := openEngine(2)
	if err != nil || b.Name() != "cpu" || !strings.Contains(b.Describe(), "2 workers") {
		t.Fatalf("default engine: %v, %v", b, err)
	}
	t.Setenv("EAS_ENGINE", "tpu")
	if _, err := openEngine(0); err == nil || !strings.Contains(err.Error(), `EAS_ENGINE: engine: unknown backend "tpu" (registered: [cpu])`) {
		t.Errorf("unknown engine: %v", err)
	}
}
