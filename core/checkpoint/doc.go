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
// `momentum.<name>`. The metadata holds "format" ("eas-2"), "arch" (the
// canonical architecture string), "input" (HxWxC), "sha256" and the
// caller's entries (training state). The sha256 covers the header (metadata
// and tensor entries without the sha256 entry, as canonical JSON: keys
// sorted, no whitespace; Python: json.dumps(h, sort_keys=True,
// separators=(',', ':'), ensure_ascii=False)) followed by the data, so an edited epoch or shape is caught like a flipped data byte;
// files of the older format "eas-1" (checksum over the data only) are still
// read.
//
// Load trusts nothing: every metadata entry with a meaning is validated
// (MetaChecks: format, input, epoch range, accuracies in [0,1], ...), every
// tensor must be finite and BN running variances non-negative, and errors
// name the key or tensor (tensors are examined in name order, so the same
// file always gives the same error). Save refuses what Load would reject.
//
// checkpoint imports core/ir, core/tensor and core/store (atomic writes); parsing the architecture
// string is the caller's job (package dsl).
package checkpoint
