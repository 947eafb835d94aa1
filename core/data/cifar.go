package data

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/eas-go/eas/core/ir"
)

// CIFAR10Classes are the class names in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

const cifarRecord = 1 + 3*32*32

// ParseCIFAR decodes one binary batch: records of 1 label byte + 3072 CHW pixel bytes.
func ParseCIFAR(name string, b []byte) (*Set, error) {
	if len(b) == 0 || len(b)%cifarRecord != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte CIFAR-10 records (truncated?)", name, len(b), cifarRecord)
	}
	n := len(b) / cifarRecord
	s := &Set{N: n, Shape: ir.Shape{C: 3, H: 32, W: 32}, Classes: 10, ClassNames: CIFAR10Classes,
		Pixels: make([]uint8, n*3072), Labels: make([]uint8, n)}
	for i := 0; i < n; i++ {
		r := b[i*cifarRecord:]
		s.Labels[i] = r[0]
		copy(s.Pixels[i*3072:(i+1)*3072], r[1:cifarRecord])
	}
	return s, s.check(name)
}

// LoadCIFAR10 reads data_batch_1..5.bin and test_batch.bin from dir.
func LoadCIFAR10(dir string) (*Source, error) {
	read := func(name string) (*Set, error) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		return ParseCIFAR(p, b)
	}
	var train *Set
	for i := 1; i <= 5; i++ {
		s, err := read(fmt.Sprintf("data_batch_%d.bin", i))
		if err != nil {
			return nil, err
		}
		train = Concat(orEmpty(train, s), s)
	}
	test, err := read("test_batch.bin")
	if err != nil {
		return nil, err
	}
	return &Source{Name: "cifar10:" + dir, Train: train, Test: test}, nil
}

func orEmpty(s, like *Set) *Set {
	if s != nil {
		return s
	}
	return &Set{Shape: like.Shape, Classes: like.Classes, ClassNames: like.ClassNames}
}
