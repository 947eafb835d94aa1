package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/dsl"
)

type evalJSON struct {
	N         int
	Correct   int
	Accuracy  float64
	Loss      float64
	Split     string
	Norm      evalNorm `json:"normalisation"`
	Classes   []classScore
	Confusion [][]int
	Notes     []string
}

func evalJ(t *testing.T, args ...string) evalJSON {
	t.Helper()
	out, _ := mustRun(t, append([]string{"eval", "--json"}, args...)...)
	var r evalJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

// trainSmall trains a tiny network on the 8x8 four-quadrant set of writeIDX.
func trainSmall(t *testing.T, dir string, extra ...string) (spec, ck string) {
	t.Helper()
	writeIDX(t, dir)
	spec, ck = "idx:"+dir, filepath.Join(dir, "net.safetensors")
	mustRun(t, append([]string{"train", "--data", spec, "--arch", "C(4,3,1) P(2,2,MAX) FC(8) SM(10)", "--epochs", "2", "--validation", "40",
		"--batch", "16", "--lr", "0.05", "--save", ck, "--plain"}, extra...)...)
	return spec, ck
}

func TestEvalSplitsTablesAndCSV(t *testing.T) {
	dir := t.TempDir()
	spec, ck := trainSmall(t, dir, "--seed", "3")
	meta, err := checkpoint.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{metaNorm, metaNormMean, metaNormStd, metaData, metaDataFP, metaValSize, metaValSeed} {
		if meta.Meta[k] == "" {
			t.Errorf("train --save wrote no %s", k)
		}
	}
	if meta.Meta[metaValSeed] != "3" || meta.Meta[metaValSize] != "40" {
		t.Errorf("split recorded as %s/%s", meta.Meta[metaValSize], meta.Meta[metaValSeed])
	}
	// --split val is the validation set train used: same images, same accuracy.
	val := evalJ(t, ck, "--data", spec, "--split", "val")
	trainVal, _ := strconv.ParseFloat(meta.Meta["val_acc"], 64)
	if val.N != 40 || math.Abs(val.Accuracy-trainVal) > 1.5/40 || val.Norm.Source != "checkpoint" || len(val.Notes) != 0 {
		t.Errorf("val split: %+v, train said %v", val, trainVal)
	}
	test := evalJ(t, ck, "--data", spec)
	if test.N != 40 || test.Split != "test" || test.Accuracy < 0 || test.Accuracy > 1 || !(test.Loss > 0) {
		t.Errorf("test split: %+v", test)
	}
	sum, diag := 0, 0
	for i, row := range test.Confusion {
		for j, v := range row {
			sum += v
			if i == j {
				diag += v
			}
		}
		if test.Classes[i].Correct != row[i] {
			t.Errorf("class %d: %d correct, confusion diagonal %d", i, test.Classes[i].Correct, row[i])
		}
	}
	if sum != test.N || diag != test.Correct || math.Abs(float64(test.Correct)/float64(test.N)-test.Accuracy) > 1e-12 {
		t.Errorf("confusion sums %d/%d for %d/%d", diag, sum, test.Correct, test.N)
	}
	if got := evalJ(t, ck, "--data", spec, "--limit", "10"); got.N != 10 {
		t.Errorf("--limit 10 evaluated %d", got.N)
	}

	out, _ := mustRun(t, "eval", ck, "--data", spec)
	for _, want := range []string{"accuracy", "loss", "confusion matrix", "true \\ predicted", "normalisation from the checkpoint"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
	out, _ = mustRun(t, "eval", ck, "--data", spec, "--csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 12 || rows[0][0] != "class" || rows[0][4] != "pred_0" || len(rows[0]) != 14 || rows[11][0] != "all" || rows[11][1] != "40" {
		t.Errorf("csv:\n%s", out)
	}

	// A checkpoint from before the metadata: eval falls back and says so.
	a, _ := dsl.ParseArch("a", meta.ArchString)
	old := filepath.Join(dir, "old.safetensors")
	if err := checkpoint.Save(old, a, meta.Input, meta.Weights(), map[string]string{"epoch": "2"}); err != nil {
		t.Fatal(err)
	}
	_, errs := mustRun(t, "eval", old, "--data", spec, "--split", "val")
	if !strings.Contains(errs, "does not record the normalisation") || !strings.Contains(errs, "does not record its validation split") {
		t.Errorf("no fallback notes:\n%s", errs)
	}
	if r := evalJ(t, old, "--data", spec, "--validation", "40", "--val-seed", "3", "--split", "val"); r.Norm.Source != "computed" || r.N != 40 {
		t.Errorf("old checkpoint with explicit split: %+v", r)
	}
	_, errs, code := run(t, "export", old, "--out", filepath.Join(dir, "x"))
	if code == 0 || !strings.Contains(errs, "give --data SPEC") {
		t.Errorf("export without a recorded normalisation: %d %s", code, errs)
	}
	_, errs = mustRun(t, "export", old, "--out", filepath.Join(dir, "x"), "--data", spec)
	if !strings.Contains(errs, "computed from") {
		t.Errorf("export --data: %s", errs)
	}

	// Errors name the problem.
	other := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", ck, "--data", writeSyntheticIDX(t, other, 30, 10, 6, 6)}, "takes 8x8x1 images"},
		{[]string{"eval", ck, "--data", spec, "--split", "val", "--validation", "0"}, "no validation images are held out"},
		{[]string{"eval", ck, "--data", spec, "--csv", "--json"}, "not both"},
		{[]string{"eval", filepath.Join(dir, "train-images-idx3-ubyte"), "--data", spec}, "header length"},
	} {
		_, errs, code := run(t, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want %q in:\n%s", tc.args, code, tc.want, errs)
		}
	}
}

func TestTrainInit(t *testing.T) {
	dir := t.TempDir()
	spec, ck := trainSmall(t, dir)
	base, err := checkpoint.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh schedule: one new epoch although the checkpoint has done two
	// (--resume --epochs 1 would train nothing), with the checkpoint's
	// weights (learning rate 0 leaves them untouched) and normalisation.
	tuned := filepath.Join(dir, "tuned.safetensors")
	_, errs := mustRun(t, "train", "--data", spec, "--init", ck, "--epochs", "1", "--lr", "0", "--validation", "40", "--batch", "16",
		"--save", tuned, "--plain")
	if !strings.Contains(errs, "epoch 1/1") || !strings.Contains(errs, "normalisation: the checkpoint's") {
		t.Errorf("--init did not train a fresh epoch with the checkpoint's normalisation:\n%s", errs)
	}
	got, err := checkpoint.Load(tuned)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"l1.conv.weight", "l3.fc.weight", "l4.sm.weight"} {
		w, g := base.Params[name].Data, got.Params[name].Data
		for i := range w {
			if w[i] != g[i] {
				t.Fatalf("%s[%d] changed from %v to %v with learning rate 0: not started from the checkpoint", name, i, w[i], g[i])
			}
		}
	}
	if got.Meta["init"] != ck || got.Meta[metaNormMean] != base.Meta[metaNormMean] || got.Meta["epoch"] != "1" {
		t.Errorf("metadata after --init: %v", got.Meta)
	}
	other := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--init", ck, "--resume", ck}, "not both"},
		{[]string{"--init", ck, "--arch", "C(8,3,1) SM(10)"}, "differs from the architecture"},
		{[]string{"--init", ck, "--arch", "C(8,3) SM(10)"}, "C takes 3 arguments"},
		{[]string{"--init", ck, "--data", writeSyntheticIDX(t, other, 30, 10, 6, 6)}, "was trained on 8x8x1 images"},
		{[]string{"--init", filepath.Join(dir, "missing.safetensors")}, "no such file"},
	} {
		args := append([]string{"train", "--data", spec, "--epochs", "1", "--validation", "40"}, tc.args...)
		_, errs, code := run(t, args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want %q in:\n%s", tc.args, code, tc.want, errs)
		}
	}
}

// Every checkpoint a run writes (start network, stage bests) records the
// data's normalisation and validation split, so eval and export feed it
// inputs exactly as in training.
func TestRunCheckpointsRecordNormalisation(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "inj.eas")
	if err := os.WriteFile(f, []byte(injectedExperiment), 0o644); err != nil {
		t.Fatal(err)
	}
	split := tinySplit(t)
	cmd := &RunCmd{File: f, Out: filepath.Join(dir, "runs"), Evaluator: "local", Plain: true, Deps: RunDeps{
		Data:      func(experiment.Dataset) (*data.Split, error) { return split, nil },
		Evaluator: &countingEval{},
		Plugins:   &builtinHost{},
	}}
	var stdout, stderr bytes.Buffer
	if err := cmd.Run(&Globals{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "runs", "inj", "rl", "checkpoints", "*.safetensors"))
	files = append(files, filepath.Join(dir, "runs", "inj", "start.safetensors"))
	if len(files) < 2 {
		t.Fatalf("run saved no stage checkpoints: %v", files)
	}
	for _, p := range files {
		ck, err := checkpoint.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		tw, err := readTrainedWith(ck.Meta, 3)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !tw.hasNorm || !tw.hasSplit || tw.valSize != 8 || tw.valSeed != 0 /* the file's dataset seed */ || tw.spec != "images:/nowhere" || tw.normKind != "channel" || tw.finger != split.TestSet.Fingerprint() {
			t.Errorf("%s: metadata %v", p, ck.Meta)
		}
		for c := range split.Norm.Mean {
			if tw.norm.Mean[c] != split.Norm.Mean[c] || tw.norm.Std[c] != split.Norm.Std[c] {
				t.Errorf("%s: channel %d normalisation %v/%v, trained with %v/%v", p, c, tw.norm.Mean[c], tw.norm.Std[c], split.Norm.Mean[c], split.Norm.Std[c])
			}
		}
	}
}
