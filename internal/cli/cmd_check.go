package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/train"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/dsl/diag"
)

// CheckCmd validates an architecture string or a .eas file.
type CheckCmd struct {
	Target string            `arg:"" help:"An architecture string (\"C(16,3,1) ... SM(10)\") or a .eas file."`
	Input  string            `default:"32x32x3" help:"Input image size HxWxC for an architecture string."`
	Batch  int               `default:"64" help:"Batch size for the memory estimate of an architecture string."`
	Data   map[string]string `help:"Dataset location overrides, NAME=PATH (also EAS_DATA_<NAME>)."`
}

// Run prints the layer table or the experiment summary.
func (c *CheckCmd) Run(g *Globals) error {
	if isFile(c.Target) || strings.HasSuffix(c.Target, ".eas") {
		return c.checkFile(g)
	}
	in, err := ir.ParseShape(c.Input)
	if err != nil {
		return err
	}
	a, l := dsl.ValidateArch("arch", c.Target, in)
	diag.Write(g.Stderr, c.Target, l)
	if l.HasErrors() {
		return Exit(1)
	}
	return layerTable(g, a, in, c.Batch)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// layerTable prints one row per written layer, with totals.
func layerTable(g *Globals, a ir.Arch, in ir.Shape, batch int) error {
	gr, err := ir.Lower(a, in)
	if err != nil {
		return err
	}
	params := make([]int64, len(a.Layers)+1)
	madds := make([]int64, len(a.Layers)+1)
	for _, n := range gr.Nodes {
		if n.Layer == 0 {
			continue
		}
		p, m := gr.NodeCost(n.ID)
		params[n.Layer] += p
		madds[n.Layer] += m
	}
	var rows [][]string
	tree := a.Tree()
	for i := range a.Layers {
		s := gr.Nodes[gr.LayerOut(i+1)].Out
		rows = append(rows, []string{fmt.Sprint(i + 1), tree.Label(i + 1), fmt.Sprintf("%dx%dx%d", s.H, s.W, s.C), commas(params[i+1]), commas(madds[i+1])})
	}
	tp, tm := gr.Cost()
	fmt.Fprintf(g.Stdout, "input %dx%dx%d, family %s, depth %d\n", in.H, in.W, in.C, a.Family(), a.Depth())
	if err := printTable(g.Stdout, []string{"#", "layer", "output", "params", "mult-adds"}, rows,
		[]string{"", "total", "", commas(tp), commas(tm)}); err != nil {
		return err
	}
	memoryLine(g, "", gr, batch)
	return nil
}

// memoryLine prints the training memory estimate and warns when it exceeds
// what is available (train and run refuse such a network).
func memoryLine(g *Globals, indent string, gr *ir.Graph, batch int) {
	m := train.Estimate(gr, batch)
	fmt.Fprintf(g.Stdout, "%smemory: about %s to train with batch %d (%s)\n", indent, ir.Bytes(m.Total()), batch, train.DescribeMemory(m))
	limit, source, ok, err := train.MemoryLimit()
	switch {
	case err != nil:
		fmt.Fprintf(g.Stderr, "warning: %v\n", err)
	case ok && m.Total() > limit:
		fmt.Fprintf(g.Stderr, "warning: training needs about %s but %s is available (%s): train and run will refuse it\n",
			ir.Bytes(m.Total()), ir.Bytes(limit), source)
	}
}

func (c *CheckCmd) checkFile(g *Globals) error {
	src, err := os.ReadFile(c.Target)
	if err != nil {
		return err
	}
	e, l := dsl.ParseExperiment(c.Target, src, knownNamesFor(c.Target))
	if e != nil && !l.HasErrors() {
		from := dsl.ResolveData(&e.Dataset, c.Data, filepath.Dir(c.Target))
		if _, err := os.Stat(e.Dataset.Path); err != nil {
			l = append(l, diag.Diagnostic{Pos: diag.Pos{File: c.Target, Line: 1, Col: 1}, Severity: diag.Warning,
				Msg: fmt.Sprintf("dataset %q not found at %s (from %s); set --data %s=PATH or EAS_DATA_%s before running",
					e.Dataset.Name, e.Dataset.Path, from, e.Dataset.Name, strings.ToUpper(e.Dataset.Name))})
		} else if n, err := data.Classes(e.Dataset.Kind, e.Dataset.Path); err != nil {
			l = append(l, diag.Diagnostic{Pos: diag.Pos{File: c.Target, Line: 1, Col: 1}, Severity: diag.Warning,
				Msg: fmt.Sprintf("dataset %q at %s: %v", e.Dataset.Name, e.Dataset.Path, err)})
		} else {
			l = append(l, dsl.CheckClasses(c.Target, src, n)...)
		}
	}
	diag.Write(g.Stderr, string(src), l)
	if l.HasErrors() {
		return Exit(1)
	}
	summarise(g, e)
	return nil
}

func summarise(g *Globals, e *experiment.Experiment) {
	w := g.Stdout
	fmt.Fprintf(w, "experiment %q: ok\n", e.Name)
	d := e.Dataset
	fmt.Fprintf(w, "  dataset   %s (%s) at %s: hold out %d for validation (seed %d), augment %v, normalize %s, input %s\n",
		d.Name, d.Kind, d.Path, d.Validation, d.ValidationSeed, d.Augment, d.Normalize, shapeHWC(e.Start.Input))
	if e.Start.Checkpoint != "" {
		fmt.Fprintf(w, "  start     checkpoint %s\n", e.Start.Checkpoint)
	} else if gr, err := ir.Lower(e.Start.Arch, e.Start.Input); err == nil {
		p, m := gr.Cost()
		fmt.Fprintf(w, "  start     %s\n            depth %d, %s params, %s mult-adds; trained %d epochs\n",
			e.Start.Arch, e.Start.Arch.Depth(), commas(p), commas(m), e.Start.Train.Epochs)
		memoryLine(g, "            ", gr, e.Start.Train.Batch)
	}
	c := e.Child
	fmt.Fprintf(w, "  children  %s lr %g (%s), momentum %g nesterov %v, weight decay %g, %d epochs, batch %d\n",
		c.Optimizer, c.LR, c.Schedule, c.Momentum, c.Nesterov, c.WeightDecay, c.Epochs, c.Batch)
	for _, s := range e.Searches {
		var steps []string
		for _, st := range s.Steps {
			steps = append(steps, fmt.Sprintf("%s x %d", st.Transform, st.Count))
		}
		fmt.Fprintf(w, "  search    %q: controller %s, steps [%s], %d networks per episode, budget %d",
			s.Name, s.Controller, strings.Join(steps, ", "), s.PerEpisode, s.Budget)
		if len(s.Stages) > 0 {
			fmt.Fprintf(w, " in %d stages", len(s.Stages))
		}
		if s.Runs() > 1 {
			fmt.Fprintf(w, ", seeds %d..%d (repeat %d)", s.Seed, s.RunSeed(s.Runs()), s.Runs())
		} else {
			fmt.Fprintf(w, ", seed %d", s.Seed)
		}
		if s.Control {
			fmt.Fprint(w, ", with control")
		}
		fmt.Fprintln(w)
	}
	if e.Final.Top > 0 {
		fmt.Fprintf(w, "  final     top %d trained %d epochs (lr %g), full data %v\n", e.Final.Top, e.Final.Training.Epochs, e.Final.Training.LR, e.Final.FullData)
	}
}

func shapeHWC(s ir.Shape) string { return fmt.Sprintf("%dx%dx%d", s.H, s.W, s.C) }
