package cli

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/engine/torch"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/store"
)

const fashionMNIST = "/usr/share/datasets/fashion-mnist"

// needTorch skips where the torch engine's shim (make torch) is absent.
func needTorch(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: trains networks")
	}
	if _, err := torch.Info(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// needTorchAndData also skips without the Fashion-MNIST files
// (dataset-fashion-mnist).
func needTorchAndData(t *testing.T) {
	t.Helper()
	needTorch(t)
	if _, err := os.Stat(filepath.Join(fashionMNIST, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("skipping: no Fashion-MNIST (apt-get install dataset-fashion-mnist): %v", err)
	}
}

// TestTorchCheckpointsCrossEngines trains with each engine (train --engine)
// and evaluates each checkpoint with both: the logits agree to 1e-4
// (relative to the largest logit), so a network trained with libtorch is
// an eas network like any other, and the other way round.
func TestTorchCheckpointsCrossEngines(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	writeIDX(t, dir)
	const arch = "C(8,3,1) P(2,2,MAX) C(12,5,1) DO(0.2) FC(16) SM(10)"
	split, err := data.LoadSplit("idx:"+dir, data.SplitOptions{Validation: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	test := split.TestSet
	backends := map[string]engine.Backend{}
	for _, name := range []string{"cpu", "torch"} {
		b, err := openEngine(EngineFlags{Engine: name, Device: "cpu"}, 2)
		if err != nil {
			t.Fatal(err)
		}
		backends[name] = b
	}
	for _, trainer := range []string{"torch", "cpu"} {
		ck := filepath.Join(dir, trainer+".safetensors")
		_, errs, code := run(t, "train", "--engine", trainer, "--device", "cpu", "--data", "idx:"+dir, "--arch", arch,
			"--epochs", "2", "--validation", "40", "--batch", "16", "--lr", "0.05", "--save", ck, "--plain", "--workers", "2")
		if code != 0 {
			t.Fatalf("train --engine %s: %s", trainer, errs)
		}
		c, err := checkpoint.Load(ck)
		if err != nil {
			t.Fatal(err)
		}
		a, err := parseArch("checkpoint", c.ArchString)
		if err != nil {
			t.Fatal(err)
		}
		gr, err := ir.Lower(a, c.Input)
		if err != nil {
			t.Fatal(err)
		}
		cpu, err := evalLogits(context.Background(), backends["cpu"], gr, c.Params.Clone(), test, split.Norm, 64)
		if err != nil {
			t.Fatal(err)
		}
		tor, err := evalLogits(context.Background(), backends["torch"], gr, c.Params.Clone(), test, split.Norm, 64)
		if err != nil {
			t.Fatal(err)
		}
		var scale, worst float64
		for i := range cpu.Data {
			scale = max(scale, math.Abs(float64(cpu.Data[i])))
			worst = max(worst, math.Abs(float64(cpu.Data[i]-tor.Data[i])))
		}
		if worst > 1e-4*scale || scale == 0 {
			t.Errorf("trained with %s: logits differ by up to %.3g between engines (largest logit %.3g)", trainer, worst, scale)
		}
	}
}

// TestTorchSearchEndToEnd runs a search with --engine torch on
// Fashion-MNIST, with one child's optimiser steps failing as a device out
// of memory would (EAS_TORCH_FAIL_MODEL): that child is recorded failed
// with the reason, the others train, and the run completes.
func TestTorchSearchEndToEnd(t *testing.T) {
	needTorchAndData(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "fm.eas")
	os.WriteFile(f, []byte(`experiment "fm"
dataset fashion {
  kind = idx
  path = "`+fashionMNIST+`"
  validation = 100
  limit = 300
}
start {
  arch = "C(8,3,1) P(2,2,MAX) FC(16) SM(10)"
  epochs = 1
}
child {
  epochs = 1
}
search "random" {
  controller = random
  steps = [wider, deeper]
  per_episode = 3
  budget = 3
}
`), 0o644)
	t.Setenv("EAS_TORCH_FAIL_MODEL", "3")
	runs := filepath.Join(dir, "runs")
	_, errs, code := run(t, "run", f, "--engine", "torch", "--device", "cpu", "--out", runs, "--plain", "--workers", "1")
	if code != 0 {
		t.Fatalf("run --engine torch: code %d\n%s", code, errs)
	}
	var failed, done int
	for _, r := range records(t, filepath.Join(runs, "fm", "random")) {
		switch {
		case r.Status == store.StatusFailed && strings.Contains(r.Error, "out of memory (injected"):
			failed++
		case r.Status == store.StatusFailed:
			t.Errorf("record %d failed for another reason: %s", r.ID, r.Error)
		default:
			done++
		}
	}
	if failed != 1 || done < 3 {
		t.Errorf("%d failed (want 1, the injected one), %d trained (want the others: at least 3 with the control)\n%s", failed, done, errs)
	}
	v, err := os.ReadFile(filepath.Join(runs, "fm", "versions.json"))
	if err != nil || !strings.Contains(string(v), `"engine": "torch"`) || !strings.Contains(string(v), `"libtorch"`) {
		t.Errorf("versions.json does not say the torch engine ran: %s %v", v, err)
	}
}
