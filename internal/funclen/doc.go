// Package funclen holds a test that keeps every non-test function of the
// module at most 100 lines long (the developers' guide's rule).
package funclen
