package train

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
)

// MemoryLimitEnv overrides the memory training may use (bytes, or a number
// with a KiB, MiB, GiB or TiB suffix); without it, MemAvailable from
// /proc/meminfo is the limit.
const MemoryLimitEnv = "EAS_MEMORY_LIMIT"

// MemoryLimit is the memory training may use and where that figure comes
// from. ok is false when it is unknown (no /proc/meminfo, no override):
// then nothing is refused.
func MemoryLimit() (limit int64, source string, ok bool, err error) {
	if v := os.Getenv(MemoryLimitEnv); v != "" {
		n, err := ParseBytes(v)
		if err != nil {
			return 0, "", false, fmt.Errorf("%s=%q: %w", MemoryLimitEnv, v, err)
		}
		return n, MemoryLimitEnv, true, nil
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, "", false, nil
	}
	defer f.Close()
	n, ok := memAvailable(f)
	return n, "MemAvailable in /proc/meminfo", ok, nil
}

// memAvailable reads the MemAvailable line ("MemAvailable: 123 kB").
func memAvailable(f *os.File) (int64, bool) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemAvailable:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// ParseBytes reads "8GiB", "512 MiB", "1.5TiB" or a plain byte count.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	for i, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if rest, ok := strings.CutSuffix(s, u); ok {
			s, mult = strings.TrimSpace(rest), float64(int64(1)<<(10*(i+1)))
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0 && v*mult <= 1<<62) {
		return 0, fmt.Errorf("not a positive size: want bytes or a number with KiB, MiB, GiB or TiB")
	}
	return int64(v * mult), nil
}

// CheckMemory refuses, before anything is allocated, a network whose
// estimated training memory for batch on the CPU engine (Estimate) exceeds
// limit; the error gives the estimate's parts and where the limit comes
// from.
func CheckMemory(g *ir.Graph, batch int, limit int64, source string) error {
	return checkMemory(g, batch, Estimate(g, batch), limit, source, MemoryLimitEnv)
}

func checkMemory(g *ir.Graph, batch int, m ir.Memory, limit int64, source, override string) error {
	if m.Total() <= limit {
		return nil
	}
	hint := ""
	if override != "" {
		hint = ", or set " + override
	}
	return fmt.Errorf("training %s with batch %d needs about %s (%s), but %s is available (%s): use a smaller network or batch%s",
		g.Arch, batch, ir.Bytes(m.Total()), DescribeMemory(m), ir.Bytes(limit), source, hint)
}

// Estimate is g.Memory for batch with one set of per-worker buffers per
// CPU, the CPU engine's default (more workers than that are rare); other
// backends estimate their own (engine.Backend.Memory).
func Estimate(g *ir.Graph, batch int) ir.Memory { return g.Memory(batch, runtime.NumCPU()) }

// FitsMemory checks backend b's estimate (nil: the default backend) for
// training g with batch: against free device memory for a device backend,
// against MemoryLimit for one that trains in host memory.
func FitsMemory(b engine.Backend, g *ir.Graph, batch int) error {
	b, err := backend(b)
	if err != nil {
		return err
	}
	m := b.Memory(g, batch)
	if m.Free > 0 {
		return checkMemory(g, batch, m.Memory, m.Free, "free memory on "+m.Where, "")
	}
	limit, source, ok, err := MemoryLimit()
	if err != nil || !ok {
		return err
	}
	return checkMemory(g, batch, m.Memory, limit, source, MemoryLimitEnv)
}

// DescribeMemory lists an estimate's parts for people.
func DescribeMemory(m ir.Memory) string {
	return fmt.Sprintf("weights %s, gradients %s, momentum %s, activations %s, im2col %s",
		ir.Bytes(m.Params), ir.Bytes(m.Grads), ir.Bytes(m.Optimizer), ir.Bytes(m.Activations), ir.Bytes(m.Workspace))
}
