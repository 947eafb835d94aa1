package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
)

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// benchLayers turns the engine's per-layer times into table rows with each
// layer's share of the summed training and evaluation passes.
func benchLayers(ts []nn.LayerTime) []BenchLayer {
	var train, eval time.Duration
	for _, t := range ts {
		train += t.Forward + t.Backward
		eval += t.Eval
	}
	rows := make([]BenchLayer, len(ts))
	for i, t := range ts {
		rows[i] = BenchLayer{Node: t.Node, Op: t.Op, Name: t.Name,
			Output: fmt.Sprintf("%dx%dx%d", t.Shape.C, t.Shape.H, t.Shape.W),
			FwdMS:  ms(t.Forward), BwdMS: ms(t.Backward), EvalMS: ms(t.Eval)}
		if train > 0 {
			rows[i].TrainPct = 100 * float64(t.Forward+t.Backward) / float64(train)
		}
		if eval > 0 {
			rows[i].EvalPct = 100 * float64(t.Eval) / float64(eval)
		}
	}
	return rows
}

func writeBenchLayers(w io.Writer, rows []BenchLayer) error {
	fmt.Fprintf(w, "\nper layer, ms per step (training: forward + backward; eval: forward)\n")
	var body [][]string
	var f, b, e float64
	for _, r := range rows {
		name := r.Op
		if r.Name != "" {
			name += " " + r.Name
		}
		body = append(body, []string{fmt.Sprint(r.Node), name, r.Output, fmt.Sprintf("%.3f", r.FwdMS), fmt.Sprintf("%.3f", r.BwdMS),
			fmt.Sprintf("%.1f", r.TrainPct), fmt.Sprintf("%.3f", r.EvalMS), fmt.Sprintf("%.1f", r.EvalPct)})
		f, b, e = f+r.FwdMS, b+r.BwdMS, e+r.EvalMS
	}
	return printTable(w, []string{"node", "layer", "output", "forward", "backward", "train %", "eval", "eval %"}, body,
		[]string{"", "total", "", fmt.Sprintf("%.3f", f), fmt.Sprintf("%.3f", b), "100.0", fmt.Sprintf("%.3f", e), "100.0"})
}

// graphNode is one node of the lowered graph for the PyTorch twin of
// make bench-peers (scripts/bench_peers.py).
type graphNode struct {
	ID      int     `json:"id"`
	Op      string  `json:"op"`
	Inputs  []int   `json:"inputs"`
	Name    string  `json:"name,omitempty"`
	C       int     `json:"c"`
	H       int     `json:"h"`
	W       int     `json:"w"`
	Filters int     `json:"filters"`
	Kernel  int     `json:"kernel"`
	Stride  int     `json:"stride"`
	Pad     int     `json:"pad"`
	Units   int     `json:"units"`
	Rate    float64 `json:"rate"`
	Bias    bool    `json:"bias,omitempty"`
}

func writeGraphJSON(w io.Writer, g *ir.Graph) error {
	nodes := make([]graphNode, len(g.Nodes))
	for i, n := range g.Nodes {
		nodes[i] = graphNode{ID: n.ID, Op: n.Op.String(), Inputs: n.Inputs, Name: n.Name, C: n.Out.C, H: n.Out.H, W: n.Out.W,
			Filters: n.Filters, Kernel: n.Kernel, Stride: n.Stride, Pad: n.Pad, Units: n.Units, Rate: n.Rate, Bias: n.Bias}
		if nodes[i].Inputs == nil {
			nodes[i].Inputs = []int{}
		}
	}
	return json.NewEncoder(w).Encode(map[string]any{"arch": g.Arch.String(), "nodes": nodes})
}
