// Package fake is a misbehaving-on-request transform and controller used to
// test the host and the conformance checks, in-process and as a subprocess.
// The action argument "mode" chooses the misbehaviour (see the Mode constants).
package fake
