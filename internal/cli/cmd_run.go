package cli

import "errors"

// RunCmd is a placeholder until its issue lands.
type RunCmd struct {
	Args []string `arg:"" optional:""`
}

// Run reports that the command is not built yet.
func (c *RunCmd) Run(g *Globals) error { return errors.New("run: not implemented yet") }
