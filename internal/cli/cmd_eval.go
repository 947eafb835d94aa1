package cli

import (
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/pipeline"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/tensor"
)

// EvalCmd scores a checkpoint on a data set.
type EvalCmd struct {
	Checkpoint string `arg:"" type:"existingfile" help:"Checkpoint written by easrun (train --save, a run's start/best/final networks, transform --save)."`
	Data       string `required:"" help:"Data set: cifar10:PATH, images:PATH (folder or .tar.gz), idx:PATH or svhn:PATH."`
	Split      string `default:"test" enum:"test,val" help:"test: the data set's test images; val: the training images easrun train/run held out for validation (the size and seed the checkpoint records)."`
	Validation *int   `help:"Size of the validation hold-out for --split val (default: the checkpoint's, else easrun train's 5000)."`
	ValSeed    *int64 `name:"val-seed" help:"Seed of the validation hold-out (default: the checkpoint's, else easrun train's 1)."`
	Limit      int    `help:"Evaluate a seeded random sample of this many images (0 = all)."`
	Batch      int    `default:"256" help:"Images per forward pass."`
	CSV        bool   `name:"csv" help:"Print per-class accuracy and the confusion matrix as one CSV table."`
	JSON       bool   `name:"json" help:"Print one JSON object (accuracy in [0,1], loss, n, per-class accuracy, confusion matrix)."`
	Logits     string `help:"Also write the logits, float32 [n, classes] in data order, to this .npy file."`
	Workers    int    `help:"Engine worker goroutines (0 = number of CPUs)."`

	EngineFlags `embed:""`
}

type classScore struct {
	Name     string  `json:"name"`
	N        int     `json:"n"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
}

type evalNorm struct {
	Source string    `json:"source"` // "checkpoint" or "computed"
	Mean   []float32 `json:"mean"`
	Std    []float32 `json:"std"`
}

type evalReport struct {
	Checkpoint string       `json:"checkpoint"`
	Arch       string       `json:"arch"`
	Data       string       `json:"data"`
	Split      string       `json:"split"`
	N          int          `json:"n"`
	Correct    int          `json:"correct"`
	Accuracy   float64      `json:"accuracy"`
	Loss       float64      `json:"loss"`
	Norm       evalNorm     `json:"normalisation"`
	Classes    []classScore `json:"classes"`
	Confusion  [][]int      `json:"confusion"` // rows: true class, columns: predicted class
	Notes      []string     `json:"notes,omitempty"`
}

// Run evaluates the checkpoint and prints the report.
func (c *EvalCmd) Run(g *Globals) error {
	if c.CSV && c.JSON {
		return fmt.Errorf("give --csv or --json, not both")
	}
	if c.Batch < 1 {
		return fmt.Errorf("--batch must be positive, got %d", c.Batch)
	}
	net, ck, err := pipeline.LoadNetwork(c.Checkpoint)
	if err != nil {
		return err
	}
	a := net.Arch
	gr, err := ir.Lower(a, net.Input)
	if err != nil {
		return err
	}
	tw, err := readTrainedWith(ck.Meta, ck.Input.C)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Checkpoint, err)
	}
	src, err := data.Open(c.Data)
	if err != nil {
		return err
	}
	if src.Train.Shape != ck.Input {
		return fmt.Errorf("%s takes %s images, %s has %s", c.Checkpoint, shapeHWC(ck.Input), c.Data, shapeHWC(src.Train.Shape))
	}
	classes := gr.Nodes[gr.Output()].Out.C
	if src.Train.Classes != classes {
		return fmt.Errorf("%s ends in SM(%d) but %s has %d classes", c.Checkpoint, classes, c.Data, src.Train.Classes)
	}
	rep := &evalReport{Checkpoint: c.Checkpoint, Arch: a.String(), Data: c.Data, Split: c.Split}
	note := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		rep.Notes = append(rep.Notes, s)
		fmt.Fprintln(g.Stderr, "note:", s)
	}
	if fp := src.Test.Fingerprint(); tw.finger != "" && fp != tw.finger {
		note("%s is not the data the network was trained on (%s): its test images' fingerprint is %s, the checkpoint records %s", c.Data, tw.spec, fp, tw.finger)
	}
	// The validation split: flags, else the checkpoint's record, else easrun train's defaults.
	nVal, seed, splitFrom := defaultValSize, int64(defaultValSeed), "easrun train's defaults"
	if tw.hasSplit {
		nVal, seed, splitFrom = tw.valSize, tw.valSeed, "the checkpoint's record"
	}
	if c.Validation != nil {
		nVal, splitFrom = *c.Validation, "--validation/--val-seed"
	}
	if c.ValSeed != nil {
		seed, splitFrom = *c.ValSeed, "--validation/--val-seed"
	}
	if nVal < 0 {
		return fmt.Errorf("--validation must be at least 0, got %d", nVal)
	}
	trainPart, valPart := src.Train.Split(nVal, seed)
	set := src.Test
	if c.Split == "val" {
		if valPart == nil {
			return fmt.Errorf("--split val: no validation images are held out (validation size 0, from %s; such training validated on the test set): use --split test", splitFrom)
		}
		set = valPart
		if !tw.hasSplit && c.Validation == nil {
			note("%s does not record its validation split (written before easrun stored it); using easrun train's defaults: %d images held out with seed %d", c.Checkpoint, nVal, seed)
		}
	}
	rep.Norm = evalNorm{Source: "checkpoint", Mean: tw.norm.Mean, Std: tw.norm.Std}
	norm := tw.norm
	if !tw.hasNorm {
		norm = data.ComputeNorm(trainPart)
		rep.Norm = evalNorm{Source: "computed", Mean: norm.Mean, Std: norm.Std}
		note("%s does not record the normalisation it was trained with (written before easrun stored it); using the per-channel mean/std of this data's training split (%d images; %d held out with seed %d), as easrun train does by default: %s",
			c.Checkpoint, trainPart.N, nVal, seed, describeNorm(norm))
	}
	set = set.Sample(c.Limit, 1)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	be, err := openEngine(c.EngineFlags, c.Workers)
	if err != nil {
		return err
	}
	logits, err := evalLogits(ctx, be, gr, net.Weights, set, norm, c.Batch)
	if err != nil {
		return err
	}
	names := set.ClassNames
	if len(names) != classes {
		names = tw.classNames
	}
	if len(names) != classes {
		names = make([]string, classes)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
	}
	score(rep, logits, set.Labels, names)
	if c.Logits != "" {
		if err := store.WriteFileAtomic(c.Logits, npyFloat32(logits.Data, logits.Shape)); err != nil {
			return err
		}
	}
	switch {
	case c.JSON:
		return json.NewEncoder(g.Stdout).Encode(rep)
	case c.CSV:
		return writeEvalCSV(g.Stdout, rep)
	}
	return writeEvalTables(g.Stdout, rep)
}

// evalLogits runs the network in evaluation mode over set (in order) and
// returns the logits [N, classes].
func evalLogits(ctx context.Context, be engine.Backend, gr *ir.Graph, params tensor.Map, set *data.Set, norm data.Norm, batch int) (*tensor.Tensor, error) {
	net, err := be.Build(gr, params, engine.ModelConfig{MaxBatch: batch})
	if err != nil {
		return nil, err
	}
	defer net.Close()
	k := gr.Nodes[gr.Output()].Out.C
	out := tensor.New(set.N, k)
	at := 0
	err = data.NewLoader(set, data.LoaderOptions{Batch: batch, Norm: norm}).Epoch(0, func(x *tensor.Tensor, y []int32) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := net.Forward(x, false); err != nil {
			return err
		}
		z, err := net.Logits()
		if err != nil {
			return err
		}
		copy(out.Data[at*k:], z.Data[:len(y)*k])
		at += len(y)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if at != set.N {
		return nil, fmt.Errorf("evaluated %d of %d images", at, set.N)
	}
	return out, nil
}

// score fills accuracy, mean cross-entropy, per-class accuracy and the
// confusion matrix from logits and labels.
func score(rep *evalReport, logits *tensor.Tensor, labels []uint8, names []string) {
	k := len(names)
	rep.N = len(labels)
	rep.Confusion = make([][]int, k)
	for i := range rep.Confusion {
		rep.Confusion[i] = make([]int, k)
	}
	var loss float64
	for i, y := range labels {
		row := logits.Data[i*k : (i+1)*k]
		best, mx := 0, math.Inf(-1)
		for j, v := range row {
			if float64(v) > mx {
				best, mx = j, float64(v)
			}
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		loss += math.Log(sum) + mx - float64(row[y])
		rep.Confusion[y][best]++
		if best == int(y) {
			rep.Correct++
		}
	}
	if rep.N > 0 {
		rep.Accuracy = float64(rep.Correct) / float64(rep.N)
		rep.Loss = loss / float64(rep.N)
	}
	rep.Classes = make([]classScore, k)
	for j := range rep.Classes {
		cs := classScore{Name: names[j], Correct: rep.Confusion[j][j]}
		for _, v := range rep.Confusion[j] {
			cs.N += v
		}
		if cs.N > 0 {
			cs.Accuracy = float64(cs.Correct) / float64(cs.N)
		}
		rep.Classes[j] = cs
	}
}

func pct(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

func writeEvalTables(w io.Writer, r *evalReport) error {
	fmt.Fprintf(w, "%s\n%s, %s split: %d images, normalisation from the %s\n", r.Arch, r.Data, r.Split, r.N, r.Norm.Source)
	fmt.Fprintf(w, "accuracy %s (%d of %d), loss %.4f\n\n", pct(r.Accuracy), r.Correct, r.N, r.Loss)
	var rows [][]string
	for _, c := range r.Classes {
		rows = append(rows, []string{c.Name, strconv.Itoa(c.N), strconv.Itoa(c.Correct), pct(c.Accuracy)})
	}
	if err := printTable(w, []string{"class", "images", "correct", "accuracy"}, rows, []string{"all", strconv.Itoa(r.N), strconv.Itoa(r.Correct), pct(r.Accuracy)}); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nconfusion matrix (rows: true class, columns: predicted)")
	header := []string{"true \\ predicted"}
	for j := range r.Classes {
		header = append(header, strconv.Itoa(j))
	}
	rows = nil
	for i, c := range r.Classes {
		label := c.Name
		if label != strconv.Itoa(i) {
			label = fmt.Sprintf("%d %s", i, c.Name)
		}
		row := []string{label}
		for _, v := range r.Confusion[i] {
			row = append(row, strconv.Itoa(v))
		}
		rows = append(rows, row)
	}
	return printTable(w, header, rows, nil)
}

// writeEvalCSV writes one row per true class: its count, correct, accuracy
// and its confusion-matrix row (pred_<class> columns), then a total row.
func writeEvalCSV(w io.Writer, r *evalReport) error {
	cw := csv.NewWriter(w)
	header := []string{"class", "n", "correct", "accuracy"}
	for _, c := range r.Classes {
		header = append(header, "pred_"+c.Name)
	}
	cw.Write(header)
	for i, c := range r.Classes {
		row := []string{c.Name, strconv.Itoa(c.N), strconv.Itoa(c.Correct), strconv.FormatFloat(c.Accuracy, 'f', 6, 64)}
		for _, v := range r.Confusion[i] {
			row = append(row, strconv.Itoa(v))
		}
		cw.Write(row)
	}
	total := []string{"all", strconv.Itoa(r.N), strconv.Itoa(r.Correct), strconv.FormatFloat(r.Accuracy, 'f', 6, 64)}
	for range r.Classes {
		total = append(total, "")
	}
	cw.Write(total)
	cw.Flush()
	return cw.Error()
}

// npyFloat32 encodes a float32 array in NumPy's .npy format (version 1.0,
// little-endian, C order), which numpy.load and torch users read directly.
func npyFloat32(v []float32, shape []int) []byte {
	dims := ""
	for _, d := range shape {
		dims += strconv.Itoa(d) + ", "
	}
	if len(shape) > 1 {
		dims = dims[:len(dims)-1]
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims)
	for (10+len(h)+1)%64 != 0 { // the data starts 64-byte aligned
		h += " "
	}
	h += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	b = append(b, h...)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}
