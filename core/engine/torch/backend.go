package torch

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

func init() {
	engine.Register("torch", func(o engine.Options) (engine.Backend, error) { return NewBackend(o) })
}

// Settings are the torch backend's own settings (engine.Options.Settings).
type Settings struct {
	// SharedStream runs every model on the device's default stream instead
	// of a stream of its own (for comparing both).
	SharedStream bool
}

// Backend runs models on libtorch, on the CPU or one CUDA device.
type Backend struct {
	s       *shim
	dev     int // -1: the CPU
	workers int
	set     Settings
	v       Versions
}

// ParseDevice reads "", "cpu", "cuda" or "cuda:N" (-1 is the CPU).
func ParseDevice(d string) (int, error) {
	switch {
	case d == "" || d == "cpu":
		return -1, nil
	case d == "cuda":
		return 0, nil
	case strings.HasPrefix(d, "cuda:"):
		n, err := strconv.Atoi(d[5:])
		if err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("torch engine: unknown device %q (want cpu, cuda or cuda:N)", d)
}

// NewBackend loads the shim and opens the device o.Device. Workers sets
// libtorch's CPU thread count (a process setting; 0 leaves libtorch's
// default). A CUDA device that is not there is an error naming it.
func NewBackend(o engine.Options) (*Backend, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	dev, err := ParseDevice(o.Device)
	if err != nil {
		return nil, err
	}
	b := &Backend{dev: dev, workers: o.Workers}
	switch v := o.Settings.(type) {
	case nil:
	case Settings:
		b.set = v
	case *Settings:
		b.set = *v
	default:
		return nil, fmt.Errorf("torch engine: its settings are a torch.Settings, got %T", o.Settings)
	}
	if b.s, err = load(); err != nil {
		return nil, err
	}
	if b.v, err = Info(); err != nil {
		return nil, err
	}
	if dev >= b.v.GPUs {
		if b.v.GPUs == 0 {
			return nil, fmt.Errorf("torch engine: device %s asked for, but libtorch %s (%s) sees no CUDA GPU", o.Device, b.v.LibTorch, b.s.path)
		}
		return nil, fmt.Errorf("torch engine: device %s asked for, but libtorch sees %d GPU(s)", o.Device, b.v.GPUs)
	}
	if o.Workers > 0 {
		b.s.setThreads(int32(o.Workers))
	}
	return b, nil
}

// Name is "torch".
func (b *Backend) Name() string { return "torch" }

// Device is "cpu" or "cuda:N".
func (b *Backend) Device() string {
	if b.dev < 0 {
		return "cpu"
	}
	return fmt.Sprintf("cuda:%d", b.dev)
}

// GPU is the device's name ("" on the CPU).
func (b *Backend) GPU() string {
	if b.dev < 0 {
		return ""
	}
	return GPUName(b.dev)
}

// Versions reports what the backend runs on.
func (b *Backend) Versions() Versions { return b.v }

// Describe says which libtorch, device and threads run the models.
func (b *Backend) Describe() string {
	s := fmt.Sprintf("libtorch %s on %s", b.v.LibTorch, b.Device())
	if b.dev >= 0 {
		s += fmt.Sprintf(" (%s, CUDA %s, cuDNN %s)", b.GPU(), b.v.CUDA, b.v.CuDNN)
	} else if b.workers > 0 {
		s += fmt.Sprintf(", %d threads", b.workers)
	}
	return s + ", shim " + b.s.path
}

// Memory is the graph's estimate with one worker (libtorch's convolution
// workspaces are its own); on CUDA with the device's free memory.
func (b *Backend) Memory(g *ir.Graph, batch int) engine.Memory {
	m := engine.Memory{Memory: g.Memory(batch, 1), Where: "host"}
	if b.dev >= 0 {
		var free, total int64
		b.s.cudaMem(int32(b.dev), &free, &total)
		m.Free, m.Where = free, b.Device()
	}
	return m
}

// Build copies g and params to the device.
func (b *Backend) Build(g *ir.Graph, params tensor.Map, c engine.ModelConfig) (engine.Model, error) {
	return newModel(b, g, params, c)
}
