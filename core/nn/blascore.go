package nn

import (
	"os"
	"strings"
)

// OpenBLAS built with DYNAMIC_ARCH (Debian's libopenblas0) picks its kernel
// set ("core") when it is loaded: from OPENBLAS_CORETYPE if that variable
// is set, otherwise from the CPUID family and model. Models newer than the
// library are misdetected: Debian 12's 0.3.21 runs the SSE3 Prescott kernels
// (sgemm 3-5x slower) on some recent Xeons whose hypervisors report a
// generic model. The instruction sets the CPU has are a safer guide, so
// before the library is loaded the engine sets OPENBLAS_CORETYPE from them,
// unless the user chose a core.
//
// A set but empty OPENBLAS_CORETYPE is not a choice: OpenBLAS reports
// "Core not found: " and falls back to a core of its own, which differs
// between versions (0.3.21 picks by features, older ones Prescott). So an
// accidental empty variable hides the misdetection from measurements; the
// engine treats empty as unset and chooses the core itself.

// cpuFeatures is what the core choice depends on.
type cpuFeatures struct {
	AMD64          bool   // amd64: OpenBLAS's x86_64 core names apply
	Vendor         string // CPUID vendor string, e.g. GenuineIntel, AuthenticAMD
	AVX, AVX2, FMA bool
	AVX512         bool // F, CD, BW, DQ and VL, with OS support for the zmm state
	AVX512BF16     bool
}

// coreFor is the OpenBLAS core for a CPU: the best kernel set its
// instruction sets allow, named as every OpenBLAS since 0.3.11 knows it.
// Empty means no override (the library's own detection is right for every
// CPU without AVX2: all of them predate the library).
func coreFor(f cpuFeatures) string {
	switch {
	case !f.AMD64 || !f.AVX2 || !f.FMA:
		return ""
	case f.AVX512 && f.AVX512BF16:
		return "COOPERLAKE"
	case f.AVX512:
		return "SKYLAKEX"
	case f.Vendor == "GenuineIntel":
		return "HASWELL"
	default:
		// AMD, Hygon and VIA/Zhaoxin AVX2 parts: the library's own choice
		// for them (Haswell kernels with Zen blocking).
		return "ZEN"
	}
}

// sseCores are OpenBLAS cores without AVX kernels (names as
// openblas_get_corename returns them); one of them on a CPU with AVX2 is a
// misdetection that costs a factor of 3-5 in sgemm.
var sseCores = map[string]bool{
	"katmai": true, "coppermine": true, "northwood": true, "prescott": true, "banias": true,
	"atom": true, "core2": true, "penryn": true, "dunnington": true, "nehalem": true,
	"athlon": true, "opteron": true, "opteron_sse3": true, "barcelona": true, "nano": true, "bobcat": true,
}

// coreSource says how the core was chosen, for the reports.
var coreSource string

// chooseCore sets OPENBLAS_CORETYPE from the CPU's features when the user
// has not set it (or set it empty); it must run before the library is
// loaded, which reads the variable once, in its constructor.
func chooseCore() {
	if v := os.Getenv("OPENBLAS_CORETYPE"); v != "" {
		coreSource = "OPENBLAS_CORETYPE=" + v + " (user's choice)"
		return
	}
	core := coreFor(hostFeatures())
	if core == "" {
		coreSource = "detected by OpenBLAS"
		return
	}
	os.Setenv("OPENBLAS_CORETYPE", core)
	coreSource = "OPENBLAS_CORETYPE=" + core + " set by eas from the CPU's features"
}

// coreWarning is a note for a core that does not use the CPU's vector
// units ("" when all is well).
func coreWarning(core string, f cpuFeatures) string {
	if f.AVX2 && sseCores[strings.ToLower(core)] {
		return "SSE kernels on a CPU with AVX2, sgemm 3-5x slower: unset OPENBLAS_CORETYPE, or set it to " + coreFor(f)
	}
	return ""
}
