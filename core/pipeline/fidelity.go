package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/fidelity"
)

// fidelityStep runs the reward-fidelity check as the first step of a
// search with fidelity = true, once: with its own fresh plugins (the
// search's controller is not touched), into the search's folder
// (fidelity.json, fidelity.md, which the report shows first). A folder
// holding the result (a resumed run) skips it, and so does a dry run.
func (r *Session) fidelityStep(ctx context.Context, s experiment.Search, dir string) error {
	if !s.Fidelity {
		return nil
	}
	log := r.cfg.Log
	if r.Split == nil {
		log.Printf("search %q: fidelity = true is skipped in a dry run (a formula's scores have no noise to measure)", s.Name)
		return nil
	}
	result, _, _ := fidelity.Files(dir, fidelity.StepName)
	if _, err := os.Stat(result); err == nil {
		return nil
	}
	e := r.cfg.Exp
	cfg, err := fidelity.Config{}.Resolve(e.Child.Epochs)
	if err != nil {
		return err
	}
	tfs, ctl, set, err := r.cfg.Plugins.Search(ctx, r.cfg.File, s, SearchRun{Log: filepath.Join(r.Dir, PluginLog)})
	if err != nil {
		return err
	}
	defer set.Close()
	log.Printf("fidelity of search %q: %d children and the control, %d seeds at %d epochs and %d at %d epochs",
		s.Name, cfg.Children, cfg.Seeds, e.Child.Epochs, cfg.ReferenceSeeds, cfg.ReferenceEpochs)
	began := time.Now()
	res, err := fidelity.RunIn(ctx, fidelity.Setup{Exp: e, Search: s, Transforms: tfs, Controller: ctl, Eval: r.Eval, Data: r.Split,
		Start: r.Start, StartAcc: r.StartAcc, ValImages: r.Split.ValSet.N, TrainImages: r.Split.TrainSet.N,
		Progress: func(done, total int, what string) {
			log.Printf("[fidelity %s] %d/%d %s (%s)", s.Name, done, total, what, time.Since(began).Round(time.Second))
		}}, cfg, dir, fidelity.StepName, func(m string) { log.Printf("%s", m) })
	if err != nil {
		return fmt.Errorf("fidelity: %w", err)
	}
	log.Printf("reward fidelity of search %q: %s", s.Name, res.Verdict.Text)
	return nil
}
