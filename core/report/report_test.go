package report

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/internal/golden"
)

func fixture(t *testing.T) string {
	dir := t.TempDir()
	for si, name := range []string{"rl", "random"} {
		st, err := store.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		st.Append(store.Record{Kind: "start", Arch: "C(16,3,1) SM(10)", ValAcc: 0.8, Status: store.StatusOK})
		st.Append(store.Record{Kind: "control", Stage: 1, Arch: "C(16,3,1) SM(10)", ValAcc: 0.83, Status: store.StatusOK, Epochs: 1})
		for i := 1; i <= 6; i++ {
			r := store.Record{ID: i, Kind: "sample", Episode: (i-1)/3 + 1, Arch: "C(16,3,1) FC(" + string(rune('0'+i)) + ") SM(10)",
				Depth: 3, Params: int64(1000 * i), ValAcc: 0.8 + float64(i*(2-si))/100, Status: store.StatusOK, Actions: []string{"wider(layer=1)"}}
			if i == 4 {
				r.Status, r.Error, r.ValAcc = store.StatusFailed, "diverged", 0
			}
			st.Append(r)
		}
		st.Close()
	}
	return dir
}

func TestReportGolden(t *testing.T) {
	dir := fixture(t)
	ss, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := experiment.Report{Reference: []experiment.Reference{{Model: "NIN", Error: 8.81}, {Model: "EAS (plain CNN, depth=16)", Depth: 16, Error: 4.89}}}
	var text bytes.Buffer
	files, err := Write(&text, dir, ss, rep, 3)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	csv, _ := os.ReadFile(filepath.Join(dir, "rl_vs_random.csv"))
	got := text.String() + "\n----- report.md\n" + string(md) + "\n----- rl_vs_random.csv\n" + string(csv)
	golden.Check(t, filepath.Join("testdata", "report.golden"), got)
	for _, f := range []string{"progress-rl.png", "progress-random.svg", "rl_vs_random.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 1000 {
			t.Errorf("plot %s missing or empty (%v); files: %v", f, err, files)
		}
	}
}

func TestLoadEmpty(t *testing.T) {
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("empty folder accepted")
	}
}

// repeatedFixture is two searches of three seeds each: rl/r1..r3 and
// random/r1..r3, with controls, as easrun run writes them with repeat = 3.
func repeatedFixture(t *testing.T) string {
	dir := t.TempDir()
	for gi, name := range []string{"rl", "random"} {
		for k := 1; k <= 3; k++ {
			st, err := store.Open(filepath.Join(dir, name, fmt.Sprintf("r%d", k)))
			if err != nil {
				t.Fatal(err)
			}
			st.Append(store.Record{Kind: "start", Arch: "C(16,3,1) SM(10)", ValAcc: 0.8, Status: store.StatusOK})
			st.Append(store.Record{Kind: "control", Stage: 1, Arch: "C(16,3,1) SM(10)", ValAcc: 0.82 + float64(k)/1000, Status: store.StatusOK, Epochs: 1})
			for i := 1; i <= 6; i++ {
				acc := 0.8 + float64(i*(2-gi))/100 + float64(k*k)/1000
				st.Append(store.Record{ID: i, Kind: "sample", Stage: 1, Episode: (i-1)/3 + 1, Arch: fmt.Sprintf("C(16,3,1) FC(%d) SM(10)", i),
					Depth: 3, Params: int64(1000 * i), ValAcc: acc, Status: store.StatusOK, Actions: []string{"wider(layer=1)"}})
			}
			st.Close()
		}
	}
	return dir
}

func TestReportRepeatsGolden(t *testing.T) {
	dir := repeatedFixture(t)
	ss, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 6 || ss[0].Name != "random/r1" || ss[0].Group != "random" || ss[5].Name != "rl/r3" {
		t.Fatalf("loaded %d runs, first %q (group %q)", len(ss), ss[0].Name, ss[0].Group)
	}
	var text bytes.Buffer
	if _, err := Write(&text, dir, ss, experiment.Report{Tables: []string{"rl_vs_random"}, Plots: []string{"progress", "rl_vs_random"}, Formats: []string{"text", "markdown", "png"}}, 3); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	golden.Check(t, filepath.Join("testdata", "repeats.golden"), text.String()+"\n----- report.md\n"+string(md))
	for _, f := range []string{"progress-rl-r2.png", "rl_vs_random.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 1000 {
			t.Errorf("plot %s missing or empty (%v)", f, err)
		}
	}
	// The known numbers: rl's best after 6 networks is 0.92 + k²/1000 and
	// random's 0.86 + k²/1000 (k = 1, 2, 3): the means differ by 6 points, and
	// resampling the two groups apart moves the ends by under 1 point.
	for _, f := range Findings(ss) {
		if f.What == "rl best − random best" {
			if f.Budget != 6 || math.Abs(f.Iv.Diff-0.06) > 1e-9 || math.Abs(f.Iv.Lo-0.06) > 0.01 || !f.Iv.ExcludesZero() || f.Verdict != "rl beats random" {
				t.Errorf("rl vs random: %+v", f)
			}
			return
		}
	}
	t.Error("no rl versus random finding")
}

// A search's reward-fidelity check (fidelity.md in its folder) comes first
// in report.md and its verdict first in the text output.
func TestReportShowsFidelity(t *testing.T) {
	dir := fixture(t)
	check := "## Reward fidelity of search \"rl\"\n\n**Verdict:** at 1 epoch the reward does not rank children.\n\n| a | b |\n"
	if err := os.WriteFile(filepath.Join(dir, "rl", FidelityFile), []byte(check), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if _, err := Write(&text, dir, ss, experiment.Report{Formats: []string{"text", "markdown"}}, 3); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !bytes.HasPrefix(md, []byte("# Report\n\n"+check)) {
		t.Errorf("report.md does not start with the check:\n%s", md)
	}
	if !bytes.HasPrefix(text.Bytes(), []byte("reward fidelity of rl: at 1 epoch the reward does not rank children.\n")) {
		t.Errorf("text output does not start with the verdict:\n%s", text.String())
	}
}
