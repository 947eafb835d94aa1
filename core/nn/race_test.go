//go:build race

package nn

// The race detector's instrumentation allocates, so allocation counts are
// only checked without it.
func init() { raceEnabled = true }
