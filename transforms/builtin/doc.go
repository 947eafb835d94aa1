// Package builtin is the registry of eas's own transforms. They are written
// against the public plugin SDK like any third-party transform.
package builtin
