package random

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/eas-go/eas/controllers/internal/actspace"
	"github.com/eas-go/eas/controllers/internal/rng"
	"github.com/eas-go/eas/plugins/sdk"
)

// Controller is the built-in "random".
type Controller struct {
	r     *rng.R
	vocab actspace.Vocab
	infos []sdk.Info // the step transforms' descriptions
}

// New returns a controller (seeded by Configure).
func New() sdk.Controller { return &Controller{r: rng.New(0)} }

// Describe names the controller.
func (*Controller) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "random", Kind: sdk.KindController, Version: "1.0", Families: []string{"plain", "densenet"},
		Description: "random search over the RL controller's action space, uniform choices"}, nil
}

// Configure seeds the generator.
func (c *Controller) Configure(_ context.Context, cfg sdk.ControllerConfig) error {
	c.r = rng.New(cfg.Seed)
	c.vocab = actspace.NewVocab(cfg.Space)
	c.infos = cfg.Transforms
	return nil
}

// Propose chooses uniformly.
func (c *Controller) Propose(ctx context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	acts, err := c.propose(ctx, req)
	return sdk.ProposeResult{Actions: acts}, err
}

func (c *Controller) propose(_ context.Context, req sdk.ProposeRequest) ([][]sdk.Action, error) {
	out := make([][]sdk.Action, len(req.Nets))
	for i, cands := range req.Candidates {
		if len(cands) == 0 {
			continue
		}
		if actspace.Each(c.infos, req.Transform) {
			for _, a := range cands {
				if c.r.Float64() < 0.5 {
					out[i] = append(out[i], a)
				}
			}
			continue
		}
		t := c.vocab.TreeOf(req.Nets[i].Arch, cands)
		b := t.Blocks[c.r.Intn(len(t.Blocks))]
		p := b.Positions[c.r.Intn(len(b.Positions))]
		out[i] = []sdk.Action{p.Options[c.r.Intn(len(p.Options))].Action}
	}
	return out, nil
}

// Observe does nothing: random search does not learn.
func (*Controller) Observe(context.Context, sdk.ObserveRequest) error { return nil }

type state struct {
	RNG uint64 `json:"rng"`
}

// Save stores the generator state.
func (c *Controller) Save(ctx context.Context) (sdk.ControllerState, error) {
	b, err := c.save(ctx)
	return sdk.ControllerState{Data: b}, err
}

func (c *Controller) save(context.Context) ([]byte, error) {
	return json.Marshal(state{RNG: c.r.State})
}

// Load restores it.
func (c *Controller) Load(_ context.Context, st sdk.ControllerState) error {
	b := st.Data
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("random controller state: %w", err)
	}
	c.r = &rng.R{State: s.RNG}
	return nil
}
