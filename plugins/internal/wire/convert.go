package wire

import (
	"fmt"
	"math"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/sdk"
)

// MaxDim bounds each received dimension or count so that a malformed message
// cannot make the receiver allocate absurd amounts.
const MaxDim = 1 << 30

// ArchToProto converts an architecture.
func ArchToProto(a ir.Arch) *Arch {
	out := &Arch{Layers: make([]*Layer, len(a.Layers))}
	for i, l := range a.Layers {
		pl := &Layer{Kind: int32(l.Kind), Filters: int64(l.Filters), Kernel: int64(l.Kernel),
			Stride: int64(l.Stride), Op: int32(l.Op), Units: int64(l.Units), Rate: l.Rate, Compression: l.Compression}
		for _, d := range l.Dense {
			pl.Dense = append(pl.Dense, &DenseLayer{Growth: int64(d.Growth), Bottleneck: int64(d.Bottleneck)})
		}
		for _, m := range l.Arms {
			pl.Arms = append(pl.Arms, int64(m))
		}
		out.Layers[i] = pl
	}
	return out
}

// ArchFromProto converts back; it rejects values that do not fit an int, and
// leaves the semantic checks to ir.Arch.Check.
func ArchFromProto(p *Arch) (ir.Arch, error) {
	var a ir.Arch
	for i, pl := range p.GetLayers() {
		ints := []int64{pl.GetFilters(), pl.GetKernel(), pl.GetStride(), pl.GetUnits()}
		for _, v := range ints {
			if v < -MaxDim || v > MaxDim {
				return ir.Arch{}, fmt.Errorf("layer %d: value %d out of range", i+1, v)
			}
		}
		if math.IsNaN(pl.GetRate()) || math.IsNaN(pl.GetCompression()) {
			return ir.Arch{}, fmt.Errorf("layer %d: NaN parameter", i+1)
		}
		l := ir.Layer{Kind: ir.Kind(pl.GetKind()), Filters: int(pl.GetFilters()), Kernel: int(pl.GetKernel()),
			Stride: int(pl.GetStride()), Op: ir.PoolOp(pl.GetOp()), Units: int(pl.GetUnits()),
			Rate: pl.GetRate(), Compression: pl.GetCompression()}
		for _, d := range pl.GetDense() {
			if d.GetGrowth() < -MaxDim || d.GetGrowth() > MaxDim || d.GetBottleneck() < -MaxDim || d.GetBottleneck() > MaxDim {
				return ir.Arch{}, fmt.Errorf("layer %d: dense layer value out of range", i+1)
			}
			l.Dense = append(l.Dense, ir.DenseLayer{Growth: int(d.GetGrowth()), Bottleneck: int(d.GetBottleneck())})
		}
		if len(pl.GetArms()) > MaxDim {
			return ir.Arch{}, fmt.Errorf("layer %d: %d branches", i+1, len(pl.GetArms()))
		}
		for _, m := range pl.GetArms() {
			if m < -MaxDim || m > MaxDim {
				return ir.Arch{}, fmt.Errorf("layer %d: branch length %d out of range", i+1, m)
			}
			l.Arms = append(l.Arms, int(m))
		}
		a.Layers = append(a.Layers, l)
	}
	return a, nil
}

// ShapeToProto converts an input shape.
func ShapeToProto(s ir.Shape) *Shape { return &Shape{C: int64(s.C), H: int64(s.H), W: int64(s.W)} }

// ShapeFromProto converts back, rejecting out-of-range values.
func ShapeFromProto(p *Shape) (ir.Shape, error) {
	for _, v := range []int64{p.GetC(), p.GetH(), p.GetW()} {
		if v < 0 || v > MaxDim {
			return ir.Shape{}, fmt.Errorf("shape dimension %d out of range", v)
		}
	}
	return ir.Shape{C: int(p.GetC()), H: int(p.GetH()), W: int(p.GetW())}, nil
}

// NetToProto converts a network's architecture and input shape; its weights
// travel apart (HasWeights says whether they follow).
func NetToProto(n sdk.Network) *Net {
	return &Net{Arch: ArchToProto(n.Arch), Input: ShapeToProto(n.Input), HasWeights: n.Weights != nil}
}

// NetFromProto converts back (without weights).
func NetFromProto(p *Net) (sdk.Network, error) {
	a, err := ArchFromProto(p.GetArch())
	if err != nil {
		return sdk.Network{}, err
	}
	s, err := ShapeFromProto(p.GetInput())
	return sdk.Network{Arch: a, Input: s}, err
}

// SpaceToProto converts a search space.
func SpaceToProto(s ir.Space) *Space {
	return &Space{Kernels: ints64(s.Kernels), Filters: ints64(s.Filters), Units: ints64(s.Units), Growth: ints64(s.Growth)}
}

// SpaceFromProto converts back.
func SpaceFromProto(p *Space) (ir.Space, error) {
	var s ir.Space
	var err error
	if s.Kernels, err = Ints(p.GetKernels()); err != nil {
		return s, err
	}
	if s.Filters, err = Ints(p.GetFilters()); err != nil {
		return s, err
	}
	if s.Units, err = Ints(p.GetUnits()); err != nil {
		return s, err
	}
	s.Growth, err = Ints(p.GetGrowth())
	return s, err
}

// ActionToProto converts an action.
func ActionToProto(a sdk.Action) *Action {
	pa := &Action{Transform: a.Transform, Args: make(map[string]int64, len(a.Args))}
	for k, v := range a.Args {
		pa.Args[k] = int64(v)
	}
	return pa
}

// ActionFromProto converts back.
func ActionFromProto(p *Action) (sdk.Action, error) {
	args := make(map[string]int, len(p.GetArgs()))
	for k, v := range p.GetArgs() {
		if v < -MaxDim || v > MaxDim {
			return sdk.Action{}, fmt.Errorf("action %s: argument %s=%d out of range", p.GetTransform(), k, v)
		}
		args[k] = int(v)
	}
	return sdk.Action{Transform: p.GetTransform(), Args: args}, nil
}

// ActionsToProto converts a list of actions.
func ActionsToProto(acts []sdk.Action) *ActionList {
	out := &ActionList{}
	for _, a := range acts {
		out.Actions = append(out.Actions, ActionToProto(a))
	}
	return out
}

// ActionsFromProto converts back.
func ActionsFromProto(p *ActionList) ([]sdk.Action, error) {
	out := make([]sdk.Action, 0, len(p.GetActions()))
	for _, pa := range p.GetActions() {
		a, err := ActionFromProto(pa)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// InfoToProto converts a plugin description.
func InfoToProto(i sdk.Info) *Info {
	return &Info{Name: i.Name, Kind: i.Kind, Version: i.Version, Description: i.Description,
		Families: i.Families, Params: i.Params, Choice: int32(i.Choice)}
}

// InfoFromProto converts back.
func InfoFromProto(p *Info) sdk.Info {
	return sdk.Info{Name: p.GetName(), Kind: p.GetKind(), Version: p.GetVersion(), Description: p.GetDescription(),
		Families: p.GetFamilies(), Params: p.GetParams(), Choice: sdk.Choice(p.GetChoice())}
}

// ActionsRequestToProto converts a Transform.Actions request (without
// weights: actions depend on the architecture only).
func ActionsRequestToProto(req sdk.ActionsRequest) *ActionsRequest {
	net := req.Net
	net.Weights = nil
	return &ActionsRequest{Net: NetToProto(net), Space: SpaceToProto(req.Space)}
}

// ActionsRequestFromProto converts back.
func ActionsRequestFromProto(p *ActionsRequest) (sdk.ActionsRequest, error) {
	net, err := NetFromProto(p.GetNet())
	if err != nil {
		return sdk.ActionsRequest{}, err
	}
	space, err := SpaceFromProto(p.GetSpace())
	if err != nil {
		return sdk.ActionsRequest{}, err
	}
	return sdk.ActionsRequest{Net: net, Space: space}, nil
}

// ActionsResultToProto converts Transform.Actions's answer.
func ActionsResultToProto(res sdk.ActionsResult) *ActionList { return ActionsToProto(res.Actions) }

// ActionsResultFromProto converts back.
func ActionsResultFromProto(p *ActionList) (sdk.ActionsResult, error) {
	acts, err := ActionsFromProto(p)
	if err != nil {
		return sdk.ActionsResult{}, err
	}
	return sdk.ActionsResult{Actions: acts}, nil
}

// ApplyHeaderToProto converts an apply request (its weights follow as
// chunks); hostBroker and hostCall locate the host's callback service.
func ApplyHeaderToProto(req sdk.ApplyRequest, hostBroker uint32, hostCall uint64) *ApplyHeader {
	return &ApplyHeader{Net: NetToProto(req.Net), Action: ActionToProto(req.Action), Space: SpaceToProto(req.Space),
		Seed: req.Seed, Noise: req.Noise, HostBroker: hostBroker, HostCall: hostCall}
}

// ApplyRequestFromProto converts back, without the weights.
func ApplyRequestFromProto(h *ApplyHeader) (sdk.ApplyRequest, error) {
	net, err := NetFromProto(h.GetNet())
	if err != nil {
		return sdk.ApplyRequest{}, err
	}
	act, err := ActionFromProto(h.GetAction())
	if err != nil {
		return sdk.ApplyRequest{}, err
	}
	space, err := SpaceFromProto(h.GetSpace())
	if err != nil {
		return sdk.ApplyRequest{}, err
	}
	if math.IsNaN(h.GetNoise()) {
		return sdk.ApplyRequest{}, fmt.Errorf("noise is NaN")
	}
	return sdk.ApplyRequest{Net: net, Action: act, Space: space, Seed: h.GetSeed(), Noise: h.GetNoise()}, nil
}

// ApplyResultToProto converts a transform's result (its weights follow as chunks).
func ApplyResultToProto(res sdk.ApplyResult) *ApplyResultHeader {
	out := &ApplyResultHeader{Net: NetToProto(res.Net), Record: res.Record, Details: map[string]*IntList{}}
	for k, v := range res.Details {
		out.Details[k] = &IntList{Values: ints64(v)}
	}
	for _, d := range res.Diagnostics {
		out.Diagnostics = append(out.Diagnostics, &Diagnostic{Severity: int32(d.Severity), Summary: d.Summary, Detail: d.Detail})
	}
	return out
}

// ApplyResultFromProto converts back, without the weights; it rejects
// out-of-range details and unknown severities.
func ApplyResultFromProto(h *ApplyResultHeader) (sdk.ApplyResult, error) {
	net, err := NetFromProto(h.GetNet())
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	res := sdk.ApplyResult{Net: net, Record: h.GetRecord()}
	if len(h.GetDetails()) > 0 {
		res.Details = map[string][]int{}
		for k, v := range h.GetDetails() {
			if res.Details[k], err = Ints(v.GetValues()); err != nil {
				return sdk.ApplyResult{}, fmt.Errorf("detail %s: %w", k, err)
			}
		}
	}
	for i, d := range h.GetDiagnostics() {
		sev := sdk.Severity(d.GetSeverity())
		if sev != sdk.SeverityInfo && sev != sdk.SeverityWarning {
			return sdk.ApplyResult{}, fmt.Errorf("diagnostic %d: unknown severity %d", i+1, d.GetSeverity())
		}
		res.Diagnostics = append(res.Diagnostics, sdk.Diagnostic{Severity: sev, Summary: d.GetSummary(), Detail: d.GetDetail()})
	}
	return res, nil
}

// ControllerConfigToProto converts a controller's configuration.
func ControllerConfigToProto(cfg sdk.ControllerConfig) *ControllerConfig {
	p := &ControllerConfig{Seed: cfg.Seed, Space: SpaceToProto(cfg.Space), Settings: cfg.Settings, Steps: cfg.Steps}
	for _, t := range cfg.Transforms {
		p.Transforms = append(p.Transforms, InfoToProto(t))
	}
	return p
}

// ControllerConfigFromProto converts back.
func ControllerConfigFromProto(p *ControllerConfig) (sdk.ControllerConfig, error) {
	space, err := SpaceFromProto(p.GetSpace())
	if err != nil {
		return sdk.ControllerConfig{}, err
	}
	cfg := sdk.ControllerConfig{Seed: p.GetSeed(), Space: space, Settings: p.GetSettings(), Steps: p.GetSteps()}
	for _, t := range p.GetTransforms() {
		cfg.Transforms = append(cfg.Transforms, InfoFromProto(t))
	}
	return cfg, nil
}

// StepRequestToProto converts a Propose request.
func StepRequestToProto(req sdk.ProposeRequest) *StepRequest {
	p := &StepRequest{Episode: int64(req.Episode), Step: int64(req.Step), Transform: req.Transform}
	for _, n := range req.Nets {
		n.Weights = nil
		p.Nets = append(p.Nets, NetToProto(n))
	}
	for _, c := range req.Candidates {
		p.Candidates = append(p.Candidates, ActionsToProto(c))
	}
	return p
}

// StepRequestFromProto converts back.
func StepRequestFromProto(p *StepRequest) (sdk.ProposeRequest, error) {
	ep, step, err := int2(p.GetEpisode(), p.GetStep())
	if err != nil {
		return sdk.ProposeRequest{}, err
	}
	req := sdk.ProposeRequest{Episode: ep, Step: step, Transform: p.GetTransform()}
	for _, pn := range p.GetNets() {
		n, err := NetFromProto(pn)
		if err != nil {
			return sdk.ProposeRequest{}, err
		}
		req.Nets = append(req.Nets, n)
	}
	for _, pc := range p.GetCandidates() {
		c, err := ActionsFromProto(pc)
		if err != nil {
			return sdk.ProposeRequest{}, err
		}
		req.Candidates = append(req.Candidates, c)
	}
	return req, nil
}

// ProposalToProto converts Propose's answer.
func ProposalToProto(res sdk.ProposeResult) *Proposal {
	out := &Proposal{}
	for _, acts := range res.Actions {
		out.PerNet = append(out.PerNet, ActionsToProto(acts))
	}
	return out
}

// ProposalFromProto converts back.
func ProposalFromProto(p *Proposal) (sdk.ProposeResult, error) {
	out := make([][]sdk.Action, 0, len(p.GetPerNet()))
	for _, l := range p.GetPerNet() {
		acts, err := ActionsFromProto(l)
		if err != nil {
			return sdk.ProposeResult{}, err
		}
		out = append(out, acts)
	}
	return sdk.ProposeResult{Actions: out}, nil
}

// ObserveToProto converts an Observe request.
func ObserveToProto(req sdk.ObserveRequest) *ObserveRequest {
	return &ObserveRequest{Episode: int64(req.Episode), Accuracies: req.Accuracies, Failed: req.Failed}
}

// ObserveFromProto converts back.
func ObserveFromProto(p *ObserveRequest) (sdk.ObserveRequest, error) {
	ep, _, err := int2(p.GetEpisode(), 0)
	if err != nil {
		return sdk.ObserveRequest{}, err
	}
	return sdk.ObserveRequest{Episode: ep, Accuracies: p.GetAccuracies(), Failed: p.GetFailed()}, nil
}

func int2(a, b int64) (int, int, error) {
	for _, v := range []int64{a, b} {
		if v < -MaxDim || v > MaxDim {
			return 0, 0, fmt.Errorf("value %d out of range", v)
		}
	}
	return int(a), int(b), nil
}

func ints64(v []int) []int64 {
	if v == nil {
		return nil
	}
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// Ints converts a received list, rejecting values that do not fit.
func Ints(v []int64) ([]int, error) {
	if v == nil {
		return nil, nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x < -MaxDim || x > MaxDim {
			return nil, fmt.Errorf("value %d out of range", x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// Ints64 converts a list for sending.
func Ints64(v []int) []int64 { return ints64(v) }
