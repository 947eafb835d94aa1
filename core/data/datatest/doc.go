// Package datatest writes tiny data sets on disk for tests of the packages
// that read them (the CLI, the distributed workers), so that each test does not
// carry its own copy of the file format. Only tests import it.
package datatest
