package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"

	_ "github.com/eas-go/eas/core/nn" // the CPU engine, engine.Default
)

// Source yields batches; it is core/data's Batches, which its loaders
// implement.
type Source = data.Batches

// Config says how to train.
type Config struct {
	experiment.Training
	// StartEpoch resumes a run: epochs before it are skipped (the schedule
	// continues where it was).
	StartEpoch int
	// Optimizer state to resume from (from Result.OptState), or nil.
	OptState tensor.Map
	// Backend runs the network; nil opens engine.Default with default
	// options.
	Backend engine.Backend
	// OnEpoch, if set, is called after each epoch but the last with the
	// number of epochs done and a function reading the current parameters
	// and optimiser state (copies): what resuming with StartEpoch and
	// OptState needs. An error stops the training with it.
	OnEpoch func(done int, state func() (params, opt tensor.Map, err error)) error
}

// readState copies the model's parameters (shaped like params) and
// optimiser state.
func readState(net engine.Model, params tensor.Map) (tensor.Map, tensor.Map, error) {
	p := params.Clone()
	if err := net.ReadParams(p); err != nil {
		return nil, nil, err
	}
	return p, net.OptState().Clone(), nil
}

// backend returns b, or the default backend when b is nil.
func backend(b engine.Backend) (engine.Backend, error) {
	if b != nil {
		return b, nil
	}
	return engine.Open(engine.Default, engine.Options{})
}

// Event reports progress, once per batch and at the end of each epoch.
type Event struct {
	Epoch, Epochs   int // 1-based epoch
	Step, Steps     int // batch within the epoch, 1-based
	Images          int // images seen in this epoch so far
	EpochImages     int
	Loss, Acc       float64 // running means over the epoch so far
	LR              float64
	ImagesPerSecond float64
	EndOfEpoch      bool
	ValAcc          float64 // set at the end of an epoch when validation ran (-1 otherwise)
}

// Result of a training run.
type Result struct {
	ValAcc    float64 // accuracy on the validation source after the last epoch (-1 if none)
	ValLoss   float64
	TrainLoss float64 // mean loss over the last epoch
	TrainAcc  float64
	Epochs    int
	Steps     int
	Duration  time.Duration
	// OptState is the optimiser's state at the end, for resuming.
	OptState tensor.Map
}

// ErrDiverged is returned (wrapped) when the loss becomes NaN or infinite.
var ErrDiverged = errors.New("training diverged: the loss is not finite")

// Train trains params of graph g on src for cfg.Epochs epochs and evaluates
// on val (which may be nil). After a successful return params hold the
// trained values (BN running statistics included); after an error their
// contents are unspecified. Cancelling ctx stops between batches and
// returns ctx.Err(). An engine error (a device out of memory, a failed
// kernel) is returned naming the epoch and step. ev, if not nil, receives
// progress events.
func Train(ctx context.Context, g *ir.Graph, params tensor.Map, src, val Source, cfg Config, ev func(Event)) (*Result, error) {
	if cfg.Batch <= 0 {
		return nil, fmt.Errorf("train: batch size must be positive, got %d", cfg.Batch)
	}
	b, err := backend(cfg.Backend)
	if err != nil {
		return nil, err
	}
	if err := FitsMemory(b, g, cfg.Batch); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	net, err := b.Build(g, params, engine.ModelConfig{MaxBatch: cfg.Batch, Seed: cfg.Seed, Optimizer: Optimizer(cfg.Training)})
	if err != nil {
		return nil, err
	}
	defer net.Close()
	if cfg.OptState != nil {
		net.SetOptState(cfg.OptState)
	}
	t := &trainer{ctx: ctx, net: net, src: src, cfg: cfg, ev: ev}
	t.stepsPerEpoch = (src.Len() + cfg.Batch - 1) / cfg.Batch
	t.total = t.stepsPerEpoch * cfg.Epochs
	t.step = cfg.StartEpoch * t.stepsPerEpoch
	t.acc, _ = net.(engine.LossAccumulator)
	res := &Result{ValAcc: -1, Epochs: cfg.Epochs}
	start := time.Now()
	for e := cfg.StartEpoch; e < cfg.Epochs; e++ {
		end, err := t.epoch(e)
		if err != nil {
			return nil, err
		}
		if end.Images > 0 {
			res.TrainLoss, res.TrainAcc = end.Loss, end.Acc
		} else {
			end.Loss, end.Acc = res.TrainLoss, res.TrainAcc
		}
		if val != nil && e == cfg.Epochs-1 {
			res.ValAcc, res.ValLoss, err = evaluateNet(ctx, net, val)
			if err != nil {
				return nil, err
			}
			end.ValAcc = res.ValAcc
		}
		if ev != nil {
			ev(end)
		}
		if cfg.OnEpoch != nil && e+1 < cfg.Epochs {
			if err := cfg.OnEpoch(e+1, func() (tensor.Map, tensor.Map, error) { return readState(net, params) }); err != nil {
				return nil, err
			}
		}
	}
	if val != nil && res.ValAcc < 0 { // no epochs to run (e.g. resumed at the end)
		res.ValAcc, res.ValLoss, err = evaluateNet(ctx, net, val)
		if err != nil {
			return nil, err
		}
	}
	if err := net.ReadParams(params); err != nil {
		return nil, err
	}
	res.Steps = t.step
	res.Duration = time.Since(start)
	res.OptState = net.OptState()
	return res, nil
}

// trainer is one Train call's loop state.
type trainer struct {
	ctx                        context.Context
	net                        engine.Model
	acc                        engine.LossAccumulator // net's, when reading a loss waits for a device
	src                        Source
	cfg                        Config
	ev                         func(Event)
	stepsPerEpoch, total, step int
}

// epochSums are an epoch's running totals.
type epochSums struct {
	sumLoss              float64
	correct, seen, batch int
	// read is how many of the seen examples sumLoss and correct include
	// (fewer than seen while a device holds the rest).
	read     int
	lastRead time.Time
}

// epoch trains one epoch and returns its end-of-epoch event (ValAcc -1).
func (t *trainer) epoch(e int) (Event, error) {
	var s epochSums
	epochStart := time.Now()
	s.lastRead = epochStart
	err := t.src.Epoch(e, func(x *tensor.Tensor, y []int32) error {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		lr := LR(t.cfg.Training, t.step, t.total, t.stepsPerEpoch)
		if err := t.batch(e, &s, x, y, lr); err != nil {
			return err
		}
		t.step++
		if t.ev != nil && s.read > 0 {
			t.ev(Event{Epoch: e + 1, Epochs: t.cfg.Epochs, Step: s.batch, Steps: t.stepsPerEpoch, Images: s.seen,
				EpochImages: t.src.Len(), Loss: s.sumLoss / float64(s.read), Acc: float64(s.correct) / float64(s.read), LR: lr,
				ImagesPerSecond: float64(s.seen) / time.Since(epochStart).Seconds(), ValAcc: -1})
		}
		return nil
	})
	if err == nil && t.acc != nil {
		err = t.takeLoss(e, &s)
	}
	if err != nil {
		return Event{}, err
	}
	end := Event{Epoch: e + 1, Epochs: t.cfg.Epochs, Step: s.batch, Steps: t.stepsPerEpoch, Images: s.seen, EpochImages: t.src.Len(),
		ImagesPerSecond: float64(s.seen) / time.Since(epochStart).Seconds(), EndOfEpoch: true, ValAcc: -1}
	if s.read > 0 {
		end.Loss, end.Acc = s.sumLoss/float64(s.read), float64(s.correct)/float64(s.read)
	}
	return end, nil
}

// accReadEvery is how often a device-side loss is read for progress: often
// enough for a live display, rarely enough not to stall the device.
const accReadEvery = 2 * time.Second

// batch runs one training step. With a LossAccumulator the loss stays on
// the device and is read every accReadEvery (and at the end of the epoch).
func (t *trainer) batch(e int, s *epochSums, x *tensor.Tensor, y []int32, lr float64) error {
	at := func(err error) error { return fmt.Errorf("epoch %d, step %d: %w", e+1, s.batch+1, err) }
	if err := t.net.Forward(x, true); err != nil {
		return at(err)
	}
	if t.acc != nil {
		if err := t.acc.AddLoss(y); err != nil {
			return at(err)
		}
	} else {
		loss, c, err := t.net.Loss(y)
		if err != nil {
			return at(err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("%w (epoch %d, step %d)", ErrDiverged, e+1, s.batch+1)
		}
		s.sumLoss += loss * float64(len(y))
		s.correct += c
		s.read += len(y)
	}
	if err := t.net.Backward(); err != nil {
		return at(err)
	}
	if err := t.net.Step(float32(lr)); err != nil {
		return at(err)
	}
	s.seen += len(y)
	s.batch++
	if t.acc != nil && time.Since(s.lastRead) >= accReadEvery {
		return t.takeLoss(e, s)
	}
	return nil
}

// takeLoss adds the device's loss sums to s and checks them for divergence.
func (t *trainer) takeLoss(e int, s *epochSums) error {
	sum, c, n, err := t.acc.TakeLoss()
	if err != nil {
		return fmt.Errorf("epoch %d, step %d: %w", e+1, s.batch, err)
	}
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return fmt.Errorf("%w (epoch %d, by step %d)", ErrDiverged, e+1, s.batch)
	}
	s.sumLoss += sum
	s.correct += c
	s.read += n
	s.lastRead = time.Now()
	return nil
}

// Evaluate returns the accuracy and mean loss of params on src, in
// evaluation mode (running BN statistics, no dropout), on backend b (nil:
// the default).
func Evaluate(ctx context.Context, g *ir.Graph, params tensor.Map, src Source, batch int, b engine.Backend) (acc, loss float64, err error) {
	b, err = backend(b)
	if err != nil {
		return 0, 0, err
	}
	net, err := b.Build(g, params, engine.ModelConfig{MaxBatch: batch})
	if err != nil {
		return 0, 0, err
	}
	defer net.Close()
	return evaluateNet(ctx, net, src)
}

func evaluateNet(ctx context.Context, net engine.Model, src Source) (float64, float64, error) {
	var correct, seen int
	var sum float64
	var part tensor.Tensor // a slice of a batch larger than the net's, reused
	var shape [4]int
	err := src.Epoch(0, func(x *tensor.Tensor, y []int32) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		mb := net.MaxBatch()
		for lo := 0; lo < len(y); lo += mb { // sources may batch larger than the net
			hi := min(len(y), lo+mb)
			in := x
			if lo > 0 || hi < len(y) {
				per := len(x.Data) / len(y)
				shape = [4]int{hi - lo, x.Shape[1], x.Shape[2], x.Shape[3]}
				part = tensor.Tensor{Shape: shape[:], Data: x.Data[lo*per : hi*per]}
				in = &part
			}
			if err := net.Forward(in, false); err != nil {
				return err
			}
			l, c, err := net.Loss(y[lo:hi])
			if err != nil {
				return err
			}
			sum += l * float64(hi-lo)
			correct += c
			seen += hi - lo
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if seen == 0 {
		return 0, 0, errors.New("evaluate: the data source is empty")
	}
	return float64(correct) / float64(seen), sum / float64(seen), nil
}
