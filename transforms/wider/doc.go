// Package wider is Net2Wider for plain CNNs (paper Eqs. 1-3): a convolution
// or fully-connected layer gets more units, each new unit a copy of a
// randomly chosen old one; the next weight layer divides its input weights
// by the number of copies, so the network computes the same function.
package wider
