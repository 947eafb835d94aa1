package report

import (
	"bytes"
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
