package cli

import "errors"

// CheckCmd is a placeholder until its issue lands.
type CheckCmd struct {
	Args []string `arg:"" optional:""`
}

// Run reports that the command is not built yet.
func (c *CheckCmd) Run(g *Globals) error { return errors.New("check: not implemented yet") }
