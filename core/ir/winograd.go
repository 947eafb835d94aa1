package ir

import "math"

// The CPU engine runs 3x3 stride-1 "same" convolutions of at least
// winoMinWidth input channels and filters on maps of at least 2x2, when
// every worker gets at least 8 images of a batch, as
// Winograd F(2x2,3x3) (core/nn/winograd.go, whose winoOK this mirrors), with
// buffers sized by winoChunk floats of transformed tiles per worker.
const (
	winoMinWidth = 12
	winoChunk    = 1 << 17
	winoLanes    = 8
)

// winograd says whether the engine runs n (input in) as Winograd for
// batches of batch images over workers workers.
func winograd(n Node, in Shape, batch, workers float64) bool {
	return n.Kernel == 3 && n.Stride == 1 && n.Pad == 1 && n.Out.H == in.H && n.Out.W == in.W &&
		in.C >= winoMinWidth && n.Filters >= winoMinWidth && in.H >= 2 && in.W >= 2 &&
		batch >= winoLanes*math.Max(1, workers)
}

// winoWorkspace mirrors the Winograd convolution's buffers (floats): the
// transformed weights, and per worker the padded input and input-gradient
// bands, the transformed tiles V and M, the output band and the transformed
// weight gradient.
func winoWorkspace(n Node, in Shape, batch, workers float64) float64 {
	c, f := float64(in.C), float64(n.Filters)
	th, tw := float64((in.H+1)/2), float64((in.W+1)/2)
	wide := 16 * math.Max(c, f) * winoLanes
	perRow := wide * tw
	maxGroups := math.Ceil(batch / winoLanes)
	rows, groups := th, 1.0
	if perRow*th <= winoChunk {
		groups = math.Max(1, math.Min(maxGroups, math.Floor(winoChunk/(perRow*th))))
	} else {
		rows = math.Max(1, math.Floor(winoChunk/perRow))
	}
	cols := groups * rows * tw * winoLanes
	bandIn := (2*rows + 2) * (2*tw + 2) * winoLanes
	bandOut := 2 * rows * 2 * tw * winoLanes
	const pad = 16 * 16 // a cache line between the 16 matrices of V, M, U and dU
	per := 2*groups*c*bandIn + 16*(c+f)*cols + groups*f*bandOut + 16*f*c + 3*pad
	return 16*f*c + pad + workers*per
}
