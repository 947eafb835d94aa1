package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/train"
	"github.com/eas-go/eas/dsl"
)

// VersusResult is bench --versus: two networks' training speed measured in
// alternating rounds in one process, so the machine's noise falls on both.
type VersusResult struct {
	Arch      string  `json:"arch"`
	Versus    string  `json:"versus"`
	Batch     int     `json:"batch"`
	Workers   int     `json:"workers"`
	Rounds    int     `json:"rounds"`
	TrainImgS float64 `json:"train_img_s"`        // --arch
	VersusImg float64 `json:"versus_train_img_s"` // --versus
	Ratio     float64 `json:"ratio"`              // arch / versus
}

// benchNet is one network ready to take training steps on a fixed batch.
type benchNet struct {
	step func()
	sec  float64
}

func newBenchNet(src string, in ir.Shape, batch, workers int) (*benchNet, ir.Arch, error) {
	a, l := dsl.ValidateArch("arch", src, in)
	if err := l.Err(); err != nil {
		return nil, a, err
	}
	gr, err := ir.Lower(a, in)
	if err != nil {
		return nil, a, err
	}
	params := nn.InitParams(gr, 1)
	net, err := nn.BuildWith(gr, params, batch, nn.Options{Workers: workers})
	if err != nil {
		return nil, a, err
	}
	x, y := benchBatch(gr, batch)
	opt := train.NewSGD(gr, experiment.PaperChild())
	return &benchNet{step: func() {
		net.Forward(x, true)
		net.Loss(y)
		net.Backward()
		opt.Step(params, net.Grads(), 1e-4)
	}}, a, nil
}

func (b *benchNet) time(steps int) {
	start := time.Now()
	for i := 0; i < steps; i++ {
		b.step()
	}
	b.sec += time.Since(start).Seconds()
}

// runVersus times --arch and --versus in alternating rounds (A B, then B A,
// ...), each round --steps training steps of each.
func (c *BenchCmd) runVersus(g *Globals, in ir.Shape, workers int) error {
	if c.Rounds < 1 {
		return fmt.Errorf("--rounds must be positive")
	}
	a, archA, err := newBenchNet(c.Arch, in, c.Batch, workers)
	if err != nil {
		return fmt.Errorf("--arch: %w", err)
	}
	b, archB, err := newBenchNet(c.Versus, in, c.Batch, workers)
	if err != nil {
		return fmt.Errorf("--versus: %w", err)
	}
	warm := max(2, c.Steps/10)
	a.time(warm)
	b.time(warm)
	a.sec, b.sec = 0, 0
	for r := 0; r < c.Rounds; r++ {
		first, second := a, b
		if r%2 == 1 {
			first, second = b, a
		}
		first.time(c.Steps)
		second.time(c.Steps)
	}
	imgs := float64(c.Batch * c.Steps * c.Rounds)
	res := VersusResult{Arch: archA.String(), Versus: archB.String(), Batch: c.Batch, Workers: workers, Rounds: c.Rounds,
		TrainImgS: imgs / a.sec, VersusImg: imgs / b.sec}
	res.Ratio = res.TrainImgS / res.VersusImg
	if c.JSON {
		return json.NewEncoder(g.Stdout).Encode(res)
	}
	w := g.Stdout
	fmt.Fprintf(w, "batch %d, %d workers, %d alternating rounds of %d training steps each\n", c.Batch, workers, c.Rounds, c.Steps)
	fmt.Fprintf(w, "arch          %.0f images/s  %s\n", res.TrainImgS, res.Arch)
	fmt.Fprintf(w, "versus        %.0f images/s  %s\n", res.VersusImg, res.Versus)
	fmt.Fprintf(w, "ratio         %.3f (arch / versus)\n", res.Ratio)
	return nil
}
