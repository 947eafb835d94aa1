package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kong"
)

// Globals are available to every command.
type Globals struct {
	Stdout io.Writer `kong:"-"`
	Stderr io.Writer `kong:"-"`
}

// Root is the command tree.
type Root struct {
	Run       RunCmd       `cmd:"" default:"withargs" help:"Run the searches of an experiment file (the default command): easrun FILE.eas"`
	Check     CheckCmd     `cmd:"" help:"Validate an architecture string or a .eas file and summarise it."`
	Fmt       FmtCmd       `cmd:"" help:"Rewrite a .eas file in canonical form (comments kept)."`
	Train     TrainCmd     `cmd:"" help:"Train one network on a dataset."`
	Eval      EvalCmd      `cmd:"" help:"Accuracy, loss, per-class accuracy and confusion matrix of a checkpoint on a data set."`
	Export    ExportCmd    `cmd:"" help:"Write a checkpoint as a self-contained PyTorch model (model.py + model.safetensors)."`
	Bench     BenchCmd     `cmd:"" help:"Measure training and evaluation speed against the BLAS peak."`
	Transform TransformCmd `cmd:"" help:"Apply function-preserving transforms to a network and verify them."`
	Report    ReportCmd    `cmd:"" help:"Print tables and write plots for a run directory."`
	Fidelity  FidelityCmd  `cmd:"" help:"Check whether a search's reward ranks children as longer training would, before spending its budget."`
	Plugin    PluginCmd    `cmd:"" help:"List and check plugins."`
	Worker    WorkerCmd    `cmd:"" help:"Train the children of a distributed run (easrun run --evaluator nats) on this machine."`
	Dashboard DashboardCmd `cmd:"" name:"serve" help:"Serve a live, read-only web dashboard of runs: easrun serve [RUN_DIR ...] [--runs DIR] [--listen 127.0.0.1:8080]."`
	Conform   ConformCmd   `cmd:"" name:"conformance" hidden:"" help:"Run the engine conformance suite on an engine and device (scripts/gpu-check.sh: GPU machines without Go)."`
	Serve     ServeCmd     `cmd:"" name:"__serve" hidden:"" help:"Serve a built-in transform or controller as a plugin (easrun runs this itself)."`
}

// exitError carries an exit status through kong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs easrun with args and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) (code int) {
	var root Root
	g := &Globals{Stdout: stdout, Stderr: stderr}
	parser, err := kong.New(&root,
		kong.Name("easrun"),
		kong.Description("Efficient Architecture Search by Network Transformation (Cai et al., AAAI 2018)."),
		kong.Writers(stdout, stderr),
		kong.UsageOnError(),
		kong.Exit(func(c int) { panic(exitError{c}) }),
		kong.Bind(g),
		kong.Vars{"table1": Table1},
	)
	if err != nil {
		fmt.Fprintln(stderr, "easrun:", err)
		return 2
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(exitError); ok {
				code = e.code
				return
			}
			panic(r)
		}
	}()
	if len(args) == 0 {
		args = []string{"--help"} // a bare easrun explains itself
	}
	ctx, err := parser.Parse(args)
	if err != nil {
		parser.Errorf("%s", err)
		return 2
	}
	if err := ctx.Run(g); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintln(stderr, "easrun:", err)
		return 1
	}
	return 0
}

// Exit returns an error that makes Main return code without printing more.
func Exit(code int) error { return exitError{code} }
