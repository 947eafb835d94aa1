// Package export turns a trained network into files other frameworks load
// without eas: PyTorch writes a self-contained model.py (a torch.nn.Module
// that applies the training normalisation itself) and its weights as
// model.safetensors.
//
// model.py's forward pass is the lowered ir.Graph, one statement per
// operation, generated from one table over graph operations (pyOps), so a
// new layer kind that lowers to existing operations exports unchanged. The
// operations must compute what the engine (core/nn) computes: same-padded
// convolutions, pooling without padding (average divisor kernel*kernel),
// BatchNorm with the engine's epsilon, concatenation in input order.
// Modules sit under the checkpoint's tensor-name prefixes, so state_dict
// keys are eas's names. A Go test checks the modules own exactly
// ir.Graph.Params on random architectures; a test with torch
// (internal/cli) compares logits with easrun eval.
//
// export imports core/ir, core/tensor and core/checkpoint.
package export
