package cli

import (
	"bytes"
	"fmt"
	"os"

	"github.com/eas-go/eas/dsl"
)

// FmtCmd rewrites .eas files canonically.
type FmtCmd struct {
	Files []string `arg:"" type:"existingfile" help:".eas files to format."`
	Write bool     `short:"w" help:"Write the result back to the file instead of printing it."`
	Check bool     `short:"l" help:"Only list files whose formatting differs; exit 1 if any."`
}

// Run formats each file.
func (c *FmtCmd) Run(g *Globals) error {
	differ := false
	for _, f := range c.Files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out, err := dsl.FormatExperimentFile(f, src)
		if err != nil {
			return err
		}
		switch {
		case c.Check:
			if !bytes.Equal(src, out) {
				fmt.Fprintln(g.Stdout, f)
				differ = true
			}
		case c.Write:
			if !bytes.Equal(src, out) {
				if err := os.WriteFile(f, out, 0o644); err != nil {
					return err
				}
			}
		default:
			g.Stdout.Write(out)
		}
	}
	if differ {
		return Exit(1)
	}
	return nil
}
