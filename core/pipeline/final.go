package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/plugins/sdk"
)

// final trains the top networks of the search in dir on the full training
// data and scores them on the test set; networks with a final record are
// done (resume).
func (r *Session) final(ctx context.Context, dir string) error {
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	done := map[string]bool{}
	for _, rec := range st.Records() {
		if rec.Kind == store.KindFinal {
			done[rec.Arch] = true
		}
	}
	fin := r.cfg.Exp.Final
	for _, top := range search.Top(st.Records(), fin.Top) {
		if done[top.Arch] {
			continue
		}
		net, err := r.finalNetwork(dir, top)
		if err != nil {
			return err
		}
		r.cfg.Log.Printf("final training of network %d (%s) for %d epochs", top.ID, net.Arch, fin.Training.Epochs)
		out := r.Eval.Evaluate(ctx, []search.Job{{ID: top.ID, Arch: net.Arch, Input: net.Input, Weights: net.Weights, Training: fin.Training, Full: fin.FullData}}, nil)
		rec := store.Record{ID: top.ID, Kind: store.KindFinal, Arch: top.Arch, Hash: top.Hash, Depth: top.Depth, Params: top.Params, MAdds: top.MAdds,
			ValAcc: top.ValAcc, Epochs: fin.Training.Epochs, Seconds: out[0].Duration.Seconds(), Status: store.StatusOK}
		if out[0].Err != nil {
			if errors.Is(out[0].Err, context.Canceled) {
				return out[0].Err
			}
			rec.Status, rec.Error = store.StatusFailed, out[0].Err.Error()
		} else {
			rec.TestAcc = out[0].Acc
			rec.Weights = filepath.Join("checkpoints", fmt.Sprintf("final-%04d.safetensors", top.ID))
			net.Weights = out[0].Weights
			if err := r.ckpt.Save(filepath.Join(dir, rec.Weights), net, map[string]string{"test_acc": fmt.Sprint(out[0].Acc)}); err != nil {
				return fmt.Errorf("network %d: %w", top.ID, err)
			}
		}
		if err := st.Append(rec); err != nil {
			return err
		}
		r.cfg.Log.Printf("network %d: test accuracy %.2f%%", top.ID, 100*rec.TestAcc)
	}
	return nil
}

// finalNetwork is where a top network's final training starts: its
// checkpoint when the search kept one, else fresh weights.
func (r *Session) finalNetwork(dir string, top store.Record) (sdk.Network, error) {
	if top.Weights != "" {
		path := filepath.Join(dir, top.Weights)
		err := store.VerifyRecorded(path, top.WeightsSHA256, fmt.Sprintf("checkpoint of network %d", top.ID))
		var n sdk.Network
		if err == nil {
			n, err = Checkpoints{}.Load(path)
		}
		if err != nil {
			r.cfg.Log.Printf("network %d: %v; training it from scratch", top.ID, err)
		}
		if n.Weights != nil {
			return n, nil
		}
	}
	// No checkpoint kept: train from scratch.
	a, err := ir.ParseArch(top.Arch)
	if err != nil {
		return sdk.Network{}, fmt.Errorf("%s: network %d: %w", dir, top.ID, err)
	}
	start, err := Checkpoints{}.Load(filepath.Join(r.Dir, startName))
	if err != nil {
		return sdk.Network{}, err
	}
	g, err := ir.Lower(a, start.Input)
	if err != nil {
		return sdk.Network{}, err
	}
	return sdk.Network{Arch: a, Input: start.Input, Weights: nn.InitParams(g, r.cfg.Exp.Final.Training.Seed+7)}, nil
}
