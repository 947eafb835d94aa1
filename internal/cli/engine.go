package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/engine/torch" // the libtorch engine, "torch" (loads its shim only when opened)
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/store"
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

// EngineFlags choose the engine and device of the commands that train or
// evaluate (run, train, bench, eval, worker).
type EngineFlags struct {
	Engine string `env:"EAS_ENGINE" help:"Engine: cpu (eas's own, the default) or torch (libtorch; build its shim with make torch). Empty: chosen by --device."`
	Device string `env:"EAS_DEVICE" default:"auto" help:"Device: cpu, cuda, cuda:N, or auto (CUDA through the torch engine when its shim and a GPU are present, else the CPU engine)."`
}

// torchInfo reports the torch engine's shim and GPUs; a variable so that
// tests can pretend there is a GPU.
var torchInfo = func() (torch.Versions, error) { return torch.Info() }

// resolve turns the flags into a backend name and device, failing at once
// (one line) where the choice cannot run.
func (f EngineFlags) resolve() (name, device string, err error) {
	name, device = f.Engine, f.Device
	if name == "" {
		name = os.Getenv("EAS_ENGINE")
	}
	if device == "" {
		device = os.Getenv("EAS_DEVICE")
	}
	if device == "" {
		device = "auto"
	}
	switch name {
	case "", "cpu", "torch":
	default:
		return "", "", fmt.Errorf("--engine %q: want cpu or torch (registered: %v)", name, engine.Names())
	}
	cuda := strings.HasPrefix(device, "cuda")
	switch {
	case device == "auto" && name == "cpu", device == "cpu":
		if name == "" {
			name = "cpu"
		}
		return name, "cpu", nil
	case device == "auto":
		v, err := torchInfo()
		if name == "torch" && err != nil {
			return "", "", err
		}
		if err == nil && v.GPUs > 0 {
			return "torch", "cuda", nil
		}
		if name == "" {
			name = "cpu"
		}
		return name, "cpu", nil
	case cuda && name == "cpu":
		return "", "", fmt.Errorf("--device %s needs --engine torch (the CPU engine runs on the CPU only)", device)
	case cuda:
		if _, err := torch.ParseDevice(device); err != nil {
			return "", "", fmt.Errorf("--device: %w", err)
		}
		v, err := torchInfo()
		if err != nil {
			return "", "", fmt.Errorf("--device %s: %w", device, err)
		}
		if v.GPUs == 0 {
			return "", "", fmt.Errorf("--device %s: libtorch %s sees no CUDA GPU (shim %s)", device, v.LibTorch, v.Lib)
		}
		return "torch", device, nil
	}
	return "", "", fmt.Errorf("--device %q: want cpu, cuda, cuda:N or auto", device)
}

// openEngine opens the backend f chooses, with workers CPU threads and,
// for the CPU engine, the settings of engineOptions.
func openEngine(f EngineFlags, workers int) (engine.Backend, error) {
	o, err := engineOptions(workers)
	if err != nil {
		return nil, err
	}
	name, device, err := f.resolve()
	if err != nil {
		return nil, err
	}
	if name != "cpu" {
		o.Settings = nil // EAS_BLAS and friends are the CPU engine's
	}
	if name == "torch" {
		o.Device = device
	}
	return engine.Open(name, o)
}

// engineVersions says what ran, for versions.json and bench: engine,
// device, and for the torch engine libtorch, CUDA, cuDNN and the GPU.
func engineVersions(b engine.Backend) map[string]string {
	m := map[string]string{"engine": b.Name(), "device": "cpu"}
	if tb, ok := b.(*torch.Backend); ok {
		v := tb.Versions()
		m["device"], m["libtorch"] = tb.Device(), v.LibTorch
		if tb.Device() != "cpu" {
			m["cuda"], m["cudnn"], m["gpu"] = v.CUDA, v.CuDNN, tb.GPU()
		}
	}
	return m
}

// recordEngine adds what engineVersions says to the run directory's
// versions.json (written by writeProvenance): the engine of the latest
// start or resume.
func recordEngine(dir string, b engine.Backend) error {
	path := filepath.Join(dir, "versions.json")
	v := map[string]string{}
	if old, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(old, &v); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for k, val := range engineVersions(b) {
		v[k] = val
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(path, out)
}
