package host

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/internal/wire"
	"github.com/eas-go/eas/plugins/sdk"
)

type panicErr struct{ v any }

func (e panicErr) Error() string { return fmt.Sprintf("%v", e.v) }

func unimplemented(err error) bool { return status.Code(err) == codes.Unimplemented }

// call runs f against the live implementations under the per-call deadline
// and turns any failure into a *PluginError.
func (p *Plugin) call(ctx context.Context, op string, f func(ctx context.Context, t sdk.Transform, c sdk.Controller) error) error {
	t, c, err := p.impls()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, p.opts.callTimeout())
	defer cancel()
	if p.cmd != nil {
		err = f(cctx, t, c)
	} else {
		// In-process: a panic is recovered and a hang abandoned (the goroutine
		// leaks until it returns), so callers see the same faults as with a process.
		done := make(chan error, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- panicErr{r}
				}
			}()
			done <- f(cctx, t, c)
		}()
		select {
		case err = <-done:
		case <-cctx.Done():
			err = cctx.Err()
		}
	}
	if err == nil {
		return nil
	}
	return p.classify(ctx, cctx, op, err)
}

func (p *Plugin) classify(ctx, cctx context.Context, op string, err error) error {
	pe := &PluginError{Plugin: p.name, Op: op, Err: err}
	var already *PluginError
	var me malformedErr
	var pn panicErr
	st, isStatus := status.FromError(err)
	switch {
	case errors.As(err, &already):
		return err
	case errors.Is(err, errNotServed):
		pe.Fault, pe.Reason = FaultError, "not served"
	case errors.As(err, &me):
		pe.Fault, pe.Reason = FaultMalformed, "sent a malformed answer: "+me.msg
	case errors.As(err, &pn):
		pe.Fault, pe.Reason = FaultPanic, "panicked: "+pn.Error()
	case ctx.Err() != nil:
		pe.Fault, pe.Reason, pe.Err = FaultCanceled, "canceled by the caller: "+ctx.Err().Error(), ctx.Err()
	case isStatus && st.Code() == codes.Aborted && strings.HasPrefix(st.Message(), wire.PanicPrefix):
		pe.Fault, pe.Reason = FaultPanic, "panicked: "+strings.TrimPrefix(st.Message(), wire.PanicPrefix)
	case cctx.Err() == context.DeadlineExceeded || (isStatus && st.Code() == codes.DeadlineExceeded):
		pe.Fault, pe.Reason = FaultHang, fmt.Sprintf("did not answer within its %s deadline", p.opts.callTimeout())
	case p.exited() || (isStatus && st.Code() == codes.Unavailable):
		pe.Fault, pe.Reason = FaultExit, "exited or dropped its connection: "+st.Message()
	case isStatus && st.Code() == codes.Unimplemented:
		pe.Fault, pe.Reason = FaultError, "does not implement "+op
	case isStatus:
		pe.Fault, pe.Reason = FaultError, "returned an error: "+st.Message()
	default:
		pe.Fault, pe.Reason = FaultError, "returned an error: "+err.Error()
	}
	if pe.Restarted() {
		// The log always says why: a plugin's own stderr (its panic trace)
		// can be lost when its process is killed right after the fault.
		p.opts.logger().Warn("plugin restarted before its next call", "plugin", p.name, "op", op, "fault", pe.Fault.String(), "reason", pe.Reason)
		p.broken()
	}
	return pe
}

func (p *Plugin) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client != nil && p.client.Exited()
}

func (p *Plugin) fail(op, reason string) error {
	p.broken()
	return &PluginError{Plugin: p.name, Op: op, Fault: FaultMalformed, Reason: reason}
}

// transformProxy is the sdk.Transform the rest of eas sees.
type transformProxy struct {
	p    *Plugin
	info sdk.Info
}

func (x *transformProxy) Describe(ctx context.Context) (sdk.Info, error) {
	var info sdk.Info
	err := x.p.call(ctx, "describe", func(ctx context.Context, t sdk.Transform, _ sdk.Controller) error {
		if t == nil {
			return errNotServed
		}
		var err error
		info, err = t.Describe(ctx)
		return err
	})
	return info, err
}

func (x *transformProxy) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	var res sdk.ActionsResult
	err := x.p.call(ctx, "actions", func(ctx context.Context, t sdk.Transform, _ sdk.Controller) error {
		if t == nil {
			return errNotServed
		}
		var err error
		res, err = t.Actions(ctx, req)
		return err
	})
	if err != nil {
		return sdk.ActionsResult{}, err
	}
	for _, a := range res.Actions {
		if reason := checkAction(x.info, req.Net, a); reason != "" {
			return sdk.ActionsResult{}, x.p.fail("actions", "listed an action outside its declared space: "+reason)
		}
	}
	return res, nil
}

func (x *transformProxy) Apply(ctx context.Context, req sdk.ApplyRequest, h sdk.Host) (sdk.ApplyResult, error) {
	var res sdk.ApplyResult
	err := x.p.call(ctx, "apply "+req.Action.String(), func(ctx context.Context, t sdk.Transform, _ sdk.Controller) error {
		if t == nil {
			return errNotServed
		}
		var err error
		res, err = t.Apply(ctx, req, h)
		return err
	})
	if err != nil {
		return sdk.ApplyResult{}, err
	}
	if reason := checkResult(req, res); reason != "" {
		return sdk.ApplyResult{}, x.p.fail("apply "+req.Action.String(), reason)
	}
	return res, nil
}

// checkAction reports why a listed action is outside the transform's
// declared space ("" when it is fine).
func checkAction(info sdk.Info, net sdk.Network, a sdk.Action) string {
	if a.Transform != info.Name {
		return fmt.Sprintf("%s names transform %q, not %q", a, a.Transform, info.Name)
	}
	if len(info.Params) > 0 {
		for k := range a.Args {
			if !slices.Contains(info.Params, k) {
				return fmt.Sprintf("%s has argument %q, not among its declared %v", a, k, info.Params)
			}
		}
	}
	if l, ok := a.Args["layer"]; ok && (l < 1 || l > len(net.Arch.Layers)) {
		return fmt.Sprintf("%s: layer %d outside 1..%d", a, l, len(net.Arch.Layers))
	}
	return ""
}

// Bounds on a result's diagnostics, so a plugin cannot flood the log.
const (
	maxDiagnostics     = 64
	maxDiagnosticBytes = 4 << 10
)

// checkResult validates a transform's answer against the contract.
func checkResult(req sdk.ApplyRequest, res sdk.ApplyResult) string {
	if len(res.Diagnostics) > maxDiagnostics {
		return fmt.Sprintf("returned %d diagnostics, at most %d are allowed", len(res.Diagnostics), maxDiagnostics)
	}
	for i, d := range res.Diagnostics {
		if d.Severity != sdk.SeverityInfo && d.Severity != sdk.SeverityWarning {
			return fmt.Sprintf("diagnostic %d has severity %d, neither info nor warning", i+1, int(d.Severity))
		}
		if d.Summary == "" || len(d.Summary)+len(d.Detail) > maxDiagnosticBytes {
			return fmt.Sprintf("diagnostic %d: the summary must be non-empty and summary plus detail at most %d bytes", i+1, maxDiagnosticBytes)
		}
	}
	if res.Net.Input != req.Net.Input {
		return fmt.Sprintf("returned input shape %s, was given %s", res.Net.Input, req.Net.Input)
	}
	if probs := res.Net.Arch.Check(res.Net.Input); len(probs) > 0 {
		return fmt.Sprintf("returned an architecture that fails ir.Arch.Check (%s): %v", res.Net.Arch, probs[0])
	}
	if req.Net.Weights == nil {
		return ""
	}
	if res.Net.Weights == nil {
		return "returned no weights for a network given with weights"
	}
	g, err := ir.Lower(res.Net.Arch, res.Net.Input)
	if err != nil {
		return fmt.Sprintf("returned an architecture that does not lower: %v", err)
	}
	want := map[string]bool{}
	for _, prm := range g.Params() {
		want[prm.Name] = true
		t := res.Net.Weights[prm.Name]
		if t == nil {
			return fmt.Sprintf("returned no weight %s %v for %s", prm.Name, prm.Shape, res.Net.Arch)
		}
		if !t.SameShape(prm.Shape) || len(t.Data) != prm.Size() {
			return fmt.Sprintf("returned weight %s of shape %v, ir.Lower(arch).Params() says %v", prm.Name, t.Shape, prm.Shape)
		}
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Sprintf("returned a non-finite weight %s[%d] = %v", prm.Name, i, v)
			}
		}
	}
	for name := range res.Net.Weights {
		if !want[name] {
			return fmt.Sprintf("returned weight %s, which %s does not have", name, res.Net.Arch)
		}
	}
	return ""
}

// controllerProxy is the sdk.Controller the rest of eas sees. It remembers
// the configuration and last state so that a restarted plugin is configured
// (and loaded) again before its next call.
type controllerProxy struct {
	p        *Plugin
	info     sdk.Info
	cfg      *sdk.ControllerConfig
	state    []byte
	hasState bool
	seen     int // p.restarts when last configured
}

func (x *controllerProxy) do(ctx context.Context, op string, f func(ctx context.Context, c sdk.Controller) error) error {
	// Start a broken plugin again first, so that a restart is seen here.
	if _, _, err := x.p.impls(); err != nil {
		return err
	}
	if x.cfg != nil && x.p.Restarts() != x.seen && op != "configure" {
		if err := x.restore(ctx); err != nil {
			return err
		}
	}
	return x.p.call(ctx, op, func(ctx context.Context, _ sdk.Transform, c sdk.Controller) error {
		if c == nil {
			return errNotServed
		}
		return f(ctx, c)
	})
}

func (x *controllerProxy) restore(ctx context.Context) error {
	cfg := *x.cfg
	if err := x.Configure(ctx, cfg); err != nil {
		return err
	}
	if x.hasState {
		return x.p.call(ctx, "load", func(ctx context.Context, _ sdk.Transform, c sdk.Controller) error {
			return c.Load(ctx, sdk.ControllerState{Data: x.state})
		})
	}
	return nil
}

func (x *controllerProxy) Describe(ctx context.Context) (sdk.Info, error) {
	var info sdk.Info
	err := x.do(ctx, "describe", func(ctx context.Context, c sdk.Controller) error {
		var err error
		info, err = c.Describe(ctx)
		return err
	})
	return info, err
}

func (x *controllerProxy) Configure(ctx context.Context, cfg sdk.ControllerConfig) error {
	// Start (or restart) first so that seen matches the process configured.
	if _, _, err := x.p.impls(); err != nil {
		return err
	}
	seen := x.p.Restarts()
	err := x.do(ctx, "configure", func(ctx context.Context, c sdk.Controller) error { return c.Configure(ctx, cfg) })
	if err == nil {
		x.cfg, x.seen = &cfg, seen
	}
	return err
}

func (x *controllerProxy) Propose(ctx context.Context, req sdk.ProposeRequest) (sdk.ProposeResult, error) {
	var res sdk.ProposeResult
	err := x.do(ctx, "propose", func(ctx context.Context, c sdk.Controller) error {
		var err error
		res, err = c.Propose(ctx, req)
		return err
	})
	if err != nil {
		return sdk.ProposeResult{}, err
	}
	out := res.Actions
	if len(out) != len(req.Nets) {
		return sdk.ProposeResult{}, x.p.fail("propose", fmt.Sprintf("proposed for %d networks, was asked for %d", len(out), len(req.Nets)))
	}
	for i, acts := range out {
		for _, a := range acts {
			if i >= len(req.Candidates) || !slices.ContainsFunc(req.Candidates[i], a.Equal) {
				return sdk.ProposeResult{}, x.p.fail("propose", fmt.Sprintf("proposed %s for network %d, which is not among its candidate actions", a, i))
			}
		}
	}
	return res, nil
}

func (x *controllerProxy) Observe(ctx context.Context, req sdk.ObserveRequest) error {
	return x.do(ctx, "observe", func(ctx context.Context, c sdk.Controller) error { return c.Observe(ctx, req) })
}

func (x *controllerProxy) Save(ctx context.Context) (sdk.ControllerState, error) {
	var out sdk.ControllerState
	err := x.do(ctx, "save", func(ctx context.Context, c sdk.Controller) error {
		var err error
		out, err = c.Save(ctx)
		return err
	})
	if err == nil {
		x.state, x.hasState = out.Data, true
	}
	return out, err
}

func (x *controllerProxy) Load(ctx context.Context, state sdk.ControllerState) error {
	err := x.do(ctx, "load", func(ctx context.Context, c sdk.Controller) error { return c.Load(ctx, state) })
	if err == nil {
		x.state, x.hasState = append([]byte(nil), state.Data...), true
	}
	return err
}
