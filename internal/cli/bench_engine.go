package cli

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sync"
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

func syncModel(m engine.Model) error {
	if s, ok := m.(syncer); ok {
		return s.Sync()
	}
	return nil
}

// trainStep is one training step as core/train runs it: on a device the
// loss stays there (AddLoss).
func trainStep(m engine.Model, x *tensor.Tensor, y []int32) func() error {
	acc, _ := m.(engine.LossAccumulator)
	return func() error {
		if err := m.Forward(x, true); err != nil {
			return err
		}
		var err error
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
}

// timed runs f n times on each model's goroutine and returns the seconds
// until every model's work is done.
func timed(ms []engine.Model, n int, f func(i int) error) (float64, error) {
	start := time.Now()
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				if errs[i] = f(i); errs[i] != nil {
					return
				}
			}
			errs[i] = syncModel(ms[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}

// benchBackend times training steps and evaluation forwards through the
// engine interface (engines other than the CPU engine), of --concurrent
// models at once (each on its own goroutine, as a search's children), the
// clock stopping after every model's queued work is done.
func (c *BenchCmd) benchBackend(g *Globals, be engine.Backend, gr *ir.Graph, params tensor.Map, x *tensor.Tensor, y []int32) error {
	n := max(1, c.Concurrent)
	ms := make([]engine.Model, n)
	steps := make([]func() error, n)
	for i := range ms {
		m, err := be.Build(gr, params.Clone(), engine.ModelConfig{MaxBatch: c.Batch, Seed: int64(i + 1), Optimizer: train.Optimizer(experiment.PaperChild())})
		if err != nil {
			return err
		}
		defer m.Close()
		ms[i], steps[i] = m, trainStep(m, x, y)
	}
	if _, err := timed(ms, max(2, c.Steps/10), func(i int) error { return steps[i]() }); err != nil {
		return err
	}
	trainSec, err := timed(ms, c.Steps, func(i int) error { return steps[i]() })
	if err != nil {
		return err
	}
	evalSec, err := timed(ms, c.Steps, func(i int) error { return ms[i].Forward(x, false) })
	if err != nil {
		return err
	}
	_, madds := gr.Cost()
	v := engineVersions(be)
	images := float64(n * c.Batch * c.Steps)
	res := BenchResult{Engine: v["engine"], Device: v["device"], LibTorch: v["libtorch"], CUDA: v["cuda"], CuDNN: v["cudnn"], GPU: v["gpu"],
		Arch: gr.Arch.String(), Batch: c.Batch, Workers: c.Workers, Concurrent: n,
		TrainImgS: images / trainSec, EvalImgS: images / evalSec, MFLOPImg: 6 * float64(madds) / 1e6}
	res.GFLOPS = res.TrainImgS * 6 * float64(madds) / 1e9
	if c.JSON {
		return json.NewEncoder(g.Stdout).Encode(res)
	}
	w := g.Stdout
	fmt.Fprintf(w, "engine        %s\n", be.Describe())
	fmt.Fprintf(w, "network       %s (batch %d, %.1f MFLOP per training image, %d model(s) at once)\n", res.Arch, res.Batch, res.MFLOPImg, n)
	fmt.Fprintf(w, "train         %.0f images/s (forward + backward + SGD update, all models)\n", res.TrainImgS)
	fmt.Fprintf(w, "eval          %.0f images/s\n", res.EvalImgS)
	fmt.Fprintf(w, "achieved      %.1f GFLOP/s\n", res.GFLOPS)
	return nil
}
