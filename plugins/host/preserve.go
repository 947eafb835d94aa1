package host

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
)

// Forward computes a network's logits on x in evaluation mode. The caller
// supplies it (the CLI uses the CPU engine): this package runs no networks.
type Forward func(ctx context.Context, net sdk.Network, x *tensor.Tensor) ([]float32, error)

// ExactTol is the largest relative logit difference the run guard accepts
// between a parent and its child made with noise 0 (float32 engine rounding
// is far below it; a transform that changes the function is far above).
const ExactTol = 1e-3

// NoisyTol is the limit for a child made with noise (a plugin that refuses
// noise 0): ten times the noise scale, 0.1 for a plugin's default noise.
func NoisyTol(noise float64) float64 {
	if noise < 0 {
		return 0.1
	}
	return math.Max(ExactTol, 10*noise)
}

// GuardCheck records one first-application check of a run guard.
type GuardCheck struct {
	Transform string  `json:"transform"`
	Plugin    string  `json:"plugin"`
	Action    string  `json:"action"`
	Parent    string  `json:"parent"`
	Noise     float64 `json:"noise"` // of the compared child: 0 unless the plugin refused exact copies
	RelDiff   float64 `json:"rel_diff"`
	Tol       float64 `json:"tol"`
	Images    int     `json:"images"`
	Passed    bool    `json:"passed"`
	Note      string  `json:"note,omitempty"`
}

// GuardError refuses a transform whose first application in a run did not
// preserve the function. Fatal: the search stops rather than train children
// that differ from their parent for the wrong reason.
type GuardError struct{ Check GuardCheck }

func (e *GuardError) Error() string {
	c := e.Check
	what := fmt.Sprintf("changed the logits by a relative %.3g on %d images (limit %g, noise %g)", c.RelDiff, c.Images, c.Tol, c.Noise)
	if c.Note != "" {
		what += "; " + c.Note
	}
	return fmt.Sprintf("plugin %s: transform %s is not function-preserving: %s on %s %s; the plugin is refused for this run (check it with easrun plugin check)",
		c.Plugin, c.Transform, c.Action, c.Parent, what)
}

// Fatal marks the error as one that ends the search.
func (e *GuardError) Fatal() bool { return true }

// Guard checks function preservation the first time each transform it
// wraps is applied with weights in a run.
type Guard struct {
	Forward Forward
	Images  int              // batch size of the check (default 8)
	Record  func(GuardCheck) // every check, passed or not (nil: none)
}

// Wrap returns t guarded; plugin names it in messages.
func (g *Guard) Wrap(t sdk.Transform, plugin string) sdk.Transform {
	return &guarded{t: t, g: g, plugin: plugin}
}

type guarded struct {
	t       sdk.Transform
	g       *Guard
	plugin  string
	mu      sync.Mutex
	checked bool
	refused error
}

func (x *guarded) Describe(ctx context.Context) (sdk.Info, error) { return x.t.Describe(ctx) }

func (x *guarded) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	return x.t.Actions(ctx, req)
}

func (x *guarded) Apply(ctx context.Context, req sdk.ApplyRequest, h sdk.Host) (sdk.ApplyResult, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.refused != nil {
		return sdk.ApplyResult{}, x.refused
	}
	res, err := x.t.Apply(ctx, req, h)
	if err != nil || x.checked || req.Net.Weights == nil || x.g.Forward == nil {
		return res, err
	}
	c := x.check(ctx, req, res, h)
	if ctx.Err() != nil {
		return sdk.ApplyResult{}, ctx.Err() // not a verdict: checked again after a resume
	}
	x.checked = true
	if x.g.Record != nil {
		x.g.Record(c)
	}
	if !c.Passed {
		x.refused = &GuardError{Check: c}
		return sdk.ApplyResult{}, x.refused
	}
	return res, nil
}

// check compares the parent's logits with those of the child made with
// noise 0 (or, when the plugin refuses that, of res within NoisyTol).
func (x *guarded) check(ctx context.Context, req sdk.ApplyRequest, res sdk.ApplyResult, h sdk.Host) GuardCheck {
	n := x.g.Images
	if n <= 0 {
		n = 8
	}
	c := GuardCheck{Transform: req.Action.Transform, Plugin: x.plugin, Action: req.Action.String(), Parent: req.Net.Arch.String(),
		Images: n, Tol: ExactTol, RelDiff: math.Inf(1)}
	child := res.Net
	if req.Noise != 0 {
		exact := req
		exact.Noise = 0
		r0, err := x.t.Apply(ctx, exact, h)
		if err == nil {
			child = r0.Net
		} else {
			c.Noise, c.Tol = req.Noise, NoisyTol(req.Noise)
			c.Note = "it refused noise 0 (" + err.Error() + "), so the noisy child was compared"
		}
	}
	xb, err := h.Batch(ctx, n)
	if err != nil {
		c.Note = "no batch to check with: " + err.Error()
		return c
	}
	before, err := x.g.Forward(ctx, req.Net, xb)
	if err != nil {
		c.Note = "the parent does not run: " + err.Error()
		return c
	}
	after, err := x.g.Forward(ctx, child, xb)
	if err != nil {
		c.Note = "the child does not run: " + err.Error()
		return c
	}
	c.RelDiff = relDiff(before, after)
	c.Passed = c.RelDiff <= c.Tol
	return c
}

// relDiff is max|a-b| / max|a| (max|a-b| when a is all zeros; +Inf for
// different lengths or non-finite values).
func relDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		num, den = math.Max(num, d), math.Max(den, math.Abs(float64(a[i])))
	}
	if den == 0 {
		return num
	}
	return num / den
}
