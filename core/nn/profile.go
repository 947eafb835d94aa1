package nn

import (
	"time"

	"github.com/eas-go/eas/core/ir"
)

// LayerTime is the time one node's layer took, summed over the passes
// since profiling was switched on.
type LayerTime struct {
	Node  int    // graph node ID
	Op    string // "conv", "bn+relu" for a fused pair, ...
	Name  string // parameter prefix ("l3.conv"), empty for ops without parameters
	Shape ir.Shape
	// Forward: training-mode forward passes; Eval: evaluation-mode ones;
	// Backward: backward passes.
	Forward, Eval, Backward time.Duration
}

type profile struct {
	times                               []LayerTime
	trainPasses, evalPasses, backPasses int
}

// SetProfiling switches per-layer timing on (clearing earlier times) or
// off. A clock read around each layer costs well under a microsecond, but
// benchmarks time their steps with it off.
func (n *Net) SetProfiling(on bool) {
	if !on {
		n.prof = nil
		return
	}
	p := &profile{times: make([]LayerTime, len(n.layers))}
	for i, nd := range n.G.Nodes {
		t := &p.times[i]
		t.Node, t.Op, t.Name, t.Shape = i, nd.Op.String(), nd.Name, nd.Out
		if _, fused := n.layers[i].(*bnReluLayer); fused {
			t.Op = "bn+relu"
		}
	}
	n.prof = p
}

// Profile returns the per-layer times since SetProfiling(true), averaged
// per pass, for every node with a layer of its own (not the input, not a
// ReLU fused into its BN).
func (n *Net) Profile() []LayerTime {
	p := n.prof
	if p == nil {
		return nil
	}
	var out []LayerTime
	for i, t := range p.times {
		if i == 0 {
			continue
		}
		if _, nop := n.layers[i].(nopLayer); nop {
			continue
		}
		t.Forward = per(t.Forward, p.trainPasses)
		t.Eval = per(t.Eval, p.evalPasses)
		t.Backward = per(t.Backward, p.backPasses)
		out = append(out, t)
	}
	return out
}

func per(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return d / time.Duration(n)
}

func (n *Net) profForward(train bool) {
	p := n.prof
	if train {
		p.trainPasses++
	} else {
		p.evalPasses++
	}
	for i, l := range n.layers {
		if i == 0 {
			continue
		}
		t0 := time.Now()
		l.forward(train)
		d := time.Since(t0)
		if train {
			p.times[i].Forward += d
		} else {
			p.times[i].Eval += d
		}
	}
}

func (n *Net) profBackward() {
	p := n.prof
	p.backPasses++
	for i := len(n.layers) - 1; i > 0; i-- {
		t0 := time.Now()
		n.layers[i].backward()
		p.times[i].Backward += time.Since(t0)
	}
}
