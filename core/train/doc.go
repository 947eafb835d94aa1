// Package train owns optimisation: SGD with (Nesterov) momentum and L2
// weight decay, learning-rate schedules, the training loop over a batch
// Source, and evaluation.
//
// Weight decay applies to convolution and fully-connected weights only, not
// to biases or BatchNorm scale and shift (decaying BN parameters fights the
// normalisation; this matches common practice). The paper's 1e-4 is applied
// as L2: g += wd * w.
//
// Training is deterministic for a given seed and worker count: batch order
// and augmentation come from the Source, dropout from the net's seed.
// train runs networks only through core/engine's Backend and Model
// interfaces (Config.Backend; nil means engine.Default, the CPU engine of
// core/nn, which train links in for that purpose). Data sets reach it
// through the Source interface, which core/data's loader satisfies.
package train
