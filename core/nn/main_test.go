package nn

import (
	"os"
	"testing"
)

// TestMain honours EAS_SIMD=off (the Makefile runs this package a second
// time with it, to test the Go bodies of the kernels): the engine itself
// reads no environment, so the tests map the variable as the CLI does.
func TestMain(m *testing.M) {
	if os.Getenv("EAS_SIMD") == "off" {
		SetSIMD(false)
	}
	os.Exit(m.Run())
}
