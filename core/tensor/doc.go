// Package tensor owns the float32 storage that the engine, the transforms,
// checkpoints and the plugin wire share: a shape plus a flat, row-major
// []float32 (NCHW for activations, [out,in,kh,kw] for conv weights), and a
// named set of parameters. It imports only the standard library.
package tensor
