// Package diag owns diagnostics: a position in a named source, a message,
// an optional suggestion, and a writer that prints them compiler-style with
// the source line and a caret. It imports only the standard library.
package diag
