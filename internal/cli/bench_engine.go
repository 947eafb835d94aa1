package cli

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"time"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
)

// benchBatch is bench's fixed random batch and labels.
func benchBatch(gr *ir.Graph, batch int) (*tensor.Tensor, []int32) {
	in := gr.Input
	r := rand.New(rand.NewSource(1))
	x := tensor.New(batch, in.C, in.H, in.W)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	classes := gr.Nodes[gr.Output()].Out.C
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(r.Intn(classes))
	}
	return x, y
}

// syncer is implemented by models that queue work on a device (the torch
// engine's): Sync waits for it, so that a timing covers the work.
type syncer interface{ Sync() error }

// benchBackend times a training step and an evaluation forward through the
// engine interface (engines other than the CPU engine). On a device the
// loss stays there (AddLoss) as in training, and the clock stops after a
// Sync.
func (c *BenchCmd) benchBackend(g *Globals, be engine.Backend, gr *ir.Graph, params tensor.Map, x *tensor.Tensor, y []int32) error {
	m, err := be.Build(gr, params, engine.ModelConfig{MaxBatch: c.Batch, Seed: 1, Optimizer: train.Optimizer(experiment.PaperChild())})
	if err != nil {
		return err
	}
	defer m.Close()
	acc, _ := m.(engine.LossAccumulator)
	step := func() error {
		if err := m.Forward(x, true); err != nil {
			return err
		}
		if acc != nil {
			err = acc.AddLoss(y)
		} else {
			_, _, err = m.Loss(y)
		}
		if err != nil {
			return err
		}
		if err := m.Backward(); err != nil {
			return err
		}
		return m.Step(1e-4)
	}
	sync := func() error {
		if s, ok := m.(syncer); ok {
			return s.Sync()
		}
		return nil
	}
	timed := func(n int, f func() error) (float64, error) {
		start := time.Now()
		for range n {
			if err := f(); err != nil {
				return 0, err
			}
		}
		err := sync()
		return time.Since(start).Seconds(), err
	}
	if _, err := timed(max(2, c.Steps/10), step); err != nil {
		return err
	}
	trainSec, err := timed(c.Steps, step)
	if err != nil {
		return err
	}
	evalSec, err := timed(c.Steps, func() error { return m.Forward(x, false) })
	if err != nil {
		return err
	}
	_, madds := gr.Cost()
	v := engineVersions(be)
	res := BenchResult{Engine: v["engine"], Device: v["device"], LibTorch: v["libtorch"], CUDA: v["cuda"], CuDNN: v["cudnn"], GPU: v["gpu"],
		Arch: gr.Arch.String(), Batch: c.Batch, Workers: c.Workers,
		TrainImgS: float64(c.Batch*c.Steps) / trainSec, EvalImgS: float64(c.Batch*c.Steps) / evalSec, MFLOPImg: 6 * float64(madds) / 1e6}
	res.GFLOPS = res.TrainImgS * 6 * float64(madds) / 1e9
	if c.JSON {
		return json.NewEncoder(g.Stdout).Encode(res)
	}
	w := g.Stdout
	fmt.Fprintf(w, "engine        %s\n", be.Describe())
	fmt.Fprintf(w, "network       %s (batch %d, %.1f MFLOP per training image)\n", res.Arch, res.Batch, res.MFLOPImg)
	fmt.Fprintf(w, "train         %.0f images/s (forward + backward + SGD update)\n", res.TrainImgS)
	fmt.Fprintf(w, "eval          %.0f images/s\n", res.EvalImgS)
	fmt.Fprintf(w, "achieved      %.1f GFLOP/s\n", res.GFLOPS)
	return nil
}
