// Package builtin is the registry of eas's own controllers, written against
// the public plugin SDK like any third-party controller.
package builtin
