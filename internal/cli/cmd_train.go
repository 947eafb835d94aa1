package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/pipeline"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/dsl/diag"
)

// TrainCmd trains one network.
type TrainCmd struct {
	Arch       string  `help:"Architecture string (default: the paper's Table 1 network; with --init or --resume the checkpoint's, and a different one given here is an error)."`
	Data       string  `required:"" help:"Data set: cifar10:PATH, images:PATH (folder or .tar.gz), idx:PATH or svhn:PATH."`
	Epochs     int     `default:"20" help:"Epochs."`
	LR         float64 `name:"lr" default:"0.02" help:"Initial learning rate (cosine decay)."`
	Schedule   string  `default:"cosine" enum:"cosine,constant,step" help:"Learning-rate schedule."`
	Batch      int     `default:"64" help:"Batch size."`
	Momentum   float64 `default:"0.9" help:"Nesterov momentum."`
	WD         float64 `name:"weight-decay" default:"1e-4" help:"L2 weight decay (weights only)."`
	Augment    bool    `help:"C10+ augmentation: pad 4, random crop, horizontal flip."`
	Normalize  string  `default:"auto" enum:"auto,channel,scale,none" help:"Input normalisation: channel (per-channel mean/std of the training images), scale (pixels/255), none (raw 0-255); auto: the checkpoint's with --init/--resume, else channel."`
	Validation int     `default:"5000" help:"Training images held out for validation."`
	Limit      int     `help:"Use only this many training images (0 = all)."`
	Seed       int64   `default:"1" help:"Seed for initialisation, data order, augmentation and dropout."`
	Workers    int     `help:"Engine worker goroutines (0 = number of CPUs)."`
	Save       string  `help:"Write the trained network to this safetensors file."`
	Resume     string  `help:"Continue from a checkpoint written by --save (architecture, weights, momentum, epoch): the same schedule carries on."`
	Init       string  `help:"Start from a checkpoint's architecture and weights with a fresh optimiser and a new schedule of --epochs (fine-tuning a found network, or retraining it longer)."`
	Plain      bool    `help:"One line per epoch even on a terminal."`

	EngineFlags `embed:""`
}

// Run trains and reports validation and test accuracy.
func (c *TrainCmd) Run(g *Globals) error {
	be, err := openEngine(c.EngineFlags, c.Workers)
	if err != nil {
		return err
	}
	if c.Init != "" && c.Resume != "" {
		return fmt.Errorf("give --init (new schedule) or --resume (continue the old one), not both")
	}
	from := c.Init + c.Resume
	var ck *checkpoint.Checkpoint
	var tw trainedWith
	if from != "" {
		var err error
		if ck, err = checkpoint.Load(from); err != nil {
			return err
		}
		if tw, err = readTrainedWith(ck.Meta, ck.Input.C); err != nil {
			return fmt.Errorf("%s: %w", from, err)
		}
	}
	normKind := c.Normalize
	if normKind == "auto" {
		normKind = "channel"
		if tw.hasNorm && tw.normKind != "" {
			normKind = tw.normKind
		}
	}
	o := data.SplitOptions{Validation: c.Validation, Seed: c.Seed, Limit: c.Limit, Normalize: normKind, Augment: c.Augment}
	d, err := data.LoadSplit(c.Data, o)
	if err != nil {
		return err
	}
	in := d.TrainSet.Shape
	var arch ir.Arch
	var params, opt tensor.Map
	startEpoch := 0
	if ck != nil {
		a, l := dsl.ParseArch(from+" (arch metadata)", ck.ArchString)
		if err := l.Err(); err != nil {
			return err
		}
		arch, params = a, ck.Weights()
		if ck.Input != in {
			return fmt.Errorf("%s was trained on %s images, the data set has %s", from, shapeHWC(ck.Input), shapeHWC(in))
		}
		if c.Arch != "" {
			given, l := dsl.ParseArch("--arch", c.Arch)
			if l.HasErrors() {
				diag.Write(g.Stderr, c.Arch, l)
				return Exit(1)
			}
			if !given.Equal(arch) {
				return fmt.Errorf("--arch %s differs from the architecture of %s, %s; leave --arch out to use the checkpoint's", given, from, arch)
			}
		}
		if c.Resume != "" {
			opt = ck.Params
			if n, err := strconv.Atoi(ck.Meta["epoch"]); err == nil {
				startEpoch = n
			}
		}
		switch {
		case c.Normalize != "auto":
			fmt.Fprintf(g.Stderr, "normalisation: %s as asked (%s), not the checkpoint's\n", normKind, describeNorm(d.Norm))
		case tw.hasNorm:
			d.Norm = tw.norm // exactly what the network was trained with
			fmt.Fprintf(g.Stderr, "normalisation: the checkpoint's (%s)\n", describeNorm(d.Norm))
		default:
			fmt.Fprintf(g.Stderr, "normalisation: %s does not record one (written before easrun stored it); computed from this data's training split: %s\n", from, describeNorm(d.Norm))
		}
	} else {
		if c.Arch == "" {
			c.Arch = Table1
		}
		a, l := dsl.ValidateArch("--arch", c.Arch, in)
		if l.HasErrors() {
			diag.Write(g.Stderr, c.Arch, l)
			return Exit(1)
		}
		arch = a
	}
	gr, err := ir.Lower(arch, in)
	if err != nil {
		return err
	}
	if got := gr.Nodes[gr.Output()].Out.C; got != d.TrainSet.Classes {
		return fmt.Errorf("the network ends in SM(%d) but the data set has %d classes", got, d.TrainSet.Classes)
	}
	// Refuse what cannot fit before allocating anything.
	if err := train.FitsMemory(be, gr, c.Batch); err != nil {
		return err
	}
	if params == nil {
		params = nn.InitParams(gr, c.Seed)
	} else if err := ck.Verify(gr); err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	p, m := gr.Cost()
	fmt.Fprintf(g.Stderr, "data: %s\nnetwork: %s (depth %d, %s params, %s mult-adds)\nengine: %s\n",
		d.Describe(), arch, arch.Depth(), commas(p), commas(m), be.Describe())
	blasNotes(g.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tr := experiment.Training{Optimizer: "sgd", LR: c.LR, Momentum: c.Momentum, Nesterov: true, WeightDecay: c.WD,
		Schedule: c.Schedule, Epochs: c.Epochs, Batch: c.Batch, Seed: c.Seed}
	bar := newEpochBar(g.Stderr, c.Plain)
	res, err := train.Train(ctx, gr, params, d.Train(c.Seed, c.Batch), d.Val(256), train.Config{Training: tr, StartEpoch: startEpoch, OptState: opt, Backend: be}, bar.event)
	if err != nil {
		return err
	}
	testAcc, _, err := train.Evaluate(ctx, gr, params, d.Test(256), 256, be)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "validation accuracy %.2f%%, test accuracy %.2f%% after %d epochs (%s)\n", 100*res.ValAcc, 100*testAcc, c.Epochs, fmtDuration(res.Duration))
	if c.Save != "" {
		all := tensor.Map{}
		for k, v := range params {
			all[k] = v
		}
		for k, v := range res.OptState {
			all[k] = v
		}
		meta := pipeline.WithMeta(splitMeta(c.Data, o, d), map[string]string{"epoch": strconv.Itoa(c.Epochs), "val_acc": fmt.Sprint(res.ValAcc), "test_acc": fmt.Sprint(testAcc),
			"seed": fmt.Sprint(c.Seed), "lr": fmt.Sprint(c.LR)})
		if c.Init != "" {
			meta["init"] = c.Init
		}
		if err := checkpoint.Save(c.Save, arch, in, all, meta); err != nil {
			return err
		}
		fmt.Fprintf(g.Stdout, "saved %s\n", c.Save)
	}
	return nil
}
