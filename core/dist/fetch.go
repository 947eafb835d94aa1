package dist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/store"
)

// errFingerprint marks a local copy of a data set that is not the run's.
var errFingerprint = errors.New("local copy has another fingerprint")

// dataset returns the job's data set: a local copy whose split has the
// run's fingerprint, the disk cache, or the run's object store.
func (w *Worker) dataset(ctx context.Context, ref *DataRef) (*Dataset, error) {
	if path, ok := w.Data[ref.Name]; ok {
		w.mu.Lock()
		key := ref.Name + "\x00" + ref.Kind + "\x00" + fmt.Sprint(ref.Split)
		le := w.local[key]
		if le == nil {
			le = &localEntry{}
			w.local[key] = le
		}
		w.mu.Unlock()
		le.once.Do(func() {
			src, err := data.Open(ref.Kind + ":" + path)
			if err != nil {
				le.err = err
				return
			}
			if le.d, le.err = SplitDataset(src, ref.Split); le.err != nil {
				return
			}
			b, err := EncodeDataset(le.d)
			if err != nil {
				le.err = err
				return
			}
			le.fp = sha(b)
			w.logf("data set %s: local copy %s, fingerprint %.12s", ref.Name, path, le.fp)
		})
		if le.err != nil {
			return nil, fmt.Errorf("data set %s: local copy %s: %w", ref.Name, path, le.err)
		}
		if le.fp != ref.Fingerprint {
			return nil, fmt.Errorf("data set %s: the %w %s: %.12s, the run's is %.12s (other files or another version): not used; drop --data %s=... to fetch the run's copy", ref.Name, errFingerprint, path, le.fp, ref.Fingerprint, ref.Name)
		}
		return le.d, nil
	}
	w.mu.Lock()
	de := w.datasets[ref.Fingerprint]
	if de == nil {
		de = &dataEntry{}
		w.datasets[ref.Fingerprint] = de
	}
	w.mu.Unlock()
	de.once.Do(func() { de.d, de.err = w.fetchDataset(ctx, ref) })
	if de.err != nil {
		w.mu.Lock()
		delete(w.datasets, ref.Fingerprint) // a failed fetch is retried by the next job
		w.mu.Unlock()
		return nil, de.err
	}
	return de.d, nil
}

func (w *Worker) fetchDataset(ctx context.Context, ref *DataRef) (*Dataset, error) {
	cache := ""
	if w.CacheDir != "" {
		cache = filepath.Join(w.CacheDir, ref.Fingerprint+".easdata")
		if b, err := os.ReadFile(cache); err == nil && sha(b) == ref.Fingerprint {
			w.logf("data set %s: from the cache %s", ref.Name, cache)
			return DecodeDataset(b)
		}
	}
	start := time.Now()
	b, err := w.b.inputs.GetBytes(ctx, ref.Object.Name)
	if err != nil {
		return nil, fmt.Errorf("data set %s: fetching %s from the run: %w", ref.Name, ref.Object.Name, err)
	}
	if got := sha(b); got != ref.Fingerprint {
		return nil, fmt.Errorf("data set %s: fetched copy has fingerprint %.12s, want %.12s", ref.Name, got, ref.Fingerprint)
	}
	w.logf("data set %s: fetched %.1f MB from the run in %v", ref.Name, float64(len(b))/1e6, time.Since(start).Round(time.Millisecond))
	if cache != "" {
		if err := os.MkdirAll(w.CacheDir, 0o755); err == nil {
			if err := store.WriteFileAtomic(cache, b); err != nil {
				w.logf("data set %s: not cached: %v", ref.Name, err)
			}
		}
	}
	return DecodeDataset(b)
}
