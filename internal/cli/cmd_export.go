package cli

import (
	"fmt"
	"strings"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/export"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/pipeline"
)

// ExportCmd writes a checkpoint in a form other frameworks load.
type ExportCmd struct {
	Checkpoint string `arg:"" type:"existingfile" help:"Checkpoint written by easrun."`
	Format     string `default:"pytorch" enum:"pytorch" help:"pytorch: model.py (a torch.nn.Module that takes pixels in [0,1]) and model.safetensors; needs only torch to load."`
	Out        string `required:"" help:"Folder to write model.py and model.safetensors into (created; those two files are replaced)."`
	Data       string `help:"Only for checkpoints that do not record their normalisation: the data set to compute it from (its training split, as easrun train does)."`
}

// Run exports the network.
func (c *ExportCmd) Run(g *Globals) error {
	net, ck, err := pipeline.LoadNetwork(c.Checkpoint)
	if err != nil {
		return err
	}
	a := net.Arch
	tw, err := readTrainedWith(ck.Meta, ck.Input.C)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Checkpoint, err)
	}
	norm, names := tw.norm, tw.classNames
	if !tw.hasNorm {
		if c.Data == "" {
			return fmt.Errorf("%s does not record the normalisation it was trained with (written before easrun stored it): give --data SPEC to compute it from that data's training split", c.Checkpoint)
		}
		src, err := data.Open(c.Data)
		if err != nil {
			return err
		}
		if src.Train.Shape != ck.Input {
			return fmt.Errorf("%s takes %s images, %s has %s", c.Checkpoint, shapeHWC(ck.Input), c.Data, shapeHWC(src.Train.Shape))
		}
		nVal, seed := defaultValSize, int64(defaultValSeed)
		if tw.hasSplit {
			nVal, seed = tw.valSize, tw.valSeed
		}
		tr, _ := src.Train.Split(nVal, seed)
		norm = data.ComputeNorm(tr)
		if len(names) == 0 {
			names = src.Train.ClassNames
		}
		fmt.Fprintf(g.Stderr, "note: %s does not record its normalisation; computed from %s's training split (%d images): %s\n", c.Checkpoint, c.Data, tr.N, describeNorm(norm))
	}
	if len(names) != a.Layers[len(a.Layers)-1].Units {
		names = nil
	}
	src := c.Checkpoint
	if tw.spec != "" {
		src += ", trained on " + tw.spec
	}
	files, err := export.PyTorch(c.Out, export.Model{Arch: a, Input: ck.Input, Params: net.Weights, Mean: norm.Mean, Std: norm.Std,
		BNEps: ir.BNEps, ClassNames: names, Source: src})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "wrote %s\nload it with torch alone: cd %s && python3 -c 'import model; net = model.load(); print(net)'\n", strings.Join(files, ", "), c.Out)
	return nil
}
