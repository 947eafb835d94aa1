// Package export turns a trained network into files other frameworks load
// without eas: PyTorch writes a self-contained model.py (a torch.nn.Module
// built from the architecture, applying the training normalisation itself)
// and its weights as model.safetensors.
//
// The generated module must compute what the engine (core/nn) computes:
// post-activation plain layers, pre-activation DenseNet-BC blocks, pooling
// without padding, BatchNorm with the engine's epsilon. One table maps each
// written layer kind to its Python module and the checkpoint tensors it
// owns; a Go test checks those names against ir.Graph.Params on random
// architectures and a test with torch compares logits.
//
// export imports core/ir, core/tensor and core/checkpoint.
package export
