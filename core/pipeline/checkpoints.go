package pipeline

import (
	"fmt"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
)

// Checkpoints saves and loads a search's networks (a search.Checkpoints);
// every checkpoint it writes also records Meta (the training data's
// normalisation and split).
type Checkpoints struct {
	Meta map[string]string
	// RandomWeights (dry runs): networks carry random weights, so that
	// transforms run on real tensors and shape errors show, but checkpoints
	// hold architectures only, and loading one gives it fresh random weights.
	RandomWeights bool
}

// WeightsKey marks a checkpoint that holds an architecture only (dry runs):
// its value is "none".
const WeightsKey = "weights"

// Save writes n with Meta and meta (meta wins).
func (c Checkpoints) Save(path string, n sdk.Network, meta map[string]string) error {
	meta = WithMeta(c.Meta, meta)
	if c.RandomWeights {
		n.Weights = nil // random: not worth a file, and never to be trained from
	}
	if n.Weights == nil {
		meta[WeightsKey] = "none"
	}
	return checkpoint.Save(path, n.Arch, n.Input, n.Weights, meta)
}

// Load accepts the architecture-only checkpoints of dry runs too (Weights
// nil); LoadNetwork, for commands that need weights, refuses them.
func (c Checkpoints) Load(path string) (sdk.Network, error) {
	n, _, err := readNetwork(path, true)
	if err == nil && c.RandomWeights && n.Weights == nil {
		n.Weights, err = randomWeights(n, 1)
	}
	return n, err
}

// randomWeights are fresh He-normal weights for n (a dry run's networks).
func randomWeights(n sdk.Network, seed int64) (tensor.Map, error) {
	g, err := ir.Lower(n.Arch, n.Input)
	if err != nil {
		return nil, err
	}
	return nn.InitParams(g, seed), nil
}

// LoadNetwork reads a checkpoint and checks its weights against its
// architecture; the checkpoint is returned for its metadata.
func LoadNetwork(path string) (sdk.Network, *checkpoint.Checkpoint, error) {
	return readNetwork(path, false)
}

func readNetwork(path string, archOnly bool) (sdk.Network, *checkpoint.Checkpoint, error) {
	ck, err := checkpoint.Load(path)
	if err != nil {
		return sdk.Network{}, nil, err
	}
	a, err := ir.ParseArch(ck.ArchString)
	if err != nil {
		return sdk.Network{}, nil, fmt.Errorf("%s: architecture: %w", path, err)
	}
	g, err := ir.Lower(a, ck.Input)
	if err != nil {
		return sdk.Network{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	if ck.Meta[WeightsKey] == "none" && len(ck.Params) == 0 {
		if !archOnly {
			return sdk.Network{}, nil, fmt.Errorf("%s holds an architecture without weights (written by a dry run, --evaluator virtual)", path)
		}
		return sdk.Network{Arch: a, Input: ck.Input}, ck, nil
	}
	if err := ck.Verify(g); err != nil {
		return sdk.Network{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return sdk.Network{Arch: a, Input: ck.Input, Weights: ck.Weights()}, ck, nil
}

// WithMeta returns base plus extra (extra wins), a fresh map.
func WithMeta(base, extra map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}
