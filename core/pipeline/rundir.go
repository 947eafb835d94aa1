package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/store"
)

// checkRunDir starts a new run directory (the experiment file's copy, its
// hash, versions.json) or, on resume, checks that the directory still
// matches its inputs: the run's own experiment.eas is kept, must be as the
// run wrote it, and must not differ from the given file in anything that
// changes results. Called with the directory locked.
func (r *Session) checkRunDir() (store.Manifest, error) {
	dir := r.Dir
	runEAS := filepath.Join(dir, "experiment.eas")
	old, err := os.ReadFile(runEAS)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, err := os.Stat(filepath.Join(dir, "start.safetensors")); err == nil {
			return store.Manifest{}, fmt.Errorf("%s holds a start network but no experiment.eas: not a run directory this easrun can continue; choose another --out", dir)
		}
		m := store.Manifest{Experiment: store.SHA256(r.cfg.Source)}
		if err := store.WriteFileAtomic(runEAS, r.cfg.Source); err != nil {
			return m, err
		}
		if err := store.WriteManifest(dir, m); err != nil {
			return m, err
		}
		return m, writeProvenance(dir)
	case err != nil:
		return store.Manifest{}, err
	case !r.cfg.Resume:
		return store.Manifest{}, fmt.Errorf("%s already holds a run: add --resume to continue it, or choose another --out", dir)
	}
	m, ok, err := store.ReadManifest(dir)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, fmt.Errorf("%s has no %s (made by an older easrun?): cannot check that it matches %s; start a new run with another --out", dir, store.ManifestName, r.cfg.File)
	}
	if store.SHA256(old) != m.Experiment {
		return m, fmt.Errorf("%s was edited after the run started (its hash differs from the one in %s): the run's record of what ran is no longer trustworthy", runEAS, store.ManifestName)
	}
	was, err := r.cfg.Parse(runEAS, old)
	if err != nil {
		return m, fmt.Errorf("the run's own experiment file no longer parses: %w", err)
	}
	if d := experiment.ResumeDiffStarted(was, r.cfg.Exp, r.searchStarted); len(d) > 0 {
		return m, fmt.Errorf("%s differs from the experiment this run was started with (%s) in what changes results:\n  %s\nrestore those settings to resume, or start a new run (another --out or experiment name)",
			r.cfg.File, runEAS, strings.Join(d, "\n  "))
	}
	if len(experiment.ResumeDiff(was, r.cfg.Exp)) > 0 {
		// Only searches that have not started changed (their plugins, say):
		// the run goes on with the new file, which is now what it ran.
		if r.cfg.Log != nil {
			r.cfg.Log.Printf("%s: searches that had not started changed; the run continues with the new file", r.cfg.File)
		}
		m.Experiment = store.SHA256(r.cfg.Source)
		if err := store.WriteFileAtomic(runEAS, r.cfg.Source); err != nil {
			return m, err
		}
		if err := store.WriteManifest(dir, m); err != nil {
			return m, err
		}
	}
	return m, nil
}

// searchStarted reports whether search name recorded a sampled network (in
// any of its repeats): before that, nothing it runs with has been used.
func (r *Session) searchStarted(name string) bool {
	dirs, _ := filepath.Glob(filepath.Join(r.Dir, name, "r*"))
	for _, d := range append(dirs, filepath.Join(r.Dir, name)) {
		if _, err := os.Stat(filepath.Join(d, "networks.jsonl")); err != nil {
			continue
		}
		st, err := store.Open(d)
		if err != nil {
			return true // unreadable: assume it ran
		}
		ok := started(st)
		st.Close()
		if ok {
			return true
		}
	}
	return false
}

// writeProvenance records what the run ran on (versions.json).
func writeProvenance(dir string) error {
	v := map[string]string{"go": runtime.Version(), "blas": nn.BLASName(), "blas_core": nn.BLASCore(), "blas_core_note": nn.BLASCoreNote(), "kernels": nn.KernelsName(), "os": runtime.GOOS + "/" + runtime.GOARCH,
		"started": time.Now().UTC().Format(time.RFC3339)}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v["eas"] = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v["revision"] = s.Value
			}
		}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(dir, "versions.json"), b)
}
