// Package rng is a tiny seeded generator whose whole state is one number,
// so controllers can save and restore it exactly.
package rng
