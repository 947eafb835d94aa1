package cli

import (
	"fmt"

	"github.com/eas-go/eas/core/engine/enginetest"
)

// ConformCmd runs core/engine/enginetest's checks through the binary, so a
// machine with a GPU but no Go toolchain can hold the torch engine on CUDA
// to the suite (scripts/gpu-check.sh).
type ConformCmd struct {
	Workers int `help:"CPU threads of the engine (0: its default)."`

	EngineFlags `embed:""`
}

// Run prints one line per check and fails when any check fails.
func (c *ConformCmd) Run(g *Globals) error {
	be, err := openEngine(c.EngineFlags, c.Workers)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "conformance of %s\n", be.Describe())
	failed := 0
	res := enginetest.RunChecks(be, func(r enginetest.Result) {
		status := "ok  "
		if len(r.Failures) > 0 {
			status = "FAIL"
			failed++
		}
		fmt.Fprintf(g.Stdout, "%s %-40s %6.2fs\n", status, r.Name, r.Duration.Seconds())
		for i, f := range r.Failures {
			if i == 3 {
				fmt.Fprintf(g.Stdout, "     ... %d more\n", len(r.Failures)-3)
				break
			}
			fmt.Fprintf(g.Stdout, "     %s\n", f)
		}
	})
	if failed > 0 {
		return fmt.Errorf("%d of %d conformance checks failed on %s", failed, len(res), be.Describe())
	}
	fmt.Fprintf(g.Stdout, "all %d checks passed\n", len(res))
	return nil
}
