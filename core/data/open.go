package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Kinds are the data set kinds Open understands.
var Kinds = []string{"cifar10", "images", "idx", "svhn"}

// Open loads a data set from a spec "KIND:PATH" (cifar10, images, idx,
// svhn), or a bare path whose kind is recognised from its contents.
func Open(spec string) (*Source, error) {
	kind, path := "", spec
	if i := strings.Index(spec, ":"); i > 0 {
		for _, k := range Kinds {
			if spec[:i] == k {
				kind, path = k, spec[i+1:]
			}
		}
		// "bogus:PATH" names a kind, not a file called "bogus:PATH": say
		// which kinds there are instead of "no such file". A one-letter
		// prefix may be a drive letter, and a prefix with a separator or
		// dot is part of a path.
		if p := spec[:i]; kind == "" && i > 1 && !strings.ContainsAny(p, `/\.~`) && !exists(spec) {
			return nil, fmt.Errorf("data set %q: unknown kind %q; write KIND:PATH with KIND one of %s", spec, p, strings.Join(Kinds, ", "))
		}
	}
	if strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, path[2:])
		}
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("data set %q: %w", spec, err)
	}
	if kind == "" {
		kind = detect(path)
		if kind == "" {
			return nil, fmt.Errorf("data set %q: cannot tell its kind; write KIND:PATH with KIND one of %s", spec, strings.Join(Kinds, ", "))
		}
	}
	switch kind {
	case "cifar10":
		return LoadCIFAR10(path)
	case "images":
		return LoadImages(path)
	case "idx":
		return LoadIDX(path)
	case "svhn":
		return LoadSVHN(path)
	}
	return nil, fmt.Errorf("data set %q: unknown kind %q", spec, kind)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func detect(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if !st.IsDir() {
		if strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz") {
			return "images"
		}
		return ""
	}
	switch {
	case exists(filepath.Join(path, "data_batch_1.bin")):
		return "cifar10"
	case exists(filepath.Join(path, "train-images-idx3-ubyte")) || exists(filepath.Join(path, "train-images-idx3-ubyte.gz")):
		return "idx"
	case exists(filepath.Join(path, "train_32x32.mat")):
		return "svhn"
	case exists(filepath.Join(path, "train")):
		return "images"
	}
	return ""
}
