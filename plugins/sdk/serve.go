package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/internal/wire"
)

// Serve is the whole main of a plugin executable: it serves impls (at most
// one Transform and at most one Controller) to the host that started it and
// returns when the host closes it. Started by hand (not by a host), it prints
// a note and exits with status 1.
func Serve(impls ...any) {
	set, err := pluginSet(impls)
	if err != nil {
		fmt.Fprintln(os.Stderr, "eas plugin:", err)
		os.Exit(2)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: MagicCookieKey, MagicCookieValue: MagicCookieValue},
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: set},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

func pluginSet(impls []any) (plugin.PluginSet, error) {
	set := plugin.PluginSet{}
	for _, impl := range impls {
		switch v := impl.(type) {
		case Transform:
			if _, dup := set[PluginTransform]; dup {
				return nil, errors.New("Serve takes at most one Transform")
			}
			set[PluginTransform] = &transformPlugin{impl: v}
		case Controller:
			if _, dup := set[PluginController]; dup {
				return nil, errors.New("Serve takes at most one Controller")
			}
			set[PluginController] = &controllerPlugin{impl: v}
		default:
			return nil, fmt.Errorf("Serve: %T is neither an sdk.Transform nor an sdk.Controller", impl)
		}
	}
	if len(set) == 0 {
		return nil, errors.New("Serve needs a Transform or a Controller")
	}
	return set, nil
}

// guard turns a panic into a status the host recognises, and a plain error
// into a status carrying its text.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "panic: %v\n%s", r, debug.Stack())
			err = status.Errorf(codes.Aborted, "%s%v", PanicPrefix, r)
		}
	}()
	err = f()
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

type transformPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Transform
}

func (p *transformPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	wire.RegisterTransformServer(s, &transformServer{impl: p.impl, broker: b})
	return nil
}

func (p *transformPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the client side lives in plugins/host")
}

type controllerPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Controller
}

func (p *controllerPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	wire.RegisterControllerServer(s, &controllerServer{impl: p.impl})
	return nil
}

func (p *controllerPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the client side lives in plugins/host")
}

func infoToProto(i Info) *wire.Info {
	return &wire.Info{Name: i.Name, Kind: i.Kind, Version: i.Version, Description: i.Description,
		Families: i.Families, Params: i.Params}
}

func infoFromProto(p *wire.Info) Info {
	return Info{Name: p.GetName(), Kind: p.GetKind(), Version: p.GetVersion(), Description: p.GetDescription(),
		Families: p.GetFamilies(), Params: p.GetParams()}
}

func actionFromProto(p *wire.Action) (Action, error) {
	n, args, err := wire.ActionFromProto(p)
	return Action{Transform: n, Args: args}, err
}

func actionsToProto(acts []Action) *wire.ActionList {
	out := &wire.ActionList{}
	for _, a := range acts {
		out.Actions = append(out.Actions, wire.ActionToProto(a.Transform, a.Args))
	}
	return out
}

func actionsFromProto(p *wire.ActionList) ([]Action, error) {
	out := make([]Action, 0, len(p.GetActions()))
	for _, pa := range p.GetActions() {
		a, err := actionFromProto(pa)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func netFromProto(p *wire.Net) (Network, error) {
	a, in, err := wire.NetFromProto(p)
	return Network{Arch: a, Input: in}, err
}

func badRequest(err error) error { return status.Error(codes.InvalidArgument, err.Error()) }

type transformServer struct {
	wire.UnimplementedTransformServer
	impl   Transform
	broker *plugin.GRPCBroker

	mu    sync.Mutex
	conns map[uint32]*grpc.ClientConn // host callback connections, kept for reuse
}

func (s *transformServer) hostConn(id uint32) (*grpc.ClientConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[id]; ok {
		return c, nil
	}
	c, err := s.broker.Dial(id)
	if err != nil {
		return nil, err
	}
	if s.conns == nil {
		s.conns = map[uint32]*grpc.ClientConn{}
	}
	s.conns[id] = c
	return c, nil
}

func (s *transformServer) Describe(ctx context.Context, _ *wire.Empty) (out *wire.Info, err error) {
	err = guard(func() error {
		i, err := s.impl.Describe(ctx)
		out = infoToProto(i)
		return err
	})
	return out, err
}

func (s *transformServer) Actions(ctx context.Context, req *wire.ActionsRequest) (out *wire.ActionList, err error) {
	net, err := netFromProto(req.GetNet())
	if err != nil {
		return nil, badRequest(err)
	}
	space, err := wire.SpaceFromProto(req.GetSpace())
	if err != nil {
		return nil, badRequest(err)
	}
	err = guard(func() error {
		acts, err := s.impl.Actions(ctx, net, space)
		out = actionsToProto(acts)
		return err
	})
	return out, err
}

func (s *transformServer) Apply(stream wire.Transform_ApplyServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return badRequest(errors.New("apply: first message is not a header"))
	}
	net, err := netFromProto(h.GetNet())
	if err != nil {
		return badRequest(err)
	}
	var asm wire.Assembler
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := asm.Add(m.GetWeight()); err != nil {
			return badRequest(err)
		}
	}
	if h.GetNet().GetHasWeights() {
		if net.Weights, err = asm.Map(); err != nil {
			return badRequest(err)
		}
	}
	act, err := actionFromProto(h.GetAction())
	if err != nil {
		return badRequest(err)
	}
	space, err := wire.SpaceFromProto(h.GetSpace())
	if err != nil {
		return badRequest(err)
	}
	req := ApplyRequest{Net: net, Action: act, Space: space, Seed: h.GetSeed(), Noise: h.GetNoise()}
	var host Host = noHost{}
	if id := h.GetHostBroker(); id != 0 {
		conn, err := s.hostConn(id)
		if err != nil {
			return status.Errorf(codes.Unavailable, "dial host callback: %v", err)
		}
		host = hostClient{c: wire.NewHostServiceClient(conn), call: h.GetHostCall()}
	}
	var res ApplyResult
	if err := guard(func() error {
		var err error
		res, err = s.impl.Apply(ctx, req, host)
		return err
	}); err != nil {
		return err
	}
	out := &wire.ApplyResultHeader{Net: wire.NetToProto(res.Net.Arch, res.Net.Input, res.Net.Weights != nil),
		Record: res.Record, Details: map[string]*wire.IntList{}}
	for k, v := range res.Details {
		out.Details[k] = &wire.IntList{Values: wire.Ints64(v)}
	}
	if err := stream.Send(&wire.ApplyOut{Msg: &wire.ApplyOut_Header{Header: out}}); err != nil {
		return err
	}
	return wire.SendTensors(res.Net.Weights, func(c *wire.TensorChunk) error {
		return stream.Send(&wire.ApplyOut{Msg: &wire.ApplyOut_Weight{Weight: c}})
	})
}

type noHost struct{}

func (noHost) Batch(context.Context, int) (*tensor.Tensor, error) {
	return nil, errors.New("the host offers no data")
}

// hostClient calls back into the host through the go-plugin broker.
type hostClient struct {
	c    wire.HostServiceClient
	call uint64
}

func (h hostClient) Batch(ctx context.Context, n int) (*tensor.Tensor, error) {
	st, err := h.c.Batch(ctx, &wire.BatchRequest{N: int64(n), Call: h.call})
	if err != nil {
		return nil, err
	}
	var asm wire.Assembler
	for {
		c, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := asm.Add(c); err != nil {
			return nil, err
		}
	}
	m, err := asm.Map()
	if err != nil {
		return nil, err
	}
	t, ok := m["batch"]
	if !ok || len(m) != 1 {
		return nil, errors.New("host batch: expected one tensor named batch")
	}
	return t, nil
}

type controllerServer struct {
	wire.UnimplementedControllerServer
	impl Controller
}

func (s *controllerServer) Describe(ctx context.Context, _ *wire.Empty) (out *wire.Info, err error) {
	err = guard(func() error {
		i, err := s.impl.Describe(ctx)
		out = infoToProto(i)
		return err
	})
	return out, err
}

func (s *controllerServer) Configure(ctx context.Context, p *wire.ControllerConfig) (*wire.Empty, error) {
	space, err := wire.SpaceFromProto(p.GetSpace())
	if err != nil {
		return nil, badRequest(err)
	}
	cfg := ControllerConfig{Seed: p.GetSeed(), Space: space, Settings: p.GetSettings(), Steps: p.GetSteps()}
	for _, t := range p.GetTransforms() {
		cfg.Transforms = append(cfg.Transforms, infoFromProto(t))
	}
	return &wire.Empty{}, guard(func() error { return s.impl.Configure(ctx, cfg) })
}

func (s *controllerServer) Propose(ctx context.Context, p *wire.StepRequest) (*wire.Proposal, error) {
	req := StepRequest{Episode: int(p.GetEpisode()), Step: int(p.GetStep()), Transform: p.GetTransform()}
	for _, pn := range p.GetNets() {
		n, err := netFromProto(pn)
		if err != nil {
			return nil, badRequest(err)
		}
		req.Nets = append(req.Nets, n)
	}
	for _, pc := range p.GetCandidates() {
		c, err := actionsFromProto(pc)
		if err != nil {
			return nil, badRequest(err)
		}
		req.Candidates = append(req.Candidates, c)
	}
	var props [][]Action
	if err := guard(func() error {
		var err error
		props, err = s.impl.Propose(ctx, req)
		return err
	}); err != nil {
		return nil, err
	}
	out := &wire.Proposal{}
	for _, acts := range props {
		out.PerNet = append(out.PerNet, actionsToProto(acts))
	}
	return out, nil
}

func (s *controllerServer) Observe(ctx context.Context, p *wire.ObserveRequest) (*wire.Empty, error) {
	return &wire.Empty{}, guard(func() error {
		return s.impl.Observe(ctx, int(p.GetEpisode()), p.GetAccuracies(), p.GetFailed())
	})
}

func (s *controllerServer) Save(_ *wire.Empty, stream wire.Controller_SaveServer) error {
	var state []byte
	if err := guard(func() error {
		var err error
		state, err = s.impl.Save(stream.Context())
		return err
	}); err != nil {
		return err
	}
	return wire.SendBytes(state, stream.Send)
}

func (s *controllerServer) Load(stream wire.Controller_LoadServer) error {
	var state []byte
	for {
		b, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		state = append(state, b.GetData()...)
	}
	if err := guard(func() error { return s.impl.Load(stream.Context(), state) }); err != nil {
		return err
	}
	return stream.SendAndClose(&wire.Empty{})
}

var _ = ir.Shape{}
