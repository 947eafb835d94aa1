package ir

// Space is the search space: the discrete values a transform may move a layer to.
// Widening moves a layer to the next larger value of its list.
type Space struct {
	Kernels []int // new conv kernel sizes (paper: 1, 3, 5)
	Filters []int // conv widths (paper: 16, 32, ..., 512)
	Units   []int // FC widths (paper: 64, ..., 1024)
	Growth  []int // DenseNet growth rates (paper: 40, 44, ..., 64)
}

// PaperSpace is the plain-CNN and DenseNet search space of the paper.
func PaperSpace() Space {
	return Space{
		Kernels: []int{1, 3, 5},
		Filters: []int{16, 32, 64, 96, 128, 192, 256, 320, 384, 448, 512},
		Units:   []int{64, 128, 256, 384, 512, 640, 768, 896, 1024},
		Growth:  []int{40, 44, 48, 52, 56, 60, 64},
	}
}

// Next returns the smallest value of list greater than v, and false when v is
// already at (or beyond) the maximum.
func Next(list []int, v int) (int, bool) {
	best, ok := 0, false
	for _, x := range list {
		if x > v && (!ok || x < best) {
			best, ok = x, true
		}
	}
	return best, ok
}
