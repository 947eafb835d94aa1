// Package experiment owns the resolved model of a .eas experiment file: plain
// data types with defaults, produced by package dsl and consumed by the search
// runner and the CLI. No parsing here (that is dsl), no engine.
package experiment
