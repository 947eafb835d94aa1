package cli

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/eas-go/eas/core/data"
)

// Checkpoint metadata that says what a network was trained on, written into
// every checkpoint easrun saves (train, run's start/best/final networks,
// transform --save) so that eval, export and train --init/--resume feed it
// inputs exactly as in training and can rebuild its validation split.
const (
	metaNorm       = "norm"             // channel, scale or none
	metaNormMean   = "norm_mean"        // per-channel mean of pixels/255, comma-separated
	metaNormStd    = "norm_std"         // per-channel std, comma-separated
	metaData       = "data"             // the data spec as given (KIND:PATH)
	metaDataFP     = "data_fingerprint" // data.Set.Fingerprint of the test images, which identify the data set
	metaValSize    = "val_size"         // training images held out for validation
	metaValSeed    = "val_seed"         // seed of that hold-out
	metaClassNames = "class_names"      // JSON array, when the data set names its classes
)

// Defaults of easrun train, used to rebuild a validation split for
// checkpoints that predate the metadata above.
const (
	defaultValSize = 5000
	defaultValSeed = 1
)

// trainedWith is what a checkpoint says about its training data.
type trainedWith struct {
	norm       data.Norm
	normKind   string
	hasNorm    bool
	spec       string
	finger     string
	valSize    int
	valSeed    int64
	hasSplit   bool
	classNames []string
}

// splitMeta is the metadata of a network trained on d, the split of spec
// made with o.
func splitMeta(spec string, o data.SplitOptions, d *data.Split) map[string]string {
	m := map[string]string{}
	if d == nil {
		return m
	}
	kind := o.Normalize
	if kind == "" {
		kind = "channel"
	}
	mean, std := d.Norm.Text()
	m[metaNorm], m[metaNormMean], m[metaNormStd] = kind, mean, std
	m[metaData], m[metaDataFP] = spec, d.TestSet.Fingerprint()
	m[metaValSize], m[metaValSeed] = strconv.Itoa(o.Validation), strconv.FormatInt(o.Seed, 10)
	if len(d.TrainSet.ClassNames) > 0 {
		b, _ := json.Marshal(d.TrainSet.ClassNames)
		m[metaClassNames] = string(b)
	}
	return m
}

// dataMetaOf copies the training-data entries of a checkpoint's metadata, so
// a network derived from it (a transformed child) keeps them.
func dataMetaOf(meta map[string]string) map[string]string {
	m := map[string]string{}
	for _, k := range []string{metaNorm, metaNormMean, metaNormStd, metaData, metaDataFP, metaValSize, metaValSeed, metaClassNames} {
		if v, ok := meta[k]; ok {
			m[k] = v
		}
	}
	return m
}

// readTrainedWith parses the training-data metadata of a checkpoint for
// images of the given channel count; entries that are absent leave the
// has* flags false, entries that are present but wrong are errors naming
// the key.
func readTrainedWith(meta map[string]string, channels int) (trainedWith, error) {
	t := trainedWith{spec: meta[metaData], finger: meta[metaDataFP], normKind: meta[metaNorm]}
	mean, okm := meta[metaNormMean]
	std, oks := meta[metaNormStd]
	if okm || oks {
		n, err := data.ParseNorm(mean, std, channels)
		if err != nil {
			return t, fmt.Errorf("metadata %s/%s: %w", metaNormMean, metaNormStd, err)
		}
		t.norm, t.hasNorm = n, true
	}
	size, okz := meta[metaValSize]
	seed, okd := meta[metaValSeed]
	if okz != okd {
		return t, fmt.Errorf("metadata has only one of %s and %s", metaValSize, metaValSeed)
	}
	if okz {
		n, err := strconv.Atoi(size)
		if err != nil || n < 0 {
			return t, fmt.Errorf("metadata %s %q is not a non-negative integer", metaValSize, size)
		}
		s, err := strconv.ParseInt(seed, 10, 64)
		if err != nil {
			return t, fmt.Errorf("metadata %s %q is not an integer", metaValSeed, seed)
		}
		t.valSize, t.valSeed, t.hasSplit = n, s, true
	}
	if s, ok := meta[metaClassNames]; ok {
		if err := json.Unmarshal([]byte(s), &t.classNames); err != nil {
			return t, fmt.Errorf("metadata %s is not a JSON list of strings: %v", metaClassNames, err)
		}
	}
	return t, nil
}

// describeNorm is one line for the user: values and where they came from.
func describeNorm(n data.Norm) string {
	mean, std := n.Text()
	return fmt.Sprintf("mean [%s], std [%s] of pixels/255", mean, std)
}
