package sdk

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// ProtocolVersion is the plugin protocol spoken by this SDK; it is part of the
// handshake, so a host refuses plugins built for another protocol. It moves
// whenever the wire format changes. 2: Observe takes an ObserveRequest,
// Apply results carry Diagnostics, Info carries Choice.
const ProtocolVersion = 2

// Kind of a plugin.
const (
	KindTransform  = "transform"
	KindController = "controller"
)

// Info describes a plugin.
type Info struct {
	Name        string
	Kind        string // KindTransform or KindController
	Version     string
	Description string
	// Families this plugin applies to: "plain", "densenet" (ir.Family values).
	Families []string
	// Params lists the action arguments a transform takes, e.g. ["layer","to"].
	Params []string
	// Choice says how a controller picks among a transform's candidate
	// actions at one step; controllers read it instead of knowing names.
	Choice Choice
}

// Choice is how a controller chooses among a transform's candidates at one step.
type Choice int

const (
	// ChooseOne picks exactly one action (Net2Deeper: one insertion). The
	// built-in controllers structure the candidates as a tree by their
	// arguments: block (from "layer", else "after"), position ("after"),
	// option ("kernel", its index in the space's kernels).
	ChooseOne Choice = iota
	// ChooseEach decides every candidate on its own and may apply several
	// (Net2Wider: widen any subset of layers, one candidate per layer).
	ChooseEach
)

// Action is one transformation request: a transform name and integer
// arguments. Its text form is `wider(layer=3, to=64)`, arguments sorted by key.
type Action struct {
	Transform string
	Args      map[string]int
}

// String prints name(k=v, ...) with keys sorted.
func (a Action) String() string {
	keys := make([]string, 0, len(a.Args))
	for k := range a.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, a.Args[k])
	}
	return a.Transform + "(" + strings.Join(parts, ", ") + ")"
}

// Equal reports whether a and b name the same transform with the same
// arguments.
func (a Action) Equal(b Action) bool {
	return a.Transform == b.Transform && maps.Equal(a.Args, b.Args)
}

// Arg returns an argument and whether it is present.
func (a Action) Arg(k string) (int, bool) { v, ok := a.Args[k]; return v, ok }

// Network is an architecture with its input shape and weights (weights may
// be nil where only the architecture matters).
type Network struct {
	Arch    ir.Arch
	Input   ir.Shape
	Weights tensor.Map
}

// Host is what a transform may ask of the program that called it.
type Host interface {
	// Batch returns n normalised training images, NCHW, shape [n, C, H, W],
	// for transforms that need data (Net2Deeper sets BN statistics from one batch).
	Batch(ctx context.Context, n int) (*tensor.Tensor, error)
}

// ApplyRequest asks a transform to apply one action.
type ApplyRequest struct {
	Net    Network
	Action Action
	Space  ir.Space
	Seed   int64
	// Noise scales the noise added to new units; a negative value means the
	// transform's default (the authors' code), 0 means an exact copy.
	Noise float64
}

// ApplyResult is the transformed network and a record of what was done.
type ApplyResult struct {
	Net Network
	// Record describes the change so that logs can replay or invert it, e.g.
	// "wider layer 3: 32 -> 64, remap [0 1 ... 31 5 17 ...]".
	Record string
	// Details holds the same in machine-readable form (layer, old, new, remap...).
	Details map[string][]int
	// Diagnostics are notes on a transform that succeeded (e.g. "noise
	// clipped"); the host logs them with the network. A failure is an error,
	// not a diagnostic.
	Diagnostics []Diagnostic
}

// Severity of a Diagnostic.
type Severity int

// Severities; the zero value is invalid so that a forgotten field is caught.
const (
	SeverityInfo Severity = iota + 1
	SeverityWarning
)

// String is "info" or "warning".
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Diagnostic is one note from a plugin about a call that succeeded.
type Diagnostic struct {
	Severity Severity
	Summary  string // one line
	Detail   string // optional, may span lines
}

// String is "warning: summary" (plus ": detail" when there is one).
func (d Diagnostic) String() string {
	s := d.Severity.String() + ": " + d.Summary
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	return s
}

// ActionsRequest asks a transform for its valid actions on one network.
type ActionsRequest struct {
	Net   Network
	Space ir.Space
}

// ActionsResult lists a transform's valid actions on one network.
type ActionsResult struct {
	Actions []Action
}

// Transform is a function-preserving network transformation.
type Transform interface {
	Describe(ctx context.Context) (Info, error)
	// Actions lists every valid action on req.Net within req.Space (its
	// action space for this network), so controllers can choose among them
	// generically.
	Actions(ctx context.Context, req ActionsRequest) (ActionsResult, error)
	// Apply applies one action. host gives access to training data.
	Apply(ctx context.Context, req ApplyRequest, host Host) (ApplyResult, error)
}

// ControllerConfig is given to a controller once before the search starts.
type ControllerConfig struct {
	Seed     int64
	Space    ir.Space
	Settings map[string]string // controller settings from the .eas file
	// Steps lists the episode's steps in order: the transform used at each
	// step (e.g. 4 x "wider" then 5 x "deeper").
	Steps      []string
	Transforms []Info // descriptions of the transforms in Steps
}

// ProposeRequest asks for the actions of one step for each of M networks.
type ProposeRequest struct {
	Episode   int
	Step      int    // 0-based index into ControllerConfig.Steps
	Transform string // = Steps[Step]
	Nets      []Network
	// Candidates[i] lists the valid actions on Nets[i] for this step's transform.
	Candidates [][]Action
}

// ProposeResult is a controller's choice for one step.
type ProposeResult struct {
	// Actions[i] lists the actions to apply to ProposeRequest.Nets[i] (possibly
	// several, e.g. widening many layers at once; possibly none).
	Actions [][]Action
}

// ObserveRequest carries the rewards of one episode. New fields may be added
// in later protocol versions; their zero value will mean "not sent".
type ObserveRequest struct {
	Episode int
	// Accuracies are the validation accuracies in [0,1] of the episode's
	// networks, in the order of ProposeRequest.Nets.
	Accuracies []float64
	// Failed[i] is true when network i could not be trained or transformed
	// (its accuracy is then 0).
	Failed []bool
}

// ControllerState is a controller's full state, opaque to the host, which
// stores it with the run so that a resumed search proposes what it would have.
type ControllerState struct {
	Data []byte
}

// Controller is a meta-controller: it proposes transformations and learns from rewards.
type Controller interface {
	Describe(ctx context.Context) (Info, error)
	Configure(ctx context.Context, cfg ControllerConfig) error
	// Propose returns, for each network in req.Nets, the actions to apply at
	// this step.
	Propose(ctx context.Context, req ProposeRequest) (ProposeResult, error)
	// Observe gives the rewards of an episode's networks; the controller
	// updates its policy.
	Observe(ctx context.Context, req ObserveRequest) error
	// Save and Load the full state (policy, optimiser, baseline, RNG) for resume.
	Save(ctx context.Context) (ControllerState, error)
	Load(ctx context.Context, state ControllerState) error
}
