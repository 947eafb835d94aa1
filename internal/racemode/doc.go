// Package racemode says whether the binary was built with the race
// detector, whose instrumentation allocates: tests that count heap
// allocations skip under it.
package racemode
