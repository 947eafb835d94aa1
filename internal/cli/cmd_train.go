package cli

import "errors"

// TrainCmd is a placeholder until its issue lands.
type TrainCmd struct {
	Args []string `arg:"" optional:""`
}

// Run reports that the command is not built yet.
func (c *TrainCmd) Run(g *Globals) error { return errors.New("train: not implemented yet") }
