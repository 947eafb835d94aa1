package cli

import "errors"

// PluginCmd is a placeholder until its issue lands.
type PluginCmd struct {
	Args []string `arg:"" optional:""`
}

// Run reports that the command is not built yet.
func (c *PluginCmd) Run(g *Globals) error { return errors.New("plugin: not implemented yet") }
