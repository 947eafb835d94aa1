package report

import (
	"os"
	"path/filepath"
	"strings"
)

// FidelityFile is the report of the reward-fidelity check a search ran as
// its first step (fidelity = true), in the search's folder; core/fidelity
// writes it.
const FidelityFile = "fidelity.md"

// fidelitySections returns the checks' reports (Markdown, shown first in
// report.md) and their verdict lines (for the text output).
func fidelitySections(ss []Search) (md string, verdicts []string) {
	var b strings.Builder
	for _, s := range ss {
		src, err := os.ReadFile(filepath.Join(s.Dir, FidelityFile))
		if err != nil {
			continue
		}
		b.Write(src)
		b.WriteString("\n")
		for _, l := range strings.Split(string(src), "\n") {
			if v, ok := strings.CutPrefix(l, "**Verdict:** "); ok {
				verdicts = append(verdicts, "reward fidelity of "+s.Name+": "+v)
			}
		}
	}
	return b.String(), verdicts
}
