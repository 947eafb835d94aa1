// Package nn owns the training engine that trains every child network: a
// float32, NCHW, im2col + BLAS implementation of the layers an ir.Graph uses,
// one file per layer with forward and backward side by side, and Net, which
// executes a whole graph with buffers allocated once and reused every step.
//
// GEMMs go to OpenBLAS, loaded at run time with purego (no C headers or cgo
// needed to build); when it is absent, or EAS_BLAS=gonum, a pure-Go gonum
// sgemm is used. BLASName says which. Work outside GEMMs is split over
// Workers goroutines (default: the number of CPUs) with a fixed partition, so
// results depend only on the seed and the worker count (and, through
// rounding, on the kernel set: on amd64 with AVX2+FMA the memory-bound loops
// of BN, ReLU, pooling and col2im run as assembly in vec_amd64.s, otherwise
// as their Go bodies in vec.go; KernelsName says which, EAS_SIMD=off forces
// Go).
//
// nn imports core/ir and core/tensor only; it knows nothing of data sets,
// optimisers or searches.
package nn
