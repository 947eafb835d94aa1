package wire

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
)

func TestArchRoundTrip(t *testing.T) {
	archs := []ir.Arch{
		{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 16, Kernel: 3, Stride: 1}, {Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.Max},
			{Kind: ir.Dropout, Rate: 0.25}, {Kind: ir.FC, Units: 64}, {Kind: ir.Softmax, Units: 10}}},
		{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 8, Kernel: 3, Stride: 1},
			{Kind: ir.DenseBlock, Dense: []ir.DenseLayer{{Growth: 4, Bottleneck: 16}, {Growth: 6}}},
			{Kind: ir.Transition, Compression: 0.5, Filters: 7}, {Kind: ir.GAP}, {Kind: ir.Softmax, Units: 3}}},
		// C ADD(C CAT(ID | C) | ID) SM: merges travel with their Arms
		{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 8, Kernel: 3, Stride: 1}, {Kind: ir.Add, Arms: []int{4, 1}}, {Kind: ir.Conv, Filters: 8, Kernel: 3, Stride: 1},
			{Kind: ir.Cat, Arms: []int{1, 1}}, {Kind: ir.Identity}, {Kind: ir.Conv, Filters: 8, Kernel: 1, Stride: 1}, {Kind: ir.Identity}, {Kind: ir.Softmax, Units: 3}}},
		{},
	}
	for _, a := range archs {
		b, err := ArchFromProto(ArchToProto(a))
		if err != nil || !a.Equal(b) || !reflect.DeepEqual(a.Layers, b.Layers) {
			t.Errorf("%s -> %s, %v", a, b, err)
		}
	}
	if _, err := ArchFromProto(&Arch{Layers: []*Layer{{Kind: 1, Filters: 1 << 40}}}); err == nil {
		t.Error("accepted a huge filter count")
	}
	if _, err := ArchFromProto(&Arch{Layers: []*Layer{{Kind: 4, Rate: math.NaN()}}}); err == nil {
		t.Error("accepted a NaN rate")
	}
}

func TestSpaceAndActionRoundTrip(t *testing.T) {
	s := ir.PaperSpace()
	got, err := SpaceFromProto(SpaceToProto(s))
	if err != nil || len(got.Filters) != len(s.Filters) || got.Growth[6] != 64 {
		t.Errorf("space %+v, %v", got, err)
	}
	a, err := ActionFromProto(ActionToProto(sdk.Action{Transform: "wider", Args: map[string]int{"layer": 3, "to": 64}}))
	if err != nil || a.String() != "wider(layer=3, to=64)" {
		t.Errorf("action %s %v", a, err)
	}
	if _, err := ActionFromProto(&Action{Transform: "x", Args: map[string]int64{"a": 1 << 40}}); err == nil {
		t.Error("accepted a huge argument")
	}
}

func chunksOf(t *testing.T, m tensor.Map) []*TensorChunk {
	var cs []*TensorChunk
	if err := SendTensors(m, func(c *TensorChunk) error { cs = append(cs, c); return nil }); err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestTensorChunks(t *testing.T) {
	big := tensor.New(3, ChunkBytes/4+5) // spans several chunks
	for i := range big.Data {
		big.Data[i] = float32(i) * 0.5
	}
	m := tensor.Map{"a.weight": big, "b.bias": tensor.FromData([]float32{1, -2, float32(math.Inf(1))}, 3), "c.empty": tensor.New(0)}
	cs := chunksOf(t, m)
	if len(cs) != 4+1+1 {
		t.Errorf("%d chunks, want 6", len(cs))
	}
	var a Assembler
	for _, c := range cs {
		if len(c.Data) > ChunkBytes {
			t.Fatalf("chunk of %d bytes", len(c.Data))
		}
		if err := a.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.Map()
	if err != nil {
		t.Fatal(err)
	}
	for name, x := range m {
		y := got[name]
		if y == nil || !y.SameShape(x.Shape) {
			t.Fatalf("%s: got %v", name, y)
		}
		for i := range x.Data {
			if x.Data[i] != y.Data[i] {
				t.Fatalf("%s[%d]: %g != %g", name, i, y.Data[i], x.Data[i])
			}
		}
	}
}

func TestAssemblerRejects(t *testing.T) {
	f := func(vals ...float32) []byte {
		var cs []*TensorChunk
		SendTensors(tensor.Map{"x": tensor.FromData(vals, len(vals))}, func(c *TensorChunk) error { cs = append(cs, c); return nil })
		return cs[0].Data
	}
	cases := []struct {
		name   string
		chunks []*TensorChunk
		want   string
	}{
		{"odd bytes", []*TensorChunk{{Name: "x", Shape: []int64{1}, Data: []byte{1, 2, 3}}}, "whole float32"},
		{"no name", []*TensorChunk{{Shape: []int64{1}, Data: f(1)}}, "empty name"},
		{"starts late", []*TensorChunk{{Name: "x", Shape: []int64{2}, Offset: 1, Data: f(1)}}, "first chunk at offset 1"},
		{"too many", []*TensorChunk{{Name: "x", Shape: []int64{1}, Data: f(1, 2)}}, "more values than its shape"},
		{"incomplete", []*TensorChunk{{Name: "x", Shape: []int64{3}, Data: f(1)}}, "1 of 3 values"},
		{"gap", []*TensorChunk{{Name: "x", Shape: []int64{3}, Data: f(1)}, {Name: "x", Offset: 2, Data: f(1)}}, "out of order"},
		{"twice", []*TensorChunk{{Name: "x", Shape: []int64{1}, Data: f(1)}, {Name: "y", Shape: []int64{1}, Data: f(1)}, {Name: "x", Shape: []int64{1}, Data: f(1)}}, "sent twice"},
		{"negative dim", []*TensorChunk{{Name: "x", Shape: []int64{-1}}}, "bad shape"},
		{"huge", []*TensorChunk{{Name: "x", Shape: []int64{1 << 20, 1 << 20}}}, "bad shape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var a Assembler
			var err error
			for _, ch := range c.chunks {
				if err = a.Add(ch); err != nil {
					break
				}
			}
			if err == nil {
				_, err = a.Map()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	a := Assembler{MaxElems: 10}
	if err := a.Add(&TensorChunk{Name: "x", Shape: []int64{11}}); err == nil {
		t.Error("MaxElems not enforced")
	}
}

func TestSendBytes(t *testing.T) {
	for _, n := range []int{0, 1, ChunkBytes, 2*ChunkBytes + 3} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		var got []byte
		calls := 0
		SendBytes(b, func(x *Bytes) error { calls++; got = append(got, x.Data...); return nil })
		if string(got) != string(b) || calls != max(1, (n+ChunkBytes-1)/ChunkBytes) {
			t.Errorf("%d bytes: %d back in %d calls", n, len(got), calls)
		}
	}
}

// FuzzAssembler feeds arbitrary chunk sequences: errors are fine, panics are not.
func FuzzAssembler(f *testing.F) {
	f.Add("x", int64(2), int64(0), []byte{0, 0, 128, 63, 0, 0, 0, 64}, "x", int64(2), []byte{})
	f.Add("x", int64(3), int64(0), []byte{0, 0, 128, 63}, "x", int64(1), []byte{0, 0, 0, 64})
	f.Fuzz(func(t *testing.T, n1 string, d1, off1 int64, b1 []byte, n2 string, off2 int64, b2 []byte) {
		var a Assembler
		a.MaxElems = 1 << 16
		if a.Add(&TensorChunk{Name: n1, Shape: []int64{d1}, Offset: off1, Data: b1}) == nil {
			_ = a.Add(&TensorChunk{Name: n2, Shape: []int64{d1}, Offset: off2, Data: b2})
		}
		_, _ = a.Map()
	})
}

// FuzzArch converts arbitrary layer fields: errors are fine, panics are not,
// and accepted architectures survive a round trip.
func FuzzArch(f *testing.F) {
	f.Add(int32(1), int64(16), int64(3), int64(1), int32(0), int64(0), 0.0, int64(4), 0.5)
	f.Fuzz(func(t *testing.T, kind int32, filters, kernel, stride int64, op int32, units int64, rate float64, growth int64, comp float64) {
		p := &Arch{Layers: []*Layer{{Kind: kind, Filters: filters, Kernel: kernel, Stride: stride, Op: op, Units: units,
			Rate: rate, Dense: []*DenseLayer{{Growth: growth}}, Compression: comp}}}
		a, err := ArchFromProto(p)
		if err != nil {
			return
		}
		_ = a.Check(ir.Shape{C: 3, H: 8, W: 8})
		if _, err := ArchFromProto(ArchToProto(a)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSDKRoundTrip: every sdk request and result survives the one conversion
// layer both the host and the serving side use.
func TestSDKRoundTrip(t *testing.T) {
	arch := ir.Arch{Layers: []ir.Layer{{Kind: ir.Conv, Filters: 8, Kernel: 3, Stride: 1}, {Kind: ir.Softmax, Units: 10}}}
	net := sdk.Network{Arch: arch, Input: ir.Shape{C: 3, H: 32, W: 32}, Weights: tensor.Map{"x": tensor.New(1)}}
	act := sdk.Action{Transform: "wider", Args: map[string]int{"layer": 1, "to": 16}}
	space := ir.PaperSpace()

	req := sdk.ApplyRequest{Net: net, Action: act, Space: space, Seed: 7, Noise: -1}
	h := ApplyHeaderToProto(req, 3, 4)
	if !h.GetNet().GetHasWeights() || h.GetHostBroker() != 3 || h.GetHostCall() != 4 {
		t.Errorf("header %v", h)
	}
	back, err := ApplyRequestFromProto(h)
	if err != nil || !back.Net.Arch.Equal(arch) || back.Net.Input != net.Input || back.Action.String() != act.String() ||
		back.Seed != 7 || back.Noise != -1 || len(back.Space.Kernels) != len(space.Kernels) || back.Net.Weights != nil {
		t.Errorf("apply request %+v %v", back, err)
	}

	res := sdk.ApplyResult{Net: net, Record: "r", Details: map[string][]int{"remap": {2, 0}},
		Diagnostics: []sdk.Diagnostic{{Severity: sdk.SeverityWarning, Summary: "s", Detail: "d"}, {Severity: sdk.SeverityInfo, Summary: "i"}}}
	gotRes, err := ApplyResultFromProto(ApplyResultToProto(res))
	if err != nil || gotRes.Record != "r" || gotRes.Details["remap"][0] != 2 || len(gotRes.Diagnostics) != 2 ||
		gotRes.Diagnostics[0] != res.Diagnostics[0] || gotRes.Diagnostics[1] != res.Diagnostics[1] {
		t.Errorf("apply result %+v %v", gotRes, err)
	}
	bad := ApplyResultToProto(res)
	bad.Diagnostics[0].Severity = 0
	if _, err := ApplyResultFromProto(bad); err == nil || !strings.Contains(err.Error(), "severity") {
		t.Errorf("unknown severity accepted: %v", err)
	}

	cfg := sdk.ControllerConfig{Seed: 5, Space: space, Settings: map[string]string{"lr": "0.1"}, Steps: []string{"wider", "deeper"},
		Transforms: []sdk.Info{{Name: "wider", Kind: sdk.KindTransform, Params: []string{"layer"}}}}
	gotCfg, err := ControllerConfigFromProto(ControllerConfigToProto(cfg))
	if err != nil || gotCfg.Seed != 5 || gotCfg.Settings["lr"] != "0.1" || gotCfg.Steps[1] != "deeper" || gotCfg.Transforms[0].Params[0] != "layer" {
		t.Errorf("config %+v %v", gotCfg, err)
	}

	step := sdk.ProposeRequest{Episode: 2, Step: 1, Transform: "wider", Nets: []sdk.Network{net}, Candidates: [][]sdk.Action{{act}}}
	gotStep, err := StepRequestFromProto(StepRequestToProto(step))
	if err != nil || gotStep.Episode != 2 || gotStep.Step != 1 || len(gotStep.Nets) != 1 || gotStep.Nets[0].Weights != nil ||
		gotStep.Candidates[0][0].String() != act.String() {
		t.Errorf("step %+v %v", gotStep, err)
	}
	if _, err := StepRequestFromProto(&StepRequest{Episode: 1 << 40}); err == nil {
		t.Error("huge episode accepted")
	}

	pres, err := ProposalFromProto(ProposalToProto(sdk.ProposeResult{Actions: [][]sdk.Action{{act}, nil}}))
	if props := pres.Actions; err != nil || len(props) != 2 || props[0][0].String() != act.String() || len(props[1]) != 0 {
		t.Errorf("proposal %v %v", pres, err)
	}

	areq, err := ActionsRequestFromProto(ActionsRequestToProto(sdk.ActionsRequest{Net: net, Space: ir.PaperSpace()}))
	if err != nil || areq.Net.Weights != nil || len(areq.Net.Arch.Layers) != len(net.Arch.Layers) || len(areq.Space.Filters) != len(ir.PaperSpace().Filters) {
		t.Errorf("actions request %+v %v", areq, err)
	}
	ares, err := ActionsResultFromProto(ActionsResultToProto(sdk.ActionsResult{Actions: []sdk.Action{act}}))
	if err != nil || len(ares.Actions) != 1 || ares.Actions[0].String() != act.String() {
		t.Errorf("actions result %+v %v", ares, err)
	}

	obs := sdk.ObserveRequest{Episode: 3, Accuracies: []float64{0.5, 0}, Failed: []bool{false, true}}
	gotObs, err := ObserveFromProto(ObserveToProto(obs))
	if err != nil || gotObs.Episode != 3 || gotObs.Accuracies[0] != 0.5 || !gotObs.Failed[1] {
		t.Errorf("observe %+v %v", gotObs, err)
	}

	info := sdk.Info{Name: "n", Kind: sdk.KindTransform, Version: "1", Description: "d", Families: []string{"plain"}, Choice: sdk.ChooseEach}
	if got := InfoFromProto(InfoToProto(info)); got.Name != "n" || got.Families[0] != "plain" || got.Description != "d" || got.Choice != sdk.ChooseEach {
		t.Errorf("info %+v", got)
	}
}
