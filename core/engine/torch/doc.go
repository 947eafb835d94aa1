// Package torch is the "torch" engine backend: eas networks trained by
// libtorch, PyTorch's own C++ engine, on the CPU or a CUDA GPU.
//
// The backend calls a small C ABI shim over libtorch (shim/eas_torch.cpp,
// one translation unit built by `make torch` into bin/libeas_torch.so
// against Debian's libtorch or a pip torch >= 2). The shim is loaded at run
// time with purego, as core/nn loads OpenBLAS, so building eas and running
// its tests needs no C++ toolchain; without the shim, opening the backend
// fails with one line saying how to build it. The library is looked for in
// EAS_TORCH_LIB, beside the running binary, then in the module's bin/ (for
// go test and go run). A shim of another ABI version is refused by name.
//
// Semantics are the CPU engine's (core/engine's contract, held by
// enginetest.Run): BN eps 1e-5, momentum 0.1 with the unbiased running
// variance, L2 weight decay on weights only, Nesterov momentum, dropout
// masks from the same counter hash as core/nn (so both engines drop the
// same units for a seed), parameters and momentum under the same names.
//
// On CUDA a model keeps its inputs flowing without host synchronisation:
// batches are copied through pinned memory asynchronously, the loss and
// correct counts are summed on the device (engine.LossAccumulator) and read
// a few times per epoch, and each model runs on its own stream from
// libtorch's pool so that several children train at once on one GPU.
// CUDA graphs are not used: capturing them needs the CUDA toolkit headers,
// which a pip torch does not ship, and the shim builds against headers
// common to libtorch 1.13 and 2.x only.
//
// torch imports core/engine, core/ir and core/tensor.
package torch
