package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/internal/wire"
	"github.com/eas-go/eas/plugins/sdk"
)

type testTransform struct{ mode string }

func (testTransform) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "t", Kind: sdk.KindTransform, Version: "1", Params: []string{"layer"}}, nil
}

func (x testTransform) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	acts, err := x.actions(ctx, req.Net, req.Space)
	return sdk.ActionsResult{Actions: acts}, err
}

func (x testTransform) actions(_ context.Context, net sdk.Network, _ ir.Space) ([]sdk.Action, error) {
	return []sdk.Action{{Transform: "t", Args: map[string]int{"layer": len(net.Arch.Layers)}}}, nil
}

func (x testTransform) Apply(ctx context.Context, req sdk.ApplyRequest, _ sdk.Host) (sdk.ApplyResult, error) {
	switch x.mode {
	case "panic":
		panic("boom")
	case "error":
		return sdk.ApplyResult{}, errors.New("no thanks")
	}
	w := req.Net.Weights.Clone()
	for _, t := range w {
		for i := range t.Data {
			t.Data[i] *= 2
		}
	}
	return sdk.ApplyResult{Net: sdk.Network{Arch: req.Net.Arch, Input: req.Net.Input, Weights: w}, Record: "doubled",
		Details:     map[string][]int{"n": {len(w)}},
		Diagnostics: []sdk.Diagnostic{{Severity: sdk.SeverityWarning, Summary: "doubled everything"}}}, nil
}

type testController struct{ sdk.Controller }

func TestServeArguments(t *testing.T) {
	cases := []struct {
		name   string
		p      Plugins
		cookie string
		want   error
		msg    string
	}{
		{"none", Plugins{}, wire.MagicCookieValue, nil, "neither a Transform nor a Controller"},
		{"by hand", Plugins{Transform: testTransform{}}, "", ErrNotStartedByHost, ""},
		{"wrong cookie", Plugins{Controller: testController{}}, "x", ErrNotStartedByHost, ""},
	}
	for _, c := range cases {
		t.Setenv(wire.MagicCookieKey, c.cookie)
		err := Serve(c.p)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %v %q", c.name, err, c.want, c.msg)
		}
	}
	set, err := pluginSet(Plugins{Transform: testTransform{}, Controller: testController{}})
	if err != nil || len(set) != 2 {
		t.Errorf("both: %v %v", set, err)
	}
}

// dial serves impl on an in-memory connection (bufconn).
func dial(t *testing.T, impl sdk.Transform) wire.TransformClient {
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	wire.RegisterTransformServer(s, &transformServer{impl: impl})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///buf", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return wire.NewTransformClient(conn)
}

func applyRaw(t *testing.T, c wire.TransformClient, w tensor.Map, first *wire.ApplyIn) (*wire.ApplyResultHeader, tensor.Map, error) {
	st, err := c.Apply(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a := ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 2}, {Kind: ir.Softmax, Units: 2}}}
	if first == nil {
		req := sdk.ApplyRequest{Net: sdk.Network{Arch: a, Input: ir.Shape{C: 1, H: 1, W: 3}, Weights: w},
			Action: sdk.Action{Transform: "t", Args: map[string]int{"layer": 1}}}
		first = &wire.ApplyIn{Msg: &wire.ApplyIn_Header{Header: wire.ApplyHeaderToProto(req, 0, 0)}}
	}
	st.Send(first)
	wire.SendTensors(w, func(c *wire.TensorChunk) error { return st.Send(&wire.ApplyIn{Msg: &wire.ApplyIn_Weight{Weight: c}}) })
	st.CloseSend()
	m, err := st.Recv()
	if err != nil {
		return nil, nil, err
	}
	var asm wire.Assembler
	for {
		c, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if err := asm.Add(c.GetWeight()); err != nil {
			t.Fatal(err)
		}
	}
	out, err := asm.Map()
	return m.GetHeader(), out, err
}

func TestTransformServer(t *testing.T) {
	w := tensor.Map{"l1.fc.weight": tensor.FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)}
	c := dial(t, testTransform{})
	info, err := c.Describe(context.Background(), &wire.Empty{})
	if err != nil || info.Name != "t" || info.Params[0] != "layer" {
		t.Fatalf("describe %v %v", info, err)
	}
	h, got, err := applyRaw(t, c, w, nil)
	if err != nil || h.Record != "doubled" || got["l1.fc.weight"].Data[5] != 12 || h.Details["n"].Values[0] != 1 ||
		len(h.Diagnostics) != 1 || h.Diagnostics[0].Severity != int32(sdk.SeverityWarning) {
		t.Fatalf("apply: %v %v %v", h, got, err)
	}
	cases := []struct {
		mode  string
		first *wire.ApplyIn
		code  codes.Code
		msg   string
	}{
		{"panic", nil, codes.Aborted, wire.PanicPrefix + "boom"},
		{"error", nil, codes.Unknown, "no thanks"},
		{"", &wire.ApplyIn{Msg: &wire.ApplyIn_Weight{Weight: &wire.TensorChunk{Name: "x"}}}, codes.InvalidArgument, "not a header"},
	}
	for _, cs := range cases {
		_, _, err := applyRaw(t, dial(t, testTransform{mode: cs.mode}), w, cs.first)
		if st, _ := status.FromError(err); st.Code() != cs.code || !strings.Contains(st.Message(), cs.msg) {
			t.Errorf("%q: got %v, want %s %q", cs.mode, err, cs.code, cs.msg)
		}
	}
}
