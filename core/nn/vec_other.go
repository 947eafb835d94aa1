//go:build !amd64

package nn

// useSIMD is false off amd64: the Go bodies of the vector kernels run.
var (
	hasSIMD = false
	useSIMD = false
)

func scaleShiftReluAVX2(dst, src *float32, n int, a, b float32)                { panic("unreachable") }
func sumShiftAVX2(x *float32, n int, shift float32) (s, ss float32)            { panic("unreachable") }
func reluGradSumsAVX2(x, y, dy *float32, n int, mean float32) (s1, s2 float32) { panic("unreachable") }
func bnReluBackAVX2(d, x, y, dy *float32, n int, k, a, bb, mean float32, add int) {
	panic("unreachable")
}
func addToAVX2(dst, src *float32, n int) { panic("unreachable") }

func max22AVX2(r0, r1, dst *float32, arg *int32, n, i0, w int, ramp *int32) { panic("unreachable") }
