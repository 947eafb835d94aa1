package data

import (
	"fmt"

	"github.com/eas-go/eas/core/tensor"
)

// Batches is a stream of batches for training or scoring; core/train.Source
// is this interface, and a Loader implements it.
type Batches interface {
	// Epoch calls fn for every batch of epoch e, in order; x is [b,C,H,W] and
	// y holds b labels; both are valid only during the call. An error from fn
	// stops the epoch and is returned.
	Epoch(e int, fn func(x *tensor.Tensor, y []int32) error) error
	// Len is the number of examples in one epoch.
	Len() int
}

// SplitOptions say how a data set is divided for a search or a training run.
type SplitOptions struct {
	Validation int    // training images held out for validation (0: none; the test set validates)
	Seed       int64  // seed of the hold-out and of the Limit sample
	Limit      int    // keep only this many training images (0: all)
	Normalize  string // "channel" (default), "scale" or "none"; computed on the training part
	Augment    bool   // C10+ augmentation of the training part
}

// Split is a data set divided into training, validation and test parts with
// its normalisation: everything a search needs from the data. It implements
// core/search.Data.
type Split struct {
	TrainSet, ValSet, TestSet *Set // ValSet is nil when nothing was held out
	Norm                      Norm
	Augment                   bool
}

// LoadSplit opens spec (see Open) and splits it with o.
func LoadSplit(spec string, o SplitOptions) (*Split, error) {
	src, err := Open(spec)
	if err != nil {
		return nil, err
	}
	return NewSplit(src, o)
}

// NewSplit holds out o.Validation training images (seeded), limits the rest
// to o.Limit images and computes the normalisation on them.
func NewSplit(src *Source, o SplitOptions) (*Split, error) {
	if src == nil || src.Train == nil || src.Test == nil {
		return nil, fmt.Errorf("data set has no training or no test set")
	}
	tr, va := src.Train.Split(o.Validation, o.Seed)
	tr = tr.Sample(o.Limit, o.Seed+17)
	norm, err := NormFor(o.Normalize, tr)
	if err != nil {
		return nil, err
	}
	return &Split{TrainSet: tr, ValSet: va, TestSet: src.Test, Norm: norm, Augment: o.Augment}, nil
}

// Describe summarises the split in one line.
func (d *Split) Describe() string {
	v := 0
	if d.ValSet != nil {
		v = d.ValSet.N
	}
	return fmt.Sprintf("%d training, %d validation, %d test images of %dx%dx%d, %d classes",
		d.TrainSet.N, v, d.TestSet.N, d.TrainSet.Shape.H, d.TrainSet.Shape.W, d.TrainSet.Shape.C, d.TrainSet.Classes)
}

func (d *Split) loader(s *Set, seed int64, batch int, shuffle, augment bool) Batches {
	return NewLoader(s, LoaderOptions{Batch: batch, Shuffle: shuffle, Augment: augment, Norm: d.Norm, Seed: seed})
}

// Train is the training part, shuffled and (if configured) augmented.
func (d *Split) Train(seed int64, batch int) Batches {
	return d.loader(d.TrainSet, seed, batch, true, d.Augment)
}

// Val is the validation part (the test set when nothing was held out).
func (d *Split) Val(batch int) Batches {
	if d.ValSet == nil {
		return d.Test(batch)
	}
	return d.loader(d.ValSet, 0, batch, false, false)
}

// Full is training plus validation, for final training.
func (d *Split) Full(seed int64, batch int) Batches {
	return d.loader(Concat(d.TrainSet, d.ValSet), seed, batch, true, d.Augment)
}

// Test is the test set.
func (d *Split) Test(batch int) Batches { return d.loader(d.TestSet, 0, batch, false, false) }

// Batch serves transforms n normalised training images drawn with seed.
func (d *Split) Batch(n int, seed int64) (*tensor.Tensor, error) {
	return RandomBatch(d.TrainSet, n, d.Norm, seed), nil
}
