package cli

import "errors"

// BenchCmd is a placeholder until its issue lands.
type BenchCmd struct {
	Args []string `arg:"" optional:""`
}

// Run reports that the command is not built yet.
func (c *BenchCmd) Run(g *Globals) error { return errors.New("bench: not implemented yet") }
