//go:build race

package racemode

// Enabled is true: built with -race.
const Enabled = true
