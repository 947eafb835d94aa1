package cli

import "errors"

// TransformCmd is a placeholder until its issue lands.
type TransformCmd struct {
	Args []string `arg:"" optional:""`
}

// Run reports that the command is not built yet.
func (c *TransformCmd) Run(g *Globals) error { return errors.New("transform: not implemented yet") }
