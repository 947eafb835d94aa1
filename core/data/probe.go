package data

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Classes tells how many classes the data set of this kind at path has,
// reading as little as it can (folder names, archive headers), so `easrun
// check` can compare it with the network's SM(n) without loading images.
func Classes(kind, path string) (int, error) {
	switch kind {
	case "cifar10", "idx", "svhn": // fixed by the format (idx: MNIST and Fashion-MNIST)
		if _, err := os.Stat(path); err != nil {
			return 0, err
		}
		return 10, nil
	case "images":
		return imageClasses(path)
	}
	return 0, fmt.Errorf("unknown kind %q; kinds are %s", kind, strings.Join(Kinds, ", "))
}

// imageClasses counts train/<class>/ folders holding at least one image, in
// a folder or a .tar.gz of one (as LoadImages reads them).
func imageClasses(root string) (int, error) {
	st, err := os.Stat(root)
	if err != nil {
		return 0, err
	}
	classes := map[string]bool{}
	if st.IsDir() {
		entries, err := os.ReadDir(filepath.Join(root, "train"))
		if err != nil {
			return 0, fmt.Errorf("%s: expected folders train/<class>/: %v", root, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				classes[e.Name()] = true
			}
		}
	} else {
		f, err := os.Open(root)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return 0, fmt.Errorf("%s: not a folder and not a .tar.gz: %v", root, err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, fmt.Errorf("%s: corrupt or truncated archive: %v", root, err)
			}
			if h.Typeflag != tar.TypeReg || !isImage(h.Name) {
				continue
			}
			parts := strings.Split(strings.Trim(h.Name, "/"), "/")
			for i := 0; i+2 < len(parts); i++ {
				if parts[i] == "train" && i+3 == len(parts) {
					classes[parts[i+1]] = true
				}
			}
		}
	}
	if len(classes) == 0 {
		return 0, fmt.Errorf("%s: no train/<class>/ folders", root)
	}
	return len(classes), nil
}
