// Package refnet owns a slow, simple, obviously correct float64 forward pass
// of an ir.Graph. It is the reference the engine's tests compare against and
// the yardstick of function preservation for every transform (built-in or
// plugin). It imports core/ir and core/tensor only.
package refnet
