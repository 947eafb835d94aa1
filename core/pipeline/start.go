package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
	"github.com/eas-go/eas/plugins/sdk"
)

// startName is the start network's file in the experiment's directory,
// shared by all its searches.
const startName = "start.safetensors"

// startNetwork trains (or loads) the start network once for all searches.
// With eval set (a distributed run) the training is one job of eval.
func (r *Session) startNetwork(ctx context.Context, eval search.Evaluator) (sdk.Network, float64, error) {
	path := filepath.Join(r.Dir, startName)
	if _, err := os.Stat(path); err == nil {
		return r.resumedStart(path)
	}
	net, g, err := r.initialStart()
	if err != nil {
		return net, 0, err
	}
	var acc float64
	if r.Split == nil {
		// A dry run trains nothing: the start network keeps its random (or
		// given) weights, so transforms apply to real tensors.
		acc = search.VirtualScore(net.Arch, net.Input)
	} else if acc, net.Weights, err = r.trainStart(ctx, net, g, eval); err != nil {
		return net, 0, err
	}
	if err := r.saveStart(path, net, acc); err != nil {
		return net, 0, err
	}
	r.cfg.Log.Printf("start network: %s, validation accuracy %.2f%%", net.Arch, 100*acc)
	return net, acc, nil
}

// resumedStart loads the start network an earlier run of this directory
// trained, after checking it is the file that run wrote.
func (r *Session) resumedStart(path string) (sdk.Network, float64, error) {
	if err := store.VerifyFile(path, r.manifest.Start, "start network"); err != nil {
		return sdk.Network{}, 0, fmt.Errorf("resuming: %w", err)
	}
	n, meta, err := readNetwork(path, true) // a dry run's start has no weights
	if err != nil {
		return sdk.Network{}, 0, fmt.Errorf("resuming: %w", err)
	}
	acc, err := strconv.ParseFloat(meta.Meta["val_acc"], 64)
	if err != nil {
		return sdk.Network{}, 0, fmt.Errorf("resuming: %s: metadata val_acc %q: not a number", path, meta.Meta["val_acc"])
	}
	if n.Weights == nil && r.ckpt.RandomWeights { // the same random weights as when the dry run began
		if n.Weights, err = randomWeights(n, r.cfg.Exp.Start.Train.Seed+1); err != nil {
			return sdk.Network{}, 0, fmt.Errorf("resuming: %w", err)
		}
	}
	r.cfg.Log.Printf("start network from %s: %s (validation accuracy %.2f%%)", path, n.Arch, 100*acc)
	return n, acc, nil
}

// initialStart is the untrained start network: the experiment's checkpoint
// or its architecture with fresh weights.
func (r *Session) initialStart() (sdk.Network, *ir.Graph, error) {
	e := r.cfg.Exp
	var net sdk.Network
	if e.Start.Checkpoint != "" {
		n, err := r.ckpt.Load(e.Start.Checkpoint)
		if err != nil {
			return net, nil, err
		}
		net = n
	} else {
		in := e.Start.Input
		if r.Split != nil {
			in = r.Split.TrainSet.Shape
		}
		g, err := ir.Lower(e.Start.Arch, in)
		if err != nil {
			return net, nil, fmt.Errorf("start network on %dx%dx%d images: %w", in.H, in.W, in.C, err)
		}
		if err := train.FitsMemory(r.cfg.Backend, g, e.Start.Train.Batch); err != nil {
			return net, nil, fmt.Errorf("start network: %w", err)
		}
		net = sdk.Network{Arch: e.Start.Arch, Input: in, Weights: nn.InitParams(g, e.Start.Train.Seed+1)}
	}
	g, err := ir.Lower(net.Arch, net.Input)
	return net, g, err
}

// trainStart trains the start network here or, with eval, as a job of the
// (remote) evaluator, and returns its validation accuracy and trained
// weights.
func (r *Session) trainStart(ctx context.Context, net sdk.Network, g *ir.Graph, eval search.Evaluator) (float64, tensor.Map, error) {
	if got := g.Nodes[g.Output()].Out.C; got != r.Split.TrainSet.Classes {
		return 0, nil, fmt.Errorf("the start network ends in SM(%d) but the data set has %d classes", got, r.Split.TrainSet.Classes)
	}
	tr := r.cfg.Exp.Start.Train
	if r.cfg.Exp.Start.Checkpoint != "" && tr.Epochs == experiment.PaperChild().Epochs {
		tr.Epochs = 0 // a given checkpoint is used as it is unless epochs are set
	}
	r.cfg.Log.Printf("training the start network %s for %d epochs", net.Arch, tr.Epochs)
	if eval != nil {
		out := eval.Evaluate(ctx, []search.Job{{ID: 0, Arch: net.Arch, Input: net.Input, Weights: net.Weights, Training: tr}}, nil)
		if out[0].Err != nil {
			return 0, nil, fmt.Errorf("training the start network: %w", out[0].Err)
		}
		return out[0].Acc, out[0].Weights, nil
	}
	res, err := train.Train(ctx, g, net.Weights, r.Split.Train(tr.Seed, tr.Batch), r.Split.Val(256), train.Config{Training: tr, Backend: r.cfg.Backend}, r.cfg.Log.Epochs())
	if err != nil {
		return 0, nil, fmt.Errorf("training the start network: %w", err)
	}
	return res.ValAcc, net.Weights, nil // train.Train trains the weights in place
}

// saveStart writes the start network. Its hash is recorded before the file
// exists: a crash in between leaves no start network, which the resume
// makes again.
func (r *Session) saveStart(path string, net sdk.Network, acc float64) error {
	meta := WithMeta(r.ckpt.Meta, map[string]string{"val_acc": fmt.Sprint(acc)})
	if r.ckpt.RandomWeights {
		net.Weights = nil // a dry run's weights are random: the file holds the architecture
	}
	if net.Weights == nil {
		meta[WeightsKey] = "none" // a dry run's architecture-only start
	}
	b, err := checkpoint.Encode(net.Arch, net.Input, net.Weights, meta)
	if err != nil {
		return fmt.Errorf("start network: %w", err)
	}
	r.manifest.Start = store.SHA256(b)
	if err := store.WriteManifest(r.Dir, r.manifest); err != nil {
		return err
	}
	return store.WriteFileAtomic(path, b)
}

// recordStart writes a search's start record once.
func recordStart(st *store.Store, start sdk.Network, startAcc float64) error {
	for _, r := range st.Records() {
		if r.Kind == store.KindStart {
			return nil
		}
	}
	g, err := ir.Lower(start.Arch, start.Input)
	if err != nil {
		return fmt.Errorf("start network: %w", err)
	}
	p, m := g.Cost()
	return st.Append(store.Record{Kind: store.KindStart, Stage: 1, Arch: start.Arch.String(), Hash: start.Arch.Hash(), Depth: start.Arch.Depth(),
		Params: p, MAdds: m, ValAcc: startAcc, Status: store.StatusOK, Weights: "../" + startName})
}
