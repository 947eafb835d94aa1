// Package netedit holds what the built-in transforms share: parameter
// renaming when layers are inserted, replica remaps and their counts, noise,
// and the activations of a host batch at a point of the network.
package netedit
