package fidelity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eas-go/eas/core/store"
)

// StepName names the files of a check run as a search's first step
// (fidelity = true) in the search's folder; report shows StepName+".md".
const StepName = "fidelity"

// Files of a check named name in a folder: the result, its report, and
// the scores of a check in progress.
func Files(dir, name string) (result, report, partial string) {
	p := filepath.Join(dir, name)
	return p + ".json", p + ".md", p + ".partial.json"
}

// RunIn runs a check whose files live in dir under name: an interrupted
// check with the same settings is resumed from its partial file, scores
// are saved there after every training, and the result and its report
// are written at the end (the partial file then goes). note is told when
// a partial file is not reused.
func RunIn(ctx context.Context, s Setup, c Config, dir, name string, note func(string)) (*Result, error) {
	result, report, partial := Files(dir, name)
	c, err := c.Resolve(s.Exp.Child.Epochs)
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(partial); err == nil {
		prev, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (delete it to start the check afresh)", partial, err)
		}
		if prev.Config == c {
			s.Resume = prev
		} else if note != nil {
			note(fmt.Sprintf("%s was made with other settings (%+v): not reused", partial, prev.Config))
		}
	}
	s.Save = func(r *Result) error { return writeJSON(partial, r) }
	res, err := Run(ctx, s, c)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(result, res); err != nil {
		return nil, err
	}
	if err := store.WriteFileAtomic(report, []byte(res.Markdown())); err != nil {
		return nil, err
	}
	if err := os.Remove(partial); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return res, nil
}

func writeJSON(path string, r *Result) error {
	b, err := r.JSON()
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(path, b)
}
