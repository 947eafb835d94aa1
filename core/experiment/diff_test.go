package experiment

import (
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
)

func sampleExp() *Experiment {
	e := &Experiment{Name: "x", Space: ir.PaperSpace(), Child: PaperChild(),
		Dataset: Dataset{Kind: "idx", Name: "fmnist", Path: "/a", Validation: 100},
		Start:   Start{Arch: ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 8}, {Kind: ir.Softmax, Units: 10}}}, Train: PaperChild()},
		Searches: []Search{{Name: "rl", Controller: "reinforce", Budget: 10, PerEpisode: 5, Settings: map[string]string{"lr": "0.1"},
			Steps: []StepSpec{{Transform: "wider", Count: 2}}}},
		Report: Report{Tables: []string{"summary"}}}
	return e
}

func TestResumeDiff(t *testing.T) {
	cases := []struct {
		name string
		edit func(e *Experiment)
		want string // "" = no difference that matters
	}{
		{"same", func(e *Experiment) {}, ""},
		{"data moved", func(e *Experiment) { e.Dataset.Path, e.Dataset.Name = "/b", "other" }, ""},
		{"report", func(e *Experiment) { e.Report.Tables = []string{"networks"} }, ""},
		{"new search", func(e *Experiment) { e.Searches = append(e.Searches, Search{Name: "random"}) }, ""},
		{"child epochs", func(e *Experiment) { e.Child.Epochs = 5 }, "child.epochs: 20 -> 5"},
		{"weight decay", func(e *Experiment) { e.Child.WeightDecay = 0 }, "child.weight_decay: 0.0001 -> 0"},
		{"start arch", func(e *Experiment) { e.Start.Arch.Layers[0].Units = 16 }, "start.arch: FC(8) SM(10) -> FC(16) SM(10)"},
		{"validation", func(e *Experiment) { e.Dataset.Validation = 50 }, "dataset.validation: 100 -> 50"},
		{"budget", func(e *Experiment) { e.Searches[0].Budget = 20 }, `search "rl" budget: 10 -> 20`},
		{"steps", func(e *Experiment) { e.Searches[0].Steps[0].Count = 3 }, `search "rl" steps[0].count: 2 -> 3`},
		{"settings", func(e *Experiment) { e.Searches[0].Settings["lr"] = "0.2" }, `search "rl" settings`},
		{"space", func(e *Experiment) { e.Space.Kernels = []int{3} }, "space.kernels"},
	}
	for _, c := range cases {
		now := sampleExp()
		c.edit(now)
		d := ResumeDiff(sampleExp(), now)
		switch {
		case c.want == "" && len(d) > 0:
			t.Errorf("%s: differences %q, want none", c.name, d)
		case c.want != "" && (len(d) != 1 || !strings.Contains(d[0], c.want)):
			t.Errorf("%s: differences %q, want one containing %q", c.name, d, c.want)
		}
	}
}

// TestResumeDiffStarted: a search that has not started may change anything,
// its plugins included; a started one may not.
func TestResumeDiffStarted(t *testing.T) {
	now := sampleExp()
	now.Searches[0].Plugins = []string{"./plugins/stretch"}
	now.Searches[0].Steps = append(now.Searches[0].Steps, StepSpec{Transform: "stretch", Count: 1})
	if d := ResumeDiffStarted(sampleExp(), now, func(string) bool { return false }); len(d) != 0 {
		t.Errorf("not started: %q", d)
	}
	if d := ResumeDiffStarted(sampleExp(), now, func(s string) bool { return s == "rl" }); len(d) != 2 || !strings.Contains(d[0], `search "rl" `) {
		t.Errorf("started: %q", d)
	}
	now.Child.Epochs = 1 // the experiment's own settings still count
	if d := ResumeDiffStarted(sampleExp(), now, func(string) bool { return false }); len(d) != 1 {
		t.Errorf("child epochs: %q", d)
	}
}
