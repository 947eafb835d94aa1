// Package plugintest is the conformance suite behind `easrun plugin check`:
// it runs a plugin (through plugins/host, exactly as a search would) through
// handshake, describe, action listing, determinism for a fixed seed,
// function preservation on random networks (transforms/verify, the float64
// reference of core/refnet), rejection of invalid actions for transforms,
// and valid proposals, determinism and a state save/load round trip for
// controllers.
//
// It imports plugins/sdk, plugins/host, core/ir, core/tensor and
// transforms/verify (the shared preservation checker); it must not import
// the built-in transforms or controllers (callers pass them in Options).
package plugintest
