package nn

//go:noescape
func winoInputAVX2(dst, src *float32, ntx, ldr, ldx int)

//go:noescape
func winoOutputAVX2(dst, src *float32, ntx, ldr, ldx int)

//go:noescape
func winoGradOutputAVX2(dst, src *float32, ntx, ldr, ldx int)

//go:noescape
func winoGradInputAVX2(dst, src *float32, ntx, ldr, ldx int)

//go:noescape
func laneInAVX2(dst, src *float32, n, stride int)

//go:noescape
func laneOutAVX2(dst, src *float32, n, stride, add int)
