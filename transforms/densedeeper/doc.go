// Package densedeeper inserts a layer into a DenseNet block (paper Eq. 5).
// The new layer's filters each replicate one randomly chosen input channel,
// and every later consumer splits its weights over the original channel and
// its replica.
//
// Exactness with pre-activation layers: the features a dense layer reads can
// be negative, and the layer itself is BN -> ReLU -> conv. The new layer
// therefore uses its bottleneck path with BN1 set to x -> x + s (s makes
// the value positive on the data: twice the most negative value seen on a
// host batch plus half a standard deviation), a 1x1 convolution that selects
// the replicated channels, BN2 as the identity and a centred 3x3 identity
// kernel. Its output is x + s; every consumer's BatchNorm running mean for
// the replica is raised by s, which cancels the offset exactly, in evaluation
// and in training mode. What is not preserved is a value below -s, which the
// ReLU would clip; s is chosen so that does not happen on the data's range.
package densedeeper
