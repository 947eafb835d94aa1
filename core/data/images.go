package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // decoders for the folder-per-class layout
	_ "image/png"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/eas-go/eas/core/ir"
)

// imageFile is one undecoded image of a split.
type imageFile struct {
	name  string // for errors
	class string
	data  []byte
}

func isImage(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// LoadImages reads the folder-per-class layout, root/train/<class>/*.jpg|png
// and root/test/<class>/..., from a folder or straight from a .tar.gz of it
// (the archive may have one extra top folder). Classes are sorted by name.
func LoadImages(root string) (*Source, error) {
	files := map[string][]imageFile{}
	classDirs := map[string]map[string]bool{}
	add := func(rel, display string, data []byte) {
		parts := strings.Split(filepath.ToSlash(rel), "/")
		for i := 0; i+2 < len(parts); i++ {
			if parts[i] == "train" || parts[i] == "test" {
				if i+3 == len(parts) && isImage(parts[i+2]) {
					files[parts[i]] = append(files[parts[i]], imageFile{name: display, class: parts[i+1], data: data})
				}
				return
			}
		}
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		for _, split := range []string{"train", "test"} {
			classDirs[split] = map[string]bool{}
			entries, err := os.ReadDir(filepath.Join(root, split))
			if err != nil {
				return nil, fmt.Errorf("%s: expected folders %s/<class>/: %v", root, split, err)
			}
			for _, e := range entries {
				if !e.IsDir() {
					continue
				}
				classDirs[split][e.Name()] = true
				dir := filepath.Join(root, split, e.Name())
				imgs, err := os.ReadDir(dir)
				if err != nil {
					return nil, err
				}
				for _, f := range imgs {
					if f.Type().IsRegular() && isImage(f.Name()) {
						b, err := os.ReadFile(filepath.Join(dir, f.Name()))
						if err != nil {
							return nil, err
						}
						add(filepath.Join(split, e.Name(), f.Name()), filepath.Join(dir, f.Name()), b)
					}
				}
			}
		}
	} else {
		f, err := os.Open(root)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: not a folder and not a .tar.gz: %v", root, err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: corrupt or truncated archive: %v", root, err)
			}
			switch h.Typeflag {
			case tar.TypeDir:
				parts := strings.Split(strings.Trim(h.Name, "/"), "/")
				for i := 0; i+1 < len(parts); i++ {
					if parts[i] == "train" || parts[i] == "test" {
						if classDirs[parts[i]] == nil {
							classDirs[parts[i]] = map[string]bool{}
						}
						if i+2 == len(parts) {
							classDirs[parts[i]][parts[i+1]] = true
						}
					}
				}
			case tar.TypeReg:
				if !isImage(h.Name) {
					continue
				}
				b, err := io.ReadAll(tr)
				if err != nil {
					return nil, fmt.Errorf("%s: truncated archive at %s: %v", root, h.Name, err)
				}
				add(h.Name, root+":"+h.Name, b)
			}
		}
	}
	src := &Source{Name: "images:" + root}
	var classes []string
	for _, split := range []string{"train", "test"} {
		fs := files[split]
		seen := map[string]bool{}
		for c := range classDirs[split] {
			seen[c] = true
		}
		for _, f := range fs {
			seen[f.class] = true
		}
		var names []string
		for c := range seen {
			names = append(names, c)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no %s/<class>/ folders with images", root, split)
		}
		count := map[string]int{}
		for _, f := range fs {
			count[f.class]++
		}
		for _, c := range names {
			if count[c] == 0 {
				return nil, fmt.Errorf("%s: class folder %s/%s holds no images", root, split, c)
			}
		}
		if classes == nil {
			classes = names
		} else if strings.Join(classes, ",") != strings.Join(names, ",") {
			return nil, fmt.Errorf("%s: train classes %v differ from test classes %v", root, classes, names)
		}
		// Stable order: by class, then file name.
		sort.SliceStable(fs, func(i, j int) bool {
			if fs[i].class != fs[j].class {
				return fs[i].class < fs[j].class
			}
			return fs[i].name < fs[j].name
		})
		s, err := decodeAll(fs, classes)
		if err != nil {
			return nil, err
		}
		if split == "train" {
			src.Train = s
		} else {
			src.Test = s
		}
	}
	if src.Train.Shape != src.Test.Shape {
		return nil, fmt.Errorf("%s: training images are %v but test images are %v", root, src.Train.Shape, src.Test.Shape)
	}
	return src, nil
}

// decodeAll decodes images on all cores into one Set.
func decodeAll(fs []imageFile, classes []string) (*Set, error) {
	classIdx := map[string]int{}
	for i, c := range classes {
		classIdx[c] = i
	}
	first, _, err := image.Decode(bytes.NewReader(fs[0].data))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot decode image: %v", fs[0].name, err)
	}
	b := first.Bounds()
	c := 3
	if first.ColorModel() == color.GrayModel {
		c = 1
	}
	shape := ir.Shape{C: c, H: b.Dy(), W: b.Dx()}
	s := &Set{N: len(fs), Shape: shape, Classes: len(classes), ClassNames: classes,
		Pixels: make([]uint8, len(fs)*shape.Size()), Labels: make([]uint8, len(fs))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	workers := runtime.NumCPU()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(fs); i += workers {
				if err := decodeInto(fs[i], shape, s.Pixels[i*shape.Size():(i+1)*shape.Size()]); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				s.Labels[i] = uint8(classIdx[fs[i].class])
			}
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return s, nil
}

func decodeInto(f imageFile, shape ir.Shape, dst []uint8) error {
	img, _, err := image.Decode(bytes.NewReader(f.data))
	if err != nil {
		return fmt.Errorf("%s: cannot decode image: %v", f.name, err)
	}
	b := img.Bounds()
	if b.Dx() != shape.W || b.Dy() != shape.H {
		return fmt.Errorf("%s: image is %dx%d but earlier images are %dx%d (mixed sizes)", f.name, b.Dx(), b.Dy(), shape.W, shape.H)
	}
	hw := shape.H * shape.W
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < shape.H; y++ {
			for x := 0; x < shape.W; x++ {
				r, g, bl := color.YCbCrToRGB(m.Y[m.YOffset(b.Min.X+x, b.Min.Y+y)], m.Cb[m.COffset(b.Min.X+x, b.Min.Y+y)], m.Cr[m.COffset(b.Min.X+x, b.Min.Y+y)])
				put(dst, shape.C, hw, y*shape.W+x, r, g, bl)
			}
		}
	default:
		for y := 0; y < shape.H; y++ {
			for x := 0; x < shape.W; x++ {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				put(dst, shape.C, hw, y*shape.W+x, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
			}
		}
	}
	return nil
}

func put(dst []uint8, c, hw, p int, r, g, b uint8) {
	if c == 1 {
		dst[p] = uint8((299*int(r) + 587*int(g) + 114*int(b)) / 1000)
		return
	}
	dst[p], dst[hw+p], dst[2*hw+p] = r, g, b
}
