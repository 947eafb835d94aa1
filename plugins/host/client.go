package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/internal/wire"
	"github.com/eas-go/eas/plugins/sdk"
)

// The client halves of the go-plugin set; the server halves live in sdk.
type transformPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (transformPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host: client side only")
}

func (transformPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &rpcTransform{c: wire.NewTransformClient(c), broker: b}, nil
}

type controllerPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (controllerPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host: client side only")
}

func (controllerPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &rpcController{c: wire.NewControllerClient(c)}, nil
}

func infoFromProto(p *wire.Info) sdk.Info {
	return sdk.Info{Name: p.GetName(), Kind: p.GetKind(), Version: p.GetVersion(), Description: p.GetDescription(),
		Families: p.GetFamilies(), Params: p.GetParams()}
}

func infoToProto(i sdk.Info) *wire.Info {
	return &wire.Info{Name: i.Name, Kind: i.Kind, Version: i.Version, Description: i.Description,
		Families: i.Families, Params: i.Params}
}

func actionsFromProto(p *wire.ActionList) ([]sdk.Action, error) {
	out := make([]sdk.Action, 0, len(p.GetActions()))
	for _, pa := range p.GetActions() {
		n, args, err := wire.ActionFromProto(pa)
		if err != nil {
			return nil, err
		}
		out = append(out, sdk.Action{Transform: n, Args: args})
	}
	return out, nil
}

func actionsToProto(acts []sdk.Action) *wire.ActionList {
	out := &wire.ActionList{}
	for _, a := range acts {
		out.Actions = append(out.Actions, wire.ActionToProto(a.Transform, a.Args))
	}
	return out
}

// rpcTransform is sdk.Transform over gRPC, without any policing (guard does that).
type rpcTransform struct {
	c      wire.TransformClient
	broker *plugin.GRPCBroker

	// One host callback service per process, opened on first use: opening a
	// broker listener per call would cost milliseconds. Calls are told apart
	// by their id.
	hostOnce sync.Once
	hostID   uint32
	hostErr  error
	hosts    hostServer
}

// hostFor registers h for one call and returns the broker id and call id.
func (t *rpcTransform) hostFor(h sdk.Host) (uint32, uint64, func(), error) {
	t.hostOnce.Do(func() {
		t.hosts.m = map[uint64]sdk.Host{}
		t.hostID = t.broker.NextId()
		ln, err := t.broker.Accept(t.hostID)
		if err != nil {
			t.hostErr = fmt.Errorf("open host callback: %w", err)
			return
		}
		srv := grpc.NewServer()
		wire.RegisterHostServiceServer(srv, &t.hosts)
		// It serves until the broker closes its listener with the plugin.
		go func() { _ = srv.Serve(ln) }()
	})
	if t.hostErr != nil {
		return 0, 0, nil, t.hostErr
	}
	t.hosts.mu.Lock()
	defer t.hosts.mu.Unlock()
	t.hosts.next++
	id := t.hosts.next
	t.hosts.m[id] = h
	return t.hostID, id, func() {
		t.hosts.mu.Lock()
		delete(t.hosts.m, id)
		t.hosts.mu.Unlock()
	}, nil
}

func (t *rpcTransform) Describe(ctx context.Context) (sdk.Info, error) {
	i, err := t.c.Describe(ctx, &wire.Empty{})
	if err != nil {
		return sdk.Info{}, err
	}
	return infoFromProto(i), nil
}

func (t *rpcTransform) Actions(ctx context.Context, net sdk.Network, space ir.Space) ([]sdk.Action, error) {
	l, err := t.c.Actions(ctx, &wire.ActionsRequest{Net: wire.NetToProto(net.Arch, net.Input, false), Space: wire.SpaceToProto(space)})
	if err != nil {
		return nil, err
	}
	return actionsFromProto(l)
}

func (t *rpcTransform) Apply(ctx context.Context, req sdk.ApplyRequest, h sdk.Host) (sdk.ApplyResult, error) {
	var hostID uint32
	var callID uint64
	if h != nil {
		var done func()
		var err error
		if hostID, callID, done, err = t.hostFor(h); err != nil {
			return sdk.ApplyResult{}, err
		}
		defer done()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := t.c.Apply(ctx)
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	hdr := &wire.ApplyHeader{Net: wire.NetToProto(req.Net.Arch, req.Net.Input, req.Net.Weights != nil),
		Action: wire.ActionToProto(req.Action.Transform, req.Action.Args), Space: wire.SpaceToProto(req.Space),
		Seed: req.Seed, Noise: req.Noise, HostBroker: hostID, HostCall: callID}
	if err := st.Send(&wire.ApplyIn{Msg: &wire.ApplyIn_Header{Header: hdr}}); err != nil {
		return sdk.ApplyResult{}, recvErr(st, err)
	}
	if err := wire.SendTensors(req.Net.Weights, func(c *wire.TensorChunk) error {
		return st.Send(&wire.ApplyIn{Msg: &wire.ApplyIn_Weight{Weight: c}})
	}); err != nil {
		return sdk.ApplyResult{}, recvErr(st, err)
	}
	if err := st.CloseSend(); err != nil {
		return sdk.ApplyResult{}, err
	}
	first, err := st.Recv()
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	rh := first.GetHeader()
	if rh == nil {
		return sdk.ApplyResult{}, malformed("the first message of its answer is not a header")
	}
	a, in, err := wire.NetFromProto(rh.GetNet())
	if err != nil {
		return sdk.ApplyResult{}, malformed(err.Error())
	}
	res := sdk.ApplyResult{Net: sdk.Network{Arch: a, Input: in}, Record: rh.GetRecord()}
	if len(rh.GetDetails()) > 0 {
		res.Details = map[string][]int{}
		for k, v := range rh.GetDetails() {
			if res.Details[k], err = wire.Ints(v.GetValues()); err != nil {
				return sdk.ApplyResult{}, malformed(err.Error())
			}
		}
	}
	var asm wire.Assembler
	for {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sdk.ApplyResult{}, err
		}
		if err := asm.Add(m.GetWeight()); err != nil {
			return sdk.ApplyResult{}, malformed(err.Error())
		}
	}
	if rh.GetNet().GetHasWeights() {
		if res.Net.Weights, err = asm.Map(); err != nil {
			return sdk.ApplyResult{}, malformed(err.Error())
		}
	}
	return res, nil
}

// recvErr prefers the server's status (e.g. a panic) over io.EOF from Send.
func recvErr(st wire.Transform_ApplyClient, err error) error {
	if err == io.EOF {
		if _, rerr := st.Recv(); rerr != nil {
			return rerr
		}
	}
	return err
}

// malformedErr marks a protocol violation detected while decoding.
type malformedErr struct{ msg string }

func (e malformedErr) Error() string { return e.msg }

func malformed(msg string) error { return malformedErr{msg} }

// hostServer answers the callbacks of the calls in flight.
type hostServer struct {
	wire.UnimplementedHostServiceServer
	mu   sync.Mutex
	next uint64
	m    map[uint64]sdk.Host
}

// maxBatch bounds what a plugin may ask for in one callback.
const maxBatch = 1 << 16

func (s *hostServer) Batch(req *wire.BatchRequest, st wire.HostService_BatchServer) error {
	if req.GetN() < 1 || req.GetN() > maxBatch {
		return fmt.Errorf("batch size %d outside [1, %d]", req.GetN(), maxBatch)
	}
	s.mu.Lock()
	h := s.m[req.GetCall()]
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("host callback for call %d, which is not in flight", req.GetCall())
	}
	t, err := h.Batch(st.Context(), int(req.GetN()))
	if err != nil {
		return err
	}
	return wire.SendTensors(tensor.Map{"batch": t}, st.Send)
}

// rpcController is sdk.Controller over gRPC.
type rpcController struct{ c wire.ControllerClient }

func (c *rpcController) Describe(ctx context.Context) (sdk.Info, error) {
	i, err := c.c.Describe(ctx, &wire.Empty{})
	if err != nil {
		return sdk.Info{}, err
	}
	return infoFromProto(i), nil
}

func (c *rpcController) Configure(ctx context.Context, cfg sdk.ControllerConfig) error {
	p := &wire.ControllerConfig{Seed: cfg.Seed, Space: wire.SpaceToProto(cfg.Space), Settings: cfg.Settings, Steps: cfg.Steps}
	for _, t := range cfg.Transforms {
		p.Transforms = append(p.Transforms, infoToProto(t))
	}
	_, err := c.c.Configure(ctx, p)
	return err
}

func (c *rpcController) Propose(ctx context.Context, req sdk.StepRequest) ([][]sdk.Action, error) {
	p := &wire.StepRequest{Episode: int64(req.Episode), Step: int64(req.Step), Transform: req.Transform}
	for _, n := range req.Nets {
		p.Nets = append(p.Nets, wire.NetToProto(n.Arch, n.Input, false))
	}
	for _, cands := range req.Candidates {
		p.Candidates = append(p.Candidates, actionsToProto(cands))
	}
	prop, err := c.c.Propose(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([][]sdk.Action, 0, len(prop.GetPerNet()))
	for _, l := range prop.GetPerNet() {
		acts, err := actionsFromProto(l)
		if err != nil {
			return nil, malformed(err.Error())
		}
		out = append(out, acts)
	}
	return out, nil
}

func (c *rpcController) Observe(ctx context.Context, episode int, acc []float64, failed []bool) error {
	_, err := c.c.Observe(ctx, &wire.ObserveRequest{Episode: int64(episode), Accuracies: acc, Failed: failed})
	return err
}

func (c *rpcController) Save(ctx context.Context) ([]byte, error) {
	st, err := c.c.Save(ctx, &wire.Empty{})
	if err != nil {
		return nil, err
	}
	var out []byte
	for {
		b, err := st.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b.GetData()...)
	}
}

func (c *rpcController) Load(ctx context.Context, state []byte) error {
	st, err := c.c.Load(ctx)
	if err != nil {
		return err
	}
	if err := wire.SendBytes(state, st.Send); err != nil && err != io.EOF {
		return err
	}
	_, err = st.CloseAndRecv()
	return err
}
