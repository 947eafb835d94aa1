package cli

import (
	"fmt"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
)

// splitData is a data set split for a search or a training run; it
// implements search.Data.
type splitData struct {
	train, val, test *data.Set
	norm             data.Norm
	augment          bool
}

// loadData opens spec, holds out nVal validation images (seeded), limits the
// training part to limit images (0 = all) and computes the normalisation on it.
func loadData(spec string, nVal int, seed int64, limit int, normKind string, augment bool) (*splitData, error) {
	src, err := data.Open(spec)
	if err != nil {
		return nil, err
	}
	tr, va := src.Train.Split(nVal, seed)
	tr = tr.Sample(limit, seed+17)
	norm, err := data.NormFor(normKind, tr)
	if err != nil {
		return nil, err
	}
	return &splitData{train: tr, val: va, test: src.Test, norm: norm, augment: augment}, nil
}

func (d *splitData) describe() string {
	v := 0
	if d.val != nil {
		v = d.val.N
	}
	return fmt.Sprintf("%d training, %d validation, %d test images of %dx%dx%d, %d classes",
		d.train.N, v, d.test.N, d.train.Shape.H, d.train.Shape.W, d.train.Shape.C, d.train.Classes)
}

func (d *splitData) loader(s *data.Set, seed int64, batch int, shuffle, augment bool) train.Source {
	return data.NewLoader(s, data.LoaderOptions{Batch: batch, Shuffle: shuffle, Augment: augment, Norm: d.norm, Seed: seed})
}

// Train is the training part, shuffled and (if configured) augmented.
func (d *splitData) Train(seed int64, batch int) train.Source {
	return d.loader(d.train, seed, batch, true, d.augment)
}

// Val is the validation part (the test set when nothing was held out).
func (d *splitData) Val(batch int) train.Source {
	if d.val == nil {
		return d.Test(batch)
	}
	return d.loader(d.val, 0, batch, false, false)
}

// Full is training plus validation.
func (d *splitData) Full(seed int64, batch int) train.Source {
	return d.loader(data.Concat(d.train, d.val), seed, batch, true, d.augment)
}

// Test is the test set.
func (d *splitData) Test(batch int) train.Source { return d.loader(d.test, 0, batch, false, false) }

// Batch serves transforms a batch of training images.
func (d *splitData) Batch(n int, seed int64) (*tensor.Tensor, error) {
	return data.RandomBatch(d.train, n, d.norm, seed), nil
}

func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	if m > 0 {
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
