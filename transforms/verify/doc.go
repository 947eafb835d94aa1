// Package verify checks function preservation of any sdk.Transform on
// random architectures with random, trained-looking weights. The built-in
// transforms' tests and the plugin conformance checker use the same code.
package verify
