// Package cli holds easrun's subcommands; it is the only package that wires
// dsl, core, plugins, transforms and controllers together. One file per
// command (cmd_<name>.go).
package cli
