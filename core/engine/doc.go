// Package engine owns the seam between the trainer and the code that runs a
// network: the Backend and Model interfaces every execution engine
// implements (the CPU engine in core/nn, libtorch in core/engine/torch), the
// settings passed to them (Options; each backend's own settings travel in
// Options.Settings), each backend's memory estimate (Memory), a registry of
// backends by name, and SGD, the host-side optimiser a backend may reuse.
// Everything that may run on a device returns an error: a device out of
// memory fails one model, not the process.
//
// core/train trains and evaluates only through these interfaces. Every
// backend is held to the conformance suite in core/engine/enginetest: its
// tests call enginetest.Run.
//
// engine imports core/ir and core/tensor only; backends import it, never the
// other way round.
package engine
