package cli

import (
	"fmt"
	"os"
	"strconv"

	"github.com/eas-go/eas/core/engine"
	_ "github.com/eas-go/eas/core/engine/torch" // the libtorch engine, "torch" (loads its shim only when opened)
	"github.com/eas-go/eas/core/nn"
)

// engineOptions maps a command's --workers (0: all CPUs) and the variables
// EAS_BLAS (auto, openblas, gonum), EAS_BLAS_THREADS (a positive count),
// EAS_SIMD (off forces the portable kernels) and EAS_WINOGRAD (off runs 3x3
// convolutions through im2col) to options of the CPU engine (its
// nn.Settings). The engine itself reads no environment.
func engineOptions(workers int) (engine.Options, error) {
	o := engine.Options{Workers: workers}
	if workers < 0 {
		return o, fmt.Errorf("--workers must not be negative, got %d", workers)
	}
	s, err := cpuSettings()
	if err != nil {
		return o, err
	}
	if s != (nn.Settings{}) {
		o.Settings = s
	}
	return o, nil
}

// cpuSettings reads the CPU engine's settings from the environment.
func cpuSettings() (nn.Settings, error) {
	var s nn.Settings
	switch v := os.Getenv("EAS_BLAS"); v {
	case "", "auto", "openblas", "gonum":
		s.BLAS = v
	default:
		return s, fmt.Errorf("EAS_BLAS=%q: want auto, openblas or gonum", v)
	}
	if v := os.Getenv("EAS_BLAS_THREADS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return s, fmt.Errorf("EAS_BLAS_THREADS=%q: want a positive number of threads", v)
		}
		s.BLASThreads = n
	}
	switch v := os.Getenv("EAS_SIMD"); v {
	case "", "on", "auto":
	case "off":
		s.NoSIMD = true
	default:
		return s, fmt.Errorf("EAS_SIMD=%q: want off (or on, the default)", v)
	}
	switch v := os.Getenv("EAS_WINOGRAD"); v {
	case "", "on", "auto":
	case "off":
		s.NoWinograd = true
	default:
		return s, fmt.Errorf("EAS_WINOGRAD=%q: want off (or on, the default)", v)
	}
	return s, nil
}

// openEngine opens the backend named by EAS_ENGINE (default engine.Default,
// the CPU engine) with engineOptions(workers).
func openEngine(workers int) (engine.Backend, error) {
	o, err := engineOptions(workers)
	if err != nil {
		return nil, err
	}
	b, err := engine.Open(os.Getenv("EAS_ENGINE"), o)
	if err != nil {
		return nil, fmt.Errorf("EAS_ENGINE: %w", err)
	}
	return b, nil
}
