package dashboard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/eas-go/eas/core/store"
)

// exportCache keeps PyTorch exports, one folder per checkpoint content
// (SHA-256), in a folder the server owns: never inside a run directory.
type exportCache struct {
	dir string
	mu  sync.Mutex
	inf map[string]*sync.Mutex // one export at a time per checkpoint
}

func newExportCache(dir string, served []string) (*exportCache, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "eas-dashboard")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range served {
		ad, err := filepath.Abs(d)
		if err != nil {
			continue
		}
		if within(ad, abs) {
			return nil, fmt.Errorf("export cache %s lies inside the served folder %s: the dashboard never writes there; choose another --cache", abs, ad)
		}
	}
	return &exportCache{dir: abs, inf: map[string]*sync.Mutex{}}, nil
}

// within reports whether path is root or inside it (lexically).
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// get returns the folder holding the export of ckpt, making it with
// export when it is not cached yet.
func (c *exportCache) get(ckpt string, export func(string, string) error) (string, error) {
	if export == nil {
		return "", errors.New("this server was started without the exporter")
	}
	sum, err := store.FileSHA256(ckpt)
	if err != nil {
		return "", err
	}
	out := filepath.Join(c.dir, sum)
	c.mu.Lock()
	m := c.inf[sum]
	if m == nil {
		m = &sync.Mutex{}
		c.inf[sum] = m
	}
	c.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	if isFile(filepath.Join(out, "model.py")) && isFile(filepath.Join(out, "model.safetensors")) {
		return out, nil
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return "", fmt.Errorf("export cache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.dir, ".tmp-"+sum[:12]+"-")
	if err != nil {
		return "", fmt.Errorf("export cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := export(ckpt, tmp); err != nil {
		return "", err
	}
	os.RemoveAll(out)
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("export cache: %w", err)
	}
	return out, nil
}
