package nn

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestCoreFor(t *testing.T) {
	avx2 := cpuFeatures{AMD64: true, Vendor: "GenuineIntel", AVX: true, AVX2: true, FMA: true}
	with := func(f cpuFeatures, edit func(*cpuFeatures)) cpuFeatures { edit(&f); return f }
	for _, tc := range []struct {
		name string
		f    cpuFeatures
		want string
	}{
		{"not amd64", cpuFeatures{}, ""},
		{"SSE only", cpuFeatures{AMD64: true, Vendor: "GenuineIntel"}, ""},
		{"AVX without AVX2 (Sandy Bridge, Bulldozer): library knows them", cpuFeatures{AMD64: true, Vendor: "GenuineIntel", AVX: true}, ""},
		{"AVX2 without FMA", with(avx2, func(f *cpuFeatures) { f.FMA = false }), ""},
		{"Intel AVX2 (Haswell..Alder Lake)", avx2, "HASWELL"},
		{"AMD AVX2 (Zen 1-3)", with(avx2, func(f *cpuFeatures) { f.Vendor = "AuthenticAMD" }), "ZEN"},
		{"Hygon AVX2", with(avx2, func(f *cpuFeatures) { f.Vendor = "HygonGenuine" }), "ZEN"},
		{"AVX-512 (Skylake-X, Ice Lake)", with(avx2, func(f *cpuFeatures) { f.AVX512 = true }), "SKYLAKEX"},
		{"AVX-512 BF16 (Cooper Lake, Sapphire Rapids)", with(avx2, func(f *cpuFeatures) { f.AVX512, f.AVX512BF16 = true, true }), "COOPERLAKE"},
		{"AMD AVX-512 BF16 (Zen 4)", with(avx2, func(f *cpuFeatures) { f.Vendor, f.AVX512, f.AVX512BF16 = "AuthenticAMD", true, true }), "COOPERLAKE"},
		{"BF16 flag without full AVX-512", with(avx2, func(f *cpuFeatures) { f.AVX512BF16 = true }), "HASWELL"},
	} {
		if got := coreFor(tc.f); got != tc.want {
			t.Errorf("%s: coreFor = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCoreWarning(t *testing.T) {
	avx2 := cpuFeatures{AMD64: true, Vendor: "GenuineIntel", AVX: true, AVX2: true, FMA: true}
	for _, tc := range []struct {
		core string
		f    cpuFeatures
		warn bool
	}{
		{"Prescott", avx2, true},
		{"Nehalem", avx2, true},
		{"Haswell", avx2, false},
		{"Cooperlake", avx2, false},
		{"Prescott", cpuFeatures{AMD64: true}, false}, // right for an SSE-only CPU
	} {
		got := coreWarning(tc.core, tc.f)
		if (got != "") != tc.warn {
			t.Errorf("coreWarning(%s, AVX2=%v) = %q, want warning %v", tc.core, tc.f.AVX2, got, tc.warn)
		}
		if tc.warn && !strings.Contains(got, "HASWELL") {
			t.Errorf("coreWarning(%s) = %q does not name the core to set", tc.core, got)
		}
	}
}

// TestCoreChild is the subprocess of TestCoreSelection: it loads OpenBLAS
// in a fresh process, with the environment the parent chose, and prints
// the core.
func TestCoreChild(t *testing.T) {
	if os.Getenv("EAS_TEST_CORE_CHILD") != "1" {
		t.Skip("run by TestCoreSelection")
	}
	if err := SetBLAS(os.Getenv("EAS_BLAS")); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("core=%s\nnote=%s\nenv=%s\n", BLASCore(), BLASCoreNote(), os.Getenv("OPENBLAS_CORETYPE"))
}

// TestCoreSelection loads the library in subprocesses (the variable is
// read once, at load) and checks that an unset or empty OPENBLAS_CORETYPE
// gets vector kernels on an AVX2 machine and that a user's choice stands.
func TestCoreSelection(t *testing.T) {
	if os.Getenv("EAS_TEST_CORE_CHILD") == "1" {
		t.Skip("child")
	}
	if !UsingOpenBLAS() {
		t.Skip("OpenBLAS not installed")
	}
	f := hostFeatures()
	run := func(env ...string) (core, note, set string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCoreChild$", "-test.v")
		for _, kv := range os.Environ() {
			// this process set OPENBLAS_CORETYPE itself when it loaded the library
			if !strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") && !strings.HasPrefix(kv, "EAS_BLAS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "EAS_TEST_CORE_CHILD=1")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child %v: %v\n%s", env, err, out)
		}
		seen := false
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "core="); ok {
				core, seen = v, true
			} else if v, ok := strings.CutPrefix(l, "note="); ok {
				note = v
			} else if v, ok := strings.CutPrefix(l, "env="); ok {
				set = v
			}
		}
		if !seen {
			t.Fatalf("child %v printed no core:\n%s", env, out)
		}
		return core, note, set
	}
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"unset", nil},
		{"set but empty", []string{"OPENBLAS_CORETYPE="}},
	} {
		core, note, set := run(tc.env...)
		t.Logf("%s: core %s (%s)", tc.name, core, note)
		if f.AVX2 && sseCores[strings.ToLower(core)] {
			t.Errorf("%s: OpenBLAS runs the SSE core %s on an AVX2 CPU (%s)", tc.name, core, note)
		}
		if want := coreFor(f); !strings.EqualFold(set, want) {
			t.Errorf("%s: OPENBLAS_CORETYPE=%q at load, want %q from the CPU's features", tc.name, set, want)
		}
	}
	core, note, _ := run("OPENBLAS_CORETYPE=sandybridge")
	if !strings.EqualFold(core, "Sandybridge") || !strings.Contains(note, "user's choice") {
		t.Errorf("user's OPENBLAS_CORETYPE=sandybridge: core %s (%s), want Sandybridge, the user's choice", core, note)
	}
	if _, note, set := run("EAS_BLAS=gonum"); set != "" || note != "" {
		t.Errorf("EAS_BLAS=gonum: OPENBLAS_CORETYPE=%q, note %q; want neither", set, note)
	}
}
