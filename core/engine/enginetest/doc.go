// Package enginetest is the conformance suite every engine backend passes.
// A backend's tests call
//
//	func TestConformance(t *testing.T) { enginetest.Run(t, myBackend) }
//
// and the suite holds the backend to the float64 reference (core/refnet):
// finite-difference gradients of every op kind of core/ir, forward equality
// in both BN modes, BN running statistics, the SGD step (momentum, Nesterov,
// L2 on weights), bit-for-bit determinism for a seed, and a parameter and
// optimiser-state round trip through a checkpoint. Every comparison has an
// explicit tolerance (the constants below); the networks are tiny, so the
// whole suite runs in seconds on a CPU.
//
// The suite reads a backend only through engine.Backend and engine.Model.
// Dropout masks are read back from Model.Output (a dropout node's output is
// zero exactly where a unit was dropped), so a backend must keep the
// activations of dropout nodes and of their inputs.
//
// enginetest imports core/engine, core/ir, core/tensor, core/refnet and
// core/checkpoint; never a backend.
package enginetest
