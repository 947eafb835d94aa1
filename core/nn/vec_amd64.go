package nn

import "golang.org/x/sys/cpu"

// hasSIMD says whether the CPU runs the AVX2+FMA kernels; useSIMD selects
// them (SetSIMD(false) forces the Go bodies, for comparison and debugging).
var (
	hasSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useSIMD = hasSIMD
)

//go:noescape
func scaleShiftReluAVX2(dst, src *float32, n int, a, b float32)

//go:noescape
func sumShiftAVX2(x *float32, n int, shift float32) (s, ss float32)

//go:noescape
func reluGradSumsAVX2(x, y, dy *float32, n int, mean float32) (s1, s2 float32)

//go:noescape
func bnReluBackAVX2(d, x, y, dy *float32, n int, k, a, bb, mean float32, add int)

//go:noescape
func addToAVX2(dst, src *float32, n int)

//go:noescape
func max22AVX2(r0, r1, dst *float32, arg *int32, n, i0, w int, ramp *int32)
