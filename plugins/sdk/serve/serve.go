package serve

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

	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/internal/wire"
	"github.com/eas-go/eas/plugins/sdk"
)

// Plugins are what one executable serves: a Transform, a Controller, or both.
type Plugins struct {
	Transform  sdk.Transform
	Controller sdk.Controller
}

// ErrNotStartedByHost is returned by Serve when the executable was started by
// hand rather than by an eas host.
var ErrNotStartedByHost = errors.New("this is an eas plugin: easrun starts it (see easrun plugin list and docs/plugins.md); it is not meant to be run by hand")

// Serve is the whole main of a plugin executable: it serves p to the host
// that started it and returns nil when the host closes the plugin. It returns
// an error at once, serving nothing, when p is empty or the executable was
// not started by a host (ErrNotStartedByHost).
func Serve(p Plugins) error {
	set, err := pluginSet(p)
	if err != nil {
		return err
	}
	if os.Getenv(wire.MagicCookieKey) != wire.MagicCookieValue {
		return ErrNotStartedByHost
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: wire.MagicCookieKey, MagicCookieValue: wire.MagicCookieValue},
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: set},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
	return nil
}

func pluginSet(p Plugins) (plugin.PluginSet, error) {
	set := plugin.PluginSet{}
	if p.Transform != nil {
		set[wire.PluginTransform] = &transformPlugin{impl: p.Transform}
	}
	if p.Controller != nil {
		set[wire.PluginController] = &controllerPlugin{impl: p.Controller}
	}
	if len(set) == 0 {
		return nil, errors.New("serve: Plugins has neither a Transform nor a Controller")
	}
	return set, nil
}

// guard turns a panic into a status the host recognises, and a plain error
// into a status carrying its text.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "panic: %v\n%s", r, debug.Stack())
			err = status.Errorf(codes.Aborted, "%s%v", wire.PanicPrefix, r)
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
	impl sdk.Transform
}

func (p *transformPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	wire.RegisterTransformServer(s, &transformServer{impl: p.impl, broker: b})
	return nil
}

func (p *transformPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("serve: the client side lives in plugins/host")
}

type controllerPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl sdk.Controller
}

func (p *controllerPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	wire.RegisterControllerServer(s, &controllerServer{impl: p.impl})
	return nil
}

func (p *controllerPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("serve: the client side lives in plugins/host")
}

func badRequest(err error) error { return status.Error(codes.InvalidArgument, err.Error()) }

type transformServer struct {
	wire.UnimplementedTransformServer
	impl   sdk.Transform
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
		out = wire.InfoToProto(i)
		return err
	})
	return out, err
}

func (s *transformServer) Actions(ctx context.Context, req *wire.ActionsRequest) (out *wire.ActionList, err error) {
	r, err := wire.ActionsRequestFromProto(req)
	if err != nil {
		return nil, badRequest(err)
	}
	err = guard(func() error {
		res, err := s.impl.Actions(ctx, r)
		out = wire.ActionsResultToProto(res)
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
	req, err := wire.ApplyRequestFromProto(h)
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
		if req.Net.Weights, err = asm.Map(); err != nil {
			return badRequest(err)
		}
	}
	var host sdk.Host = noHost{}
	if id := h.GetHostBroker(); id != 0 {
		conn, err := s.hostConn(id)
		if err != nil {
			return status.Errorf(codes.Unavailable, "dial host callback: %v", err)
		}
		host = hostClient{c: wire.NewHostServiceClient(conn), call: h.GetHostCall()}
	}
	var res sdk.ApplyResult
	if err := guard(func() error {
		var err error
		res, err = s.impl.Apply(ctx, req, host)
		return err
	}); err != nil {
		return err
	}
	if err := stream.Send(&wire.ApplyOut{Msg: &wire.ApplyOut_Header{Header: wire.ApplyResultToProto(res)}}); err != nil {
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
	impl sdk.Controller
}

func (s *controllerServer) Describe(ctx context.Context, _ *wire.Empty) (out *wire.Info, err error) {
	err = guard(func() error {
		i, err := s.impl.Describe(ctx)
		out = wire.InfoToProto(i)
		return err
	})
	return out, err
}

func (s *controllerServer) Configure(ctx context.Context, p *wire.ControllerConfig) (*wire.Empty, error) {
	cfg, err := wire.ControllerConfigFromProto(p)
	if err != nil {
		return nil, badRequest(err)
	}
	return &wire.Empty{}, guard(func() error { return s.impl.Configure(ctx, cfg) })
}

func (s *controllerServer) Propose(ctx context.Context, p *wire.StepRequest) (*wire.Proposal, error) {
	req, err := wire.StepRequestFromProto(p)
	if err != nil {
		return nil, badRequest(err)
	}
	var props sdk.ProposeResult
	if err := guard(func() error {
		var err error
		props, err = s.impl.Propose(ctx, req)
		return err
	}); err != nil {
		return nil, err
	}
	return wire.ProposalToProto(props), nil
}

func (s *controllerServer) Observe(ctx context.Context, p *wire.ObserveRequest) (*wire.Empty, error) {
	req, err := wire.ObserveFromProto(p)
	if err != nil {
		return nil, badRequest(err)
	}
	return &wire.Empty{}, guard(func() error { return s.impl.Observe(ctx, req) })
}

func (s *controllerServer) Save(_ *wire.Empty, stream wire.Controller_SaveServer) error {
	var state sdk.ControllerState
	if err := guard(func() error {
		var err error
		state, err = s.impl.Save(stream.Context())
		return err
	}); err != nil {
		return err
	}
	return wire.SendBytes(state.Data, stream.Send)
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
	if err := guard(func() error { return s.impl.Load(stream.Context(), sdk.ControllerState{Data: state}) }); err != nil {
		return err
	}
	return stream.SendAndClose(&wire.Empty{})
}
