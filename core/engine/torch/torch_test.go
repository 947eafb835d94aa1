package torch

import (
	"errors"
	"testing"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/engine/enginetest"
)

// openCPU opens the backend on the CPU, skipping where the shim or libtorch
// is absent (make torch builds it; CI does).
func openCPU(t *testing.T) *Backend {
	t.Helper()
	b, err := NewBackend(engine.Options{Workers: 2})
	if errors.Is(err, ErrNoShim) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	b := openCPU(t)
	t.Logf("%s", b.Describe())
	enginetest.Run(t, b)
}

func engineOptions(device string) engine.Options { return engine.Options{Device: device} }
