package torch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// ABI is the shim ABI version this package speaks (EAS_TORCH_ABI in
// shim/eas_torch.cpp).
const ABI = 1

// LibName is the shim's file name; LibEnv names a path that overrides the
// search.
const (
	LibName = "libeas_torch.so"
	LibEnv  = "EAS_TORCH_LIB"
)

// shim holds the C functions of a loaded library.
type shim struct {
	path        string
	abiVersion  func() int32
	versions    func(buf *byte, n int32)
	gpuName     func(dev int32, buf *byte, n int32)
	cudaMem     func(dev int32, free, total *int64)
	setThreads  func(n int32)
	lastError   func() string
	modelNew    func(dev int32, maxBatch, c, h, w, classes int64, seed uint64, mom, wd float32, nesterov, ownStream int32) uintptr
	modelFree   func(m uintptr)
	modelError  func(m uintptr) string
	addNode     func(m uintptr, op int32, in *int64, nin int32, attrs *int64, rate float32) int32
	setParam    func(m uintptr, node, slot int32, shape *int64, ndim int32, data *float32, trainable int32) int32
	forward     func(m uintptr, x *float32, b int64, train int32) int32
	logits      func(m uintptr, dst *float32) int32
	loss        func(m uintptr, labels *int32, loss *float64, correct *int64) int32
	addLoss     func(m uintptr, labels *int32) int32
	takeLoss    func(m uintptr, sum *float64, correct, n *int64) int32
	backward    func(m uintptr) int32
	step        func(m uintptr, lr float32) int32
	read        func(m uintptr, node, slot, what int32, dst *float32, n int64) int64
	setMomentum func(m uintptr, node, slot int32, src *float32, n int64) int32
	sync        func(m uintptr) int32
}

var (
	loadOnce sync.Once
	loaded   *shim
	loadErr  error
)

// ErrNoShim is wrapped by the error of opening the backend where no shim
// library is found.
var ErrNoShim = errors.New("torch engine: " + LibName + " not found")

// load finds and opens the shim once per process.
func load() (*shim, error) {
	loadOnce.Do(func() { loaded, loadErr = open(findLib()) })
	return loaded, loadErr
}

// candidates lists where the shim is looked for, in order.
func candidates() []string {
	if p := os.Getenv(LibEnv); p != "" {
		return []string{p}
	}
	var out []string
	if exe, err := os.Executable(); err == nil {
		out = append(out, filepath.Join(filepath.Dir(exe), LibName))
	}
	// The module's bin/, for go test and go run (the binary is in a
	// temporary directory then).
	if dir, err := os.Getwd(); err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				out = append(out, filepath.Join(d, "bin", LibName))
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return out
}

func findLib() (string, []string) {
	c := candidates()
	for _, p := range c {
		if _, err := os.Stat(p); err == nil {
			return p, c
		}
	}
	return "", c
}

// open loads the library at path and checks its ABI version.
func open(path string, looked []string) (*shim, error) {
	if path == "" {
		where := strings.Join(looked, ", ")
		if os.Getenv(LibEnv) != "" {
			where = LibEnv + "=" + where
		}
		return nil, fmt.Errorf("%w (looked in %s): build it with `make torch` (needs g++ and Debian's libtorch-dev or a pip torch >= 2), or set %s", ErrNoShim, where, LibEnv)
	}
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("torch engine: loading %s: %v (a shim built against another libtorch, or libtorch missing: rebuild it with `make torch`)", path, err)
	}
	s := &shim{path: path}
	for _, f := range []struct {
		name string
		fn   any
	}{
		{"eas_abi_version", &s.abiVersion}, {"eas_versions", &s.versions}, {"eas_gpu_name", &s.gpuName},
		{"eas_cuda_mem", &s.cudaMem}, {"eas_set_threads", &s.setThreads}, {"eas_last_error", &s.lastError},
		{"eas_model_new", &s.modelNew}, {"eas_model_free", &s.modelFree}, {"eas_model_error", &s.modelError},
		{"eas_add_node", &s.addNode}, {"eas_set_param", &s.setParam}, {"eas_forward", &s.forward},
		{"eas_logits", &s.logits}, {"eas_loss", &s.loss}, {"eas_add_loss", &s.addLoss}, {"eas_take_loss", &s.takeLoss},
		{"eas_backward", &s.backward}, {"eas_step", &s.step}, {"eas_read", &s.read},
		{"eas_set_momentum", &s.setMomentum}, {"eas_sync", &s.sync},
	} {
		sym, err := purego.Dlsym(lib, f.name)
		if err != nil {
			if f.name == "eas_abi_version" {
				return nil, fmt.Errorf("torch engine: %s is not an eas libtorch shim (no eas_abi_version): rebuild it with `make torch`", path)
			}
			return nil, fmt.Errorf("torch engine: %s lacks %s: a shim of another version; rebuild it with `make torch`", path, f.name)
		}
		purego.RegisterFunc(f.fn, sym)
		if f.name == "eas_abi_version" {
			if v := s.abiVersion(); v != ABI {
				return nil, fmt.Errorf("torch engine: %s has shim ABI version %d, this eas needs %d: rebuild it with `make torch`", path, v, ABI)
			}
		}
	}
	return s, nil
}

// Versions are what the loaded shim and libtorch report.
type Versions struct {
	Lib      string // the shim's path
	LibTorch string // "1.13.1", "2.3.0+cu121"
	CUDA     string // CUDA runtime version, "" without a GPU
	CuDNN    string
	GPUs     int
}

// Info loads the shim (if it is not loaded yet) and reports versions.
func Info() (Versions, error) {
	s, err := load()
	if err != nil {
		return Versions{}, err
	}
	buf := make([]byte, 256)
	s.versions(&buf[0], int32(len(buf)))
	v := Versions{Lib: s.path}
	for _, f := range strings.Fields(cstr(buf)) {
		k, val, _ := strings.Cut(f, "=")
		switch k {
		case "libtorch":
			v.LibTorch = val
		case "cuda":
			v.CUDA = val
		case "cudnn":
			v.CuDNN = val
		case "gpus":
			fmt.Sscan(val, &v.GPUs)
		}
	}
	return v, nil
}

// GPUName is CUDA device dev's name ("" when unknown).
func GPUName(dev int) string {
	s, err := load()
	if err != nil {
		return ""
	}
	buf := make([]byte, 256)
	s.gpuName(int32(dev), &buf[0], int32(len(buf)))
	return cstr(buf)
}

func cstr(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}
