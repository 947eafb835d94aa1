package sdk

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
)

type testTransform struct{ mode string }

func (testTransform) Describe(context.Context) (Info, error) {
	return Info{Name: "t", Kind: KindTransform, Version: "1", Params: []string{"layer"}}, nil
}

func (testTransform) Actions(_ context.Context, net Network, _ ir.Space) ([]Action, error) {
	return []Action{{Transform: "t", Args: map[string]int{"layer": len(net.Arch.Layers)}}}, nil
}

func (x testTransform) Apply(ctx context.Context, req ApplyRequest, _ Host) (ApplyResult, error) {
	switch x.mode {
	case "panic":
		panic("boom")
	case "error":
		return ApplyResult{}, errors.New("no thanks")
	}
	w := req.Net.Weights.Clone()
	for _, t := range w {
		for i := range t.Data {
			t.Data[i] *= 2
		}
	}
	return ApplyResult{Net: Network{Arch: req.Net.Arch, Input: req.Net.Input, Weights: w}, Record: "doubled",
		Details: map[string][]int{"n": {len(w)}}}, nil
}

type testController struct{ Controller }

func TestPluginSet(t *testing.T) {
	cases := []struct {
		name  string
		impls []any
		want  string
	}{
		{"none", nil, "needs a Transform or a Controller"},
		{"two transforms", []any{testTransform{}, testTransform{}}, "at most one Transform"},
		{"two controllers", []any{testController{}, testController{}}, "at most one Controller"},
		{"wrong type", []any{42}, "int is neither"},
		{"both", []any{testTransform{}, testController{}}, ""},
	}
	for _, c := range cases {
		_, err := pluginSet(c.impls)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

// dial serves impl on an in-memory connection (bufconn).
func dial(t *testing.T, impl Transform) wire.TransformClient {
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
		first = &wire.ApplyIn{Msg: &wire.ApplyIn_Header{Header: &wire.ApplyHeader{Net: wire.NetToProto(a, ir.Shape{C: 1, H: 1, W: 3}, true),
			Action: wire.ActionToProto("t", map[string]int{"layer": 1})}}}
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
	if err != nil || h.Record != "doubled" || got["l1.fc.weight"].Data[5] != 12 || h.Details["n"].Values[0] != 1 {
		t.Fatalf("apply: %v %v %v", h, got, err)
	}
	cases := []struct {
		mode  string
		first *wire.ApplyIn
		code  codes.Code
		msg   string
	}{
		{"panic", nil, codes.Aborted, PanicPrefix + "boom"},
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
