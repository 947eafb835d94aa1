package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/internal/wire"
	"github.com/eas-go/eas/plugins/sdk"
)

// The client halves of the go-plugin set; the server halves live in
// plugins/sdk/serve. Both convert with plugins/internal/wire.
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
	return wire.InfoFromProto(i), nil
}

func (t *rpcTransform) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	l, err := t.c.Actions(ctx, wire.ActionsRequestToProto(req))
	if err != nil {
		return sdk.ActionsResult{}, err
	}
	res, err := wire.ActionsResultFromProto(l)
	if err != nil {
		return sdk.ActionsResult{}, malformed(err.Error())
	}
	return res, nil
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
	hdr := wire.ApplyHeaderToProto(req, hostID, callID)
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
	res, err := wire.ApplyResultFromProto(rh)
	if err != nil {
		return sdk.ApplyResult{}, malformed(err.Error())
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
	return wire.InfoFromProto(i), nil
}

func (c *rpcController) Configure(ctx context.Context, cfg sdk.ControllerConfig) error {
	_, err := c.c.Configure(ctx, wire.ControllerConfigToProto(cfg))
	return err
}

func (c *rpcController) Propose(ctx context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	prop, err := c.c.Propose(ctx, wire.StepRequestToProto(req))
	if err != nil {
		return sdk.ProposeResult{}, err
	}
	out, err := wire.ProposalFromProto(prop)
	if err != nil {
		return sdk.ProposeResult{}, malformed(err.Error())
	}
	return out, nil
}

func (c *rpcController) Observe(ctx context.Context, req sdk.ObserveRequest) error {
	_, err := c.c.Observe(ctx, wire.ObserveToProto(req))
	return err
}

func (c *rpcController) Save(ctx context.Context) (sdk.ControllerState, error) {
	st, err := c.c.Save(ctx, &wire.Empty{})
	if err != nil {
		return sdk.ControllerState{}, err
	}
	var out []byte
	for {
		b, err := st.Recv()
		if err == io.EOF {
			return sdk.ControllerState{Data: out}, nil
		}
		if err != nil {
			return sdk.ControllerState{}, err
		}
		out = append(out, b.GetData()...)
	}
}

func (c *rpcController) Load(ctx context.Context, state sdk.ControllerState) error {
	st, err := c.c.Load(ctx)
	if err != nil {
		return err
	}
	if err := wire.SendBytes(state.Data, st.Send); err != nil && err != io.EOF {
		return err
	}
	_, err = st.CloseAndRecv()
	return err
}
