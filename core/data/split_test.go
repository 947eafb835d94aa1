package data

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

func rampSet(n int) *Set {
	s := &Set{N: n, Shape: ir.Shape{C: 1, H: 2, W: 2}, Classes: 4}
	for i := 0; i < n; i++ {
		s.Pixels = append(s.Pixels, byte(i), byte(i), byte(i), byte(i))
		s.Labels = append(s.Labels, byte(i%4))
	}
	return s
}

func count(t *testing.T, b Batches) (n int, first []float32) {
	t.Helper()
	err := b.Epoch(0, func(x *tensor.Tensor, y []int32) error {
		if first == nil {
			first = append([]float32(nil), x.Data...)
		}
		n += len(y)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != b.Len() {
		t.Errorf("epoch served %d images, Len says %d", n, b.Len())
	}
	return n, first
}

func TestNewSplit(t *testing.T) {
	src := &Source{Train: rampSet(100), Test: rampSet(30)}
	cases := []struct {
		name                    string
		o                       SplitOptions
		train, val, full, tests int
		describe                string
	}{
		{"hold-out", SplitOptions{Validation: 20, Seed: 3}, 80, 20, 100, 30, "80 training, 20 validation, 30 test images of 2x2x1, 4 classes"},
		{"limit", SplitOptions{Validation: 20, Seed: 3, Limit: 50}, 50, 20, 70, 30, "50 training, 20 validation"},
		{"no hold-out validates on test", SplitOptions{Normalize: "scale"}, 100, 30, 100, 30, "100 training, 0 validation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewSplit(src, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := count(t, d.Train(1, 16)); n != c.train {
				t.Errorf("train %d, want %d", n, c.train)
			}
			if n, _ := count(t, d.Val(16)); n != c.val {
				t.Errorf("val %d, want %d", n, c.val)
			}
			if n, _ := count(t, d.Full(1, 16)); n != c.full {
				t.Errorf("full %d, want %d", n, c.full)
			}
			if n, _ := count(t, d.Test(16)); n != c.tests {
				t.Errorf("test %d, want %d", n, c.tests)
			}
			if !strings.Contains(d.Describe(), c.describe) {
				t.Errorf("describe %q lacks %q", d.Describe(), c.describe)
			}
			b, err := d.Batch(5, 9)
			if err != nil || b.Shape[0] != 5 {
				t.Errorf("batch %v %v", b, err)
			}
		})
	}
	// Same options, same split and same shuffled order.
	a, _ := NewSplit(src, SplitOptions{Validation: 20, Seed: 3})
	b, _ := NewSplit(src, SplitOptions{Validation: 20, Seed: 3})
	_, fa := count(t, a.Train(7, 16))
	_, fb := count(t, b.Train(7, 16))
	if !bytes.Equal(a.ValSet.Pixels, b.ValSet.Pixels) || len(fa) == 0 || !slices.Equal(fa, fb) {
		t.Error("split or order not deterministic")
	}
	if _, err := NewSplit(src, SplitOptions{Normalize: "zscore"}); err == nil || !strings.Contains(err.Error(), "zscore") {
		t.Errorf("bad normalisation: %v", err)
	}
	if _, err := NewSplit(&Source{Train: rampSet(4)}, SplitOptions{}); err == nil {
		t.Error("a source without a test set was accepted")
	}
}
