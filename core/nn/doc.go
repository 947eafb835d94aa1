// Package nn owns the training engine that trains every child network: a
// float32, NCHW, im2col + BLAS implementation of the layers an ir.Graph uses,
// one file per layer with forward and backward side by side, and Net, which
// executes a whole graph with buffers allocated once and reused every step.
//
// GEMMs go to OpenBLAS, loaded at run time with purego (no C headers or cgo
// needed to build); when it is absent, or SetBLAS(BLASGonum) chose it, a
// pure-Go gonum sgemm is used. BLASName says which. Before loading OpenBLAS the engine
// sets OPENBLAS_CORETYPE from the CPU's features unless the user set it
// (blascore.go): the library misdetects CPUs newer than itself; BLASCore
// reads back the kernel set in use. Work outside GEMMs is
// split over Options.Workers goroutines per net (default: the number of
// CPUs) with a fixed partition, so results depend only on the seed and the
// worker count (and, through rounding, on the kernel set: on amd64 with
// AVX2+FMA the memory-bound loops of BN, ReLU, pooling and col2im run as
// assembly in vec_amd64.s, otherwise as their Go bodies in vec.go;
// KernelsName says which, SetSIMD(false) forces Go). 3x3 stride-1 "same"
// convolutions of at least 12 channels and filters run as Winograd
// F(2x2,3x3) (winograd.go) unless Options.NoWinograd. Other convolutions
// keep each GEMM's patch matrix L2-sized: several small images per GEMM,
// or one large image in bands of output rows (conv.go's plan).
//
// Backend (backend.go) is this engine behind core/engine's interfaces,
// registered as "cpu"; it maps engine.Options and its own Settings to the
// settings above. The
// package reads none of eas's environment variables (only OpenBLAS's own
// OPENBLAS_CORETYPE, above): the CLI maps EAS_BLAS, EAS_BLAS_THREADS,
// EAS_SIMD and EAS_WINOGRAD to options.
//
// nn imports core/ir, core/tensor and core/engine (the interfaces it
// implements, and the host SGD); it knows nothing of data sets, schedules or
// searches.
package nn
