package cli

import (
	"bytes"
	"fmt"
	"os"

	"github.com/eas-go/eas/core/store"
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
				// Atomic: a full disk must not leave the file half written.
				perm := os.FileMode(0o644)
				if st, err := os.Stat(f); err == nil {
					perm = st.Mode().Perm()
				}
				if err := store.WriteFileAtomicPerm(f, out, perm); err != nil {
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
