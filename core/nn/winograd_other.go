//go:build !amd64

package nn

func winoInputAVX2(dst, src *float32, ntx, ldr, ldx int)      { panic("unreachable") }
func winoOutputAVX2(dst, src *float32, ntx, ldr, ldx int)     { panic("unreachable") }
func winoGradOutputAVX2(dst, src *float32, ntx, ldr, ldx int) { panic("unreachable") }
func winoGradInputAVX2(dst, src *float32, ntx, ldr, ldx int)  { panic("unreachable") }
func laneInAVX2(dst, src *float32, n, stride int)             { panic("unreachable") }
func laneOutAVX2(dst, src *float32, n, stride, add int)       { panic("unreachable") }
