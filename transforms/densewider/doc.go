// Package densewider widens one DenseNet layer (paper Eq. 4): its growth
// rate rises, the new output channels copy old ones, and every later layer of
// the block, the transition (or the final BN and classifier) reads the new
// channels at the right offset with its input weights split by the replica
// counts and its BatchNorm parameters re-indexed.
package densewider
