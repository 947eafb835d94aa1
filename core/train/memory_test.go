package train

import (
	"strings"
	"testing"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"123": 123, "8GiB": 8 << 30, "1.5 KiB": 1536, " 2 TiB ": 2 << 40, "512MiB": 512 << 20} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "0", "8GB", "x", "1e30GiB", "NaN"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

func TestCheckMemory(t *testing.T) {
	a := ir.Arch{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 8, Kernel: 3, Stride: 1}, {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 2}}}
	g, err := ir.Lower(a, ir.Shape{C: 3, H: 16, W: 16})
	if err != nil {
		t.Fatal(err)
	}
	need := Estimate(g, 32).Total()
	if err := CheckMemory(g, 32, need, "test"); err != nil {
		t.Errorf("exactly enough memory refused: %v", err)
	}
	err = CheckMemory(g, 32, need-1, "test limit")
	if err == nil || !strings.Contains(err.Error(), "batch 32") || !strings.Contains(err.Error(), "(test limit)") || !strings.Contains(err.Error(), "activations") {
		t.Errorf("got %v", err)
	}
	t.Setenv(MemoryLimitEnv, "1KiB")
	if limit, src, ok, err := MemoryLimit(); !ok || err != nil || limit != 1024 || src != MemoryLimitEnv {
		t.Errorf("MemoryLimit = %d %q %v %v", limit, src, ok, err)
	}
	if err := FitsMemory(nil, g, 32); err == nil {
		t.Error("FitsMemory ignored the limit")
	}
	// Train refuses before building anything.
	if _, err := Train(t.Context(), g, nil, nil, nil, Config{Training: experiment.Training{Batch: 32, Epochs: 1}}, nil); err == nil || !strings.Contains(err.Error(), "needs about") {
		t.Errorf("Train: %v", err)
	}
}
