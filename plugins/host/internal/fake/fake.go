package fake

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/sdk"
)

// Modes of Apply, chosen by the action argument "mode".
const (
	ModeIdentity   = 0 // return the network unchanged
	ModePanic      = 1
	ModeExit       = 2
	ModeHang       = 3 // ignore the deadline and sleep for a minute
	ModeBadShape   = 4 // return a weight with the wrong shape
	ModeNaN        = 5 // return a NaN weight
	ModeBadArch    = 6 // return an architecture failing ir.Arch.Check
	ModeHost       = 7 // call back the host for a batch and report its size
	ModeError      = 8 // return a plain error
	ModeWaitCancel = 9 // block until ctx is done, then return its error
)

// BadActionsKernel in the space makes Actions list an undeclared action.
const BadActionsKernel = 99

// Transform is the fake transform "fake".
type Transform struct{}

// Describe implements sdk.Transform.
func (Transform) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fake", Kind: sdk.KindTransform, Version: "0.1.0", Description: "test double",
		Families: []string{"plain"}, Params: []string{"layer", "mode"}}, nil
}

// Actions lists one identity action per layer.
func (x Transform) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	acts, err := x.actions(ctx, req.Net, req.Space)
	return sdk.ActionsResult{Actions: acts}, err
}

func (x Transform) actions(_ context.Context, net sdk.Network, s ir.Space) ([]sdk.Action, error) {
	var out []sdk.Action
	for i := range net.Arch.Layers {
		out = append(out, sdk.Action{Transform: "fake", Args: map[string]int{"layer": i + 1}})
	}
	for _, k := range s.Kernels {
		if k == BadActionsKernel {
			out = append(out, sdk.Action{Transform: "fake", Args: map[string]int{"layer": len(net.Arch.Layers) + 5}})
		}
	}
	return out, nil
}

// Apply implements the modes.
func (Transform) Apply(ctx context.Context, req sdk.ApplyRequest, h sdk.Host) (sdk.ApplyResult, error) {
	l, ok := req.Action.Arg("layer")
	if !ok || l < 1 || l > len(req.Net.Arch.Layers) {
		return sdk.ApplyResult{}, fmt.Errorf("fake: layer %d outside 1..%d", l, len(req.Net.Arch.Layers))
	}
	net := sdk.Network{Arch: req.Net.Arch.Clone(), Input: req.Net.Input}
	if req.Net.Weights != nil {
		net.Weights = req.Net.Weights.Clone()
	}
	res := sdk.ApplyResult{Net: net, Record: "identity", Details: map[string][]int{"pid": {os.Getpid()}}}
	mode, _ := req.Action.Arg("mode")
	switch mode {
	case ModePanic:
		panic("fake panics on purpose")
	case ModeExit:
		os.Exit(3)
	case ModeHang:
		time.Sleep(time.Minute)
	case ModeBadShape, ModeNaN:
		for _, name := range net.Weights.Names() {
			t := net.Weights[name]
			if mode == ModeNaN {
				t.Data[0] = float32(math.NaN())
			} else {
				t.Shape = []int{len(t.Data) + 1}
				t.Data = append(t.Data, 0)
			}
			break
		}
	case ModeBadArch:
		res.Net.Arch.Layers[0].Filters = 0
		res.Net.Arch.Layers[0].Units = 0
	case ModeHost:
		b, err := h.Batch(ctx, 4)
		if err != nil {
			return sdk.ApplyResult{}, err
		}
		res.Details["batch"] = append([]int(nil), b.Shape...)
	case ModeError:
		return sdk.ApplyResult{}, errors.New("fake refuses")
	case ModeWaitCancel:
		<-ctx.Done()
		return sdk.ApplyResult{}, ctx.Err()
	}
	return res, nil
}

// Controller is the fake controller "fakectl": it proposes the first
// candidate (setting bad=1: an action outside the candidates), counts
// observations, and saves that count as its state.
type Controller struct {
	bad      bool
	observed uint64
	seed     int64
}

// Describe implements sdk.Controller.
func (c *Controller) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fakectl", Kind: sdk.KindController, Version: "0.1.0"}, nil
}

// Configure implements sdk.Controller.
func (c *Controller) Configure(_ context.Context, cfg sdk.ControllerConfig) error {
	c.bad = cfg.Settings["bad"] == "1"
	c.seed = cfg.Seed
	return nil
}

// Propose implements sdk.Controller.
func (c *Controller) Propose(ctx context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	acts, err := c.propose(ctx, req)
	return sdk.ProposeResult{Actions: acts}, err
}

func (c *Controller) propose(_ context.Context, req sdk.ProposeRequest) ([][]sdk.Action, error) {
	out := make([][]sdk.Action, len(req.Nets))
	for i := range req.Nets {
		if c.bad {
			out[i] = []sdk.Action{{Transform: req.Transform, Args: map[string]int{"layer": 1000}}}
			continue
		}
		if i < len(req.Candidates) && len(req.Candidates[i]) > 0 {
			k := int((uint64(c.seed) + c.observed) % uint64(len(req.Candidates[i])))
			out[i] = []sdk.Action{req.Candidates[i][k]}
		}
	}
	return out, nil
}

// Observe implements sdk.Controller.
func (c *Controller) Observe(context.Context, sdk.ObserveRequest) error {
	c.observed++
	return nil
}

// Save implements sdk.Controller.
func (c *Controller) Save(ctx context.Context) (sdk.ControllerState, error) {
	b, err := c.save(ctx)
	return sdk.ControllerState{Data: b}, err
}

func (c *Controller) save(context.Context) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, c.observed), nil
}

// Load implements sdk.Controller.
func (c *Controller) Load(_ context.Context, st sdk.ControllerState) error {
	b := st.Data
	if len(b) != 8 {
		return fmt.Errorf("fakectl: state of %d bytes, want 8", len(b))
	}
	c.observed = binary.LittleEndian.Uint64(b)
	return nil
}
