//go:build !race

package racemode

// Enabled is false: built without -race.
const Enabled = false
