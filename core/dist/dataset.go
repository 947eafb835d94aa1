package dist

import (
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
)

// Dataset implements search.Data exactly as the driver's split does, so a
// child trained on a worker sees the same batches as one trained locally.

func (d *Dataset) loader(s *data.Set, seed int64, batch int, shuffle, augment bool) train.Source {
	return data.NewLoader(s, data.LoaderOptions{Batch: batch, Shuffle: shuffle, Augment: augment, Norm: d.Norm, Seed: seed})
}

// Train is the training part, shuffled and (if configured) augmented.
func (d *Dataset) Train(seed int64, batch int) train.Source {
	return d.loader(d.TrainSet, seed, batch, true, d.Augment)
}

// Val is the validation part (the test set when nothing was held out).
func (d *Dataset) Val(batch int) train.Source {
	if d.ValSet == nil {
		return d.Test(batch)
	}
	return d.loader(d.ValSet, 0, batch, false, false)
}

// Full is training plus validation.
func (d *Dataset) Full(seed int64, batch int) train.Source {
	return d.loader(data.Concat(d.TrainSet, d.ValSet), seed, batch, true, d.Augment)
}

// Test is the test set.
func (d *Dataset) Test(batch int) train.Source { return d.loader(d.TestSet, 0, batch, false, false) }

// Batch serves transforms n normalised training images.
func (d *Dataset) Batch(n int, seed int64) (*tensor.Tensor, error) {
	return data.RandomBatch(d.TrainSet, n, d.Norm, seed), nil
}
