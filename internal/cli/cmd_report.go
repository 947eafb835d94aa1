package cli

import "errors"

// ReportCmd is a placeholder until its issue lands.
type ReportCmd struct {
	Args []string `arg:"" optional:""`
}

// Run reports that the command is not built yet.
func (c *ReportCmd) Run(g *Globals) error { return errors.New("report: not implemented yet") }
