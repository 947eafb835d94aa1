// Package deeper is Net2Deeper for plain CNNs: a new layer initialised as
// an identity (a centred one-hot kernel, or an identity matrix) is inserted
// after a layer, with BatchNorm set from one host batch so that BN is the
// identity in evaluation mode, and ReLU is the identity on the non-negative
// (post-ReLU) values it receives.
package deeper
