package cli

import "errors"

// FmtCmd is a placeholder until its issue lands.
type FmtCmd struct {
	Args []string `arg:"" optional:""`
}

// Run reports that the command is not built yet.
func (c *FmtCmd) Run(g *Globals) error { return errors.New("fmt: not implemented yet") }
