package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/report"
	"github.com/eas-go/eas/dsl"
)

// ReportCmd prints tables and writes plots for a run directory.
type ReportCmd struct {
	Dir   string `arg:"" type:"existingdir" help:"Run directory: runs/<experiment> (all searches) or runs/<experiment>/<search>."`
	Every int    `default:"0" help:"Rows of the RL-versus-random table every N networks (default: networks per episode)."`
}

// Run writes the report.
func (c *ReportCmd) Run(g *Globals) error {
	ss, err := report.Load(c.Dir)
	if err != nil {
		return err
	}
	rep := experiment.Report{}
	every := c.Every
	for _, p := range []string{filepath.Join(c.Dir, "experiment.eas"), filepath.Join(c.Dir, "..", "experiment.eas")} {
		if src, err := os.ReadFile(p); err == nil {
			if e, l := dsl.ParseExperiment(p, src, knownNamesRun()); !l.HasErrors() {
				rep = e.Report
				if every == 0 && len(e.Searches) > 0 {
					every = e.Searches[0].PerEpisode
				}
			}
			break
		}
	}
	if every == 0 {
		every = 10
	}
	files, err := report.Write(g.Stdout, c.Dir, ss, rep, every)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "wrote %d files to %s\n", len(files), c.Dir)
	return nil
}
