package host

import "fmt"

// Fault classifies what a plugin did wrong.
type Fault int

const (
	// FaultError: the plugin answered with an error of its own (e.g. it
	// rejected an invalid action). The plugin keeps running.
	FaultError Fault = iota + 1
	// FaultPanic: the plugin panicked; it is restarted for the next call.
	FaultPanic
	// FaultExit: the plugin process exited or its connection broke; restarted.
	FaultExit
	// FaultHang: the call ran past its deadline; the plugin is killed and restarted.
	FaultHang
	// FaultMalformed: the answer broke the contract (invalid architecture,
	// wrong weight shapes, NaN weights, an action outside the declared space).
	// The plugin is restarted, since its state cannot be trusted.
	FaultMalformed
	// FaultStart: the plugin could not be started or did not complete the handshake.
	FaultStart
	// FaultCanceled: the caller canceled the call or its own deadline passed.
	FaultCanceled
)

var faultNames = map[Fault]string{FaultError: "error", FaultPanic: "panic", FaultExit: "exit",
	FaultHang: "hang", FaultMalformed: "malformed", FaultStart: "start", FaultCanceled: "canceled"}

func (f Fault) String() string {
	if s, ok := faultNames[f]; ok {
		return s
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// PluginError is every error a proxy returns.
type PluginError struct {
	Plugin string // plugin name and where it came from, e.g. "kernelwiden (./plugins/kernelwiden)"
	Op     string // "describe", "actions", "apply", "configure", "propose", "observe", "save", "load", "start"
	Fault  Fault
	Reason string // what the plugin did, in words
	Err    error  // the underlying error, if any
}

func (e *PluginError) Error() string {
	return fmt.Sprintf("plugin %s: %s: %s", e.Plugin, e.Op, e.Reason)
}

func (e *PluginError) Unwrap() error { return e.Err }

// Restarted reports whether the fault makes the host restart the plugin
// before its next call.
func (e *PluginError) Restarted() bool {
	switch e.Fault {
	case FaultPanic, FaultExit, FaultHang, FaultMalformed:
		return true
	}
	return false
}
