// Package checkpoint owns eas's weight files: the safetensors format
// (8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data), so weights
// load in Python with `safetensors.numpy.load_file` or
// `safetensors.torch.load_file`.
//
// Tensor names are the graph's parameter names (ir.Graph.Params): for layer
// i (1-based, as written) `l{i}.conv.weight` [F,C,k,k], `l{i}.bn.weight`,
// `l{i}.bn.bias`, `l{i}.bn.running_mean`, `l{i}.bn.running_var`,
// `l{i}.fc.weight` [out,in], `l{i}.sm.weight`, `l{i}.sm.bias`; dense layer j
// of block i: `l{i}.{j}.bn1.*`, `l{i}.{j}.conv1.weight`, `l{i}.{j}.bn2.*`,
// `l{i}.{j}.conv2.weight`. Optimiser state may be stored as
// `momentum.<name>`. The metadata holds "format" ("eas-1"), "arch" (the
// canonical architecture string), "input" (HxWxC), "sha256" (of the data
// section, checked on load so tampered bytes are caught) and the caller's
// entries (training state).
//
// checkpoint imports core/ir, core/tensor and core/store (atomic writes); parsing the architecture
// string is the caller's job (package dsl).
package checkpoint
