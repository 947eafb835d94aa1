package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl/diag"
)

// Builtins are the names the checker gets from the caller, because dsl does
// not import the implementations (docs/internals/design.md): the built-in transforms
// and controllers, from package builtin; what the plugins each search
// reaches declare (Plugins; nil: only built-in names are known); and the
// data set kinds the readers understand, from data.Kinds.
type Builtins struct {
	Transforms, Controllers []string
	Plugins                 PluginsFunc
	DatasetKinds            []string
}

// Names the checker knows.
var (
	TableNames  = []string{"summary", "networks", "rl_vs_random", "comparison", "table2", "table3", "table4"}
	PlotNames   = []string{"progress", "rl_vs_random"}
	FormatNames = []string{"text", "markdown", "csv", "png", "svg"}
)

func parseEASFile(name, src string) (*fileAST, diag.List) {
	if len(src) > MaxInput {
		return nil, diag.List{{Pos: diag.PosAt(name, "", 0), Msg: fmt.Sprintf("input too large: %d bytes (limit %d)", len(src), MaxInput)}}
	}
	if !utf8.ValidString(src) {
		off := firstInvalidUTF8(src)
		return nil, diag.List{{Pos: diag.PosAt(name, src, off), Msg: fmt.Sprintf("input is not valid UTF-8 (byte 0x%02x)", src[off])}}
	}
	if off, ok := tooDeep(src); !ok {
		return nil, diag.List{{Pos: diag.PosAt(name, src, off), Len: 1, Msg: fmt.Sprintf("blocks nested more than %d deep", maxNesting)}}
	}
	f, err := parseGuarded(func() (*fileAST, error) { return easParser.ParseString(name, src) })
	if err != nil {
		off, msg := len(src), err.Error()
		if pe, ok := err.(participle.Error); ok {
			off, msg = pe.Position().Offset, pe.Message()
		}
		if off > len(src) {
			off = len(src)
		}
		return nil, diag.List{{Pos: diag.PosAt(name, src, off), Len: 1, Msg: "syntax error: " + msg}}
	}
	fillBlocks(f.Stmts)
	return f, nil
}

// maxNesting bounds block nesting: the parser recurses once per level, and
// a stack overflow is fatal in Go (no recover), so depth is checked first.
const maxNesting = 32

// tooDeep scans for '{' nesting deeper than maxNesting outside strings and
// comments, returning the offending offset.
func tooDeep(src string) (int, bool) {
	depth := 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '"':
			for i++; i < len(src) && src[i] != '"' && src[i] != '\n'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
			}
		case '{':
			if depth++; depth > maxNesting {
				return i, false
			}
		case '}':
			depth--
		}
	}
	return 0, true
}

// parseGuarded runs a participle parse and turns a panic (participle
// panics on some grammar/input combinations instead of failing) into an
// error carrying the parser's position when it has one, so no input can
// crash check, run or fmt.
func parseGuarded[T any](parse func() (*T, error)) (out *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			out = nil
			if pe, ok := r.(participle.Error); ok {
				err = participle.Errorf(pe.Position(), "parser failure: %s", pe.Message())
				return
			}
			err = fmt.Errorf("parser failure: %v", r)
		}
	}()
	return parse()
}

type walker struct {
	file, src string
	l         diag.List
}

func (w *walker) at(pos lexer.Position, n int, sev diag.Severity, suggest, format string, args ...any) {
	w.l = append(w.l, diag.Diagnostic{Pos: diag.PosAt(w.file, w.src, pos.Offset), Len: n, Severity: sev,
		Msg: fmt.Sprintf(format, args...), Suggest: suggest})
}

func (w *walker) errf(pos lexer.Position, n int, format string, args ...any) {
	w.at(pos, n, diag.Error, "", format, args...)
}

// fields dispatches each statement of a block to its handler; unknown keys
// are errors with a did-you-mean.
func (w *walker) fields(block string, ss []*stmtAST, handlers map[string]func(*stmtAST)) {
	keys := make([]string, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	seen := map[string]bool{}
	for _, s := range ss {
		if s.Comment != nil {
			continue
		}
		h, ok := handlers[s.Key]
		if !ok {
			w.at(s.Pos, len(s.Key), diag.Error, diag.DidYouMean(s.Key, keys), "unknown setting %q in %s", s.Key, block)
			continue
		}
		repeatable := s.Key == "search" || s.Key == "reference" || s.Key == "stage"
		if seen[s.Key] && !repeatable {
			w.errf(s.Pos, len(s.Key), "%q is set twice in %s", s.Key, block)
		}
		seen[s.Key] = true
		h(s)
	}
}

func (w *walker) needValue(s *stmtAST) (*valueAST, bool) {
	if s.Value == nil {
		w.errf(s.Pos, len(s.Key), "%s needs a value: write %s = ...", s.Key, s.Key)
		return nil, false
	}
	return s.Value, true
}

func (w *walker) needBlock(s *stmtAST) bool {
	if !s.HasBlock {
		w.errf(s.Pos, len(s.Key), "%s needs a block: write %s { ... }", s.Key, s.Key)
		return false
	}
	return true
}

func (w *walker) str(s *stmtAST) string {
	v, ok := w.needValue(s)
	if !ok {
		return ""
	}
	if v.String == nil && v.Word == nil {
		w.errf(v.Pos, 1, "%s must be a string", s.Key)
		return ""
	}
	return v.text()
}

func (w *walker) word(s *stmtAST, allowed []string) string {
	v, ok := w.needValue(s)
	if !ok {
		return ""
	}
	if v.Word == nil && v.String == nil {
		w.errf(v.Pos, 1, "%s must be one of %s", s.Key, strings.Join(allowed, ", "))
		return ""
	}
	t := v.text()
	for _, a := range allowed {
		if a == t {
			return t
		}
	}
	w.at(v.Pos, len(t), diag.Error, diag.DidYouMean(t, allowed), "%s: unknown value %q (one of %s)", s.Key, t, strings.Join(allowed, ", "))
	return ""
}

func (w *walker) number(s *stmtAST) (float64, bool) {
	v, ok := w.needValue(s)
	if !ok {
		return 0, false
	}
	if v.Number == nil {
		w.errf(v.Pos, 1, "%s must be a number", s.Key)
		return 0, false
	}
	f, err := strconv.ParseFloat(*v.Number, 64)
	if err != nil {
		w.errf(v.Pos, len(*v.Number), "%s: %v", s.Key, err)
		return 0, false
	}
	return f, true
}

func (w *walker) float(s *stmtAST, lo, hi float64) float64 {
	f, ok := w.number(s)
	if ok && (f < lo || f > hi) {
		w.errf(s.Value.Pos, len(*s.Value.Number), "%s must be between %g and %g, got %s", s.Key, lo, hi, *s.Value.Number)
	}
	return f
}

func (w *walker) integer(s *stmtAST, min int) int {
	f, ok := w.number(s)
	if !ok {
		return 0
	}
	if max, ok := keyLimits[s.Key]; ok && f > float64(max) {
		w.errf(s.Value.Pos, len(*s.Value.Number), "%s must be at most %d, got %s", s.Key, max, *s.Value.Number)
		return max // not 0: that would add a second error ("no budget")
	}
	if f != float64(int(f)) || strings.ContainsAny(*s.Value.Number, ".eE") {
		w.errf(s.Value.Pos, len(*s.Value.Number), "%s must be an integer, got %s", s.Key, *s.Value.Number)
		return 0
	}
	if int(f) < min {
		w.errf(s.Value.Pos, len(*s.Value.Number), "%s must be at least %d, got %s", s.Key, min, *s.Value.Number)
	}
	return int(f)
}

func (w *walker) boolean(s *stmtAST) bool {
	return w.word(s, []string{"true", "false"}) == "true"
}

func (w *walker) list(s *stmtAST) []*itemAST {
	v, ok := w.needValue(s)
	if !ok {
		return nil
	}
	if v.List == nil && (v.String != nil || v.Number != nil || v.Word != nil) {
		// a single value is a one-item list
		return []*itemAST{{Pos: v.Pos, String: v.String, Number: v.Number, Word: v.Word}}
	}
	return v.List
}

func (w *walker) intList(s *stmtAST) []int {
	var out []int
	for _, it := range w.list(s) {
		n, err := strconv.Atoi(it.text())
		if it.Number == nil || err != nil || n <= 0 || it.Times != nil {
			w.errf(it.Pos, len(it.text()), "%s: %q is not a positive integer", s.Key, it.text())
			continue
		}
		if max, ok := keyLimits[s.Key]; ok && n > max {
			w.errf(it.Pos, len(it.text()), "%s: %d is more than the limit of %d", s.Key, n, max)
			continue
		}
		out = append(out, n)
	}
	return out
}

func (w *walker) wordList(s *stmtAST, allowed []string) []string {
	var out []string
	for _, it := range w.list(s) {
		t := it.text()
		if allowed != nil && !slices.Contains(allowed, t) {
			w.at(it.Pos, len(t), diag.Error, diag.DidYouMean(t, allowed), "%s: unknown value %q (one of %s)", s.Key, t, strings.Join(allowed, ", "))
			continue
		}
		out = append(out, t)
	}
	return out
}

// ParseExperiment parses and checks a .eas source, filling defaults; known
// are the built-in transform and controller names and the data set kinds. The Experiment is
// meaningful only when the list has no errors; warnings (such as a missing
// dataset) may accompany a valid one.
func ParseExperiment(name string, src []byte, known Builtins) (e *experiment.Experiment, l diag.List) {
	defer func() {
		// The checker walks a tree of optional parts; a nil it did not
		// expect must be a diagnostic, never a crash of check, run or fmt.
		if r := recover(); r != nil {
			e, l = nil, append(l, diag.Diagnostic{Pos: diag.PosAt(name, string(src), 0), Len: 1,
				Msg: fmt.Sprintf("internal error while checking this file (please report it): %v", r)})
		}
	}()
	return parseExperiment(name, src, known)
}

// expParser is the state of one parseExperiment: the walker that collects
// diagnostics, the experiment being filled, and the references checked once
// the whole file is read.
type expParser struct {
	*walker
	e          *experiment.Experiment
	known      Builtins
	startArch  *stmtAST
	hasDataset bool
	names      []searchNames // what each search refers to, resolved at the end
}

func parseExperiment(name string, src []byte, known Builtins) (*experiment.Experiment, diag.List) {
	f, l := parseEASFile(name, string(src))
	if l.HasErrors() {
		return nil, l
	}
	p := &expParser{walker: &walker{file: name, src: string(src)}, known: known,
		e: &experiment.Experiment{Space: ir.PaperSpace(), Child: experiment.PaperChild()}}
	e := p.e
	e.Start.Train = experiment.PaperChild()
	e.Final.Training = experiment.PaperChild()
	e.Final.Training.Epochs, e.Final.Training.LR = 300, 0.1
	p.fields("the file", f.Stmts, map[string]func(*stmtAST){
		"experiment": p.experimentName,
		"dataset":    p.dataset,
		"start":      p.start,
		"space":      p.space,
		"child": func(s *stmtAST) {
			if p.needBlock(s) {
				p.fields("child", s.Block, p.trainingHandlers(&e.Child, nil))
			}
		},
		"search": p.search,
		"final":  p.final,
		"report": p.report,
	})
	p.defaults(name)
	p.resolveNames(p.names, known)
	return e, p.l
}

func (p *expParser) experimentName(s *stmtAST) {
	switch {
	case s.Label == nil && s.Value == nil:
		p.errf(s.Pos, len(s.Key), `experiment needs a name: write experiment "my-study"`)
	case s.Label != nil:
		p.e.Name = s.Label.text()
		p.folderName("experiment", p.e.Name, s.Label.Pos)
	default:
		p.e.Name = p.str(s)
		p.folderName("experiment", p.e.Name, s.Value.Pos)
	}
}

func (p *expParser) dataset(s *stmtAST) {
	p.hasDataset = true
	if s.Label != nil {
		p.e.Dataset.Name = s.Label.text()
	}
	p.e.Dataset.Validation = 5000 // the paper's hold-out unless set
	if !p.needBlock(s) {
		return
	}
	p.walker.dataset(s, &p.e.Dataset, p.known.DatasetKinds)
}

func (p *expParser) start(s *stmtAST) {
	if !p.needBlock(s) {
		return
	}
	p.fields("start", s.Block, p.trainingHandlers(&p.e.Start.Train, map[string]func(*stmtAST){
		"arch":       func(s *stmtAST) { p.startArch = s },
		"checkpoint": func(s *stmtAST) { p.e.Start.Checkpoint = p.str(s) },
	}))
}

func (p *expParser) space(s *stmtAST) {
	if !p.needBlock(s) {
		return
	}
	sp := &p.e.Space
	p.fields("space", s.Block, map[string]func(*stmtAST){
		"kernels": func(s *stmtAST) {
			sp.Kernels = p.intList(s)
			for i, k := range sp.Kernels {
				if k%2 == 0 {
					p.errf(s.Value.List[i].Pos, 1, "kernels: %d is even; kernel sizes must be odd (same padding)", k)
				}
			}
		},
		"filters": func(s *stmtAST) { sp.Filters = p.intList(s) },
		"units":   func(s *stmtAST) { sp.Units = p.intList(s) },
		"growth":  func(s *stmtAST) { sp.Growth = p.intList(s) },
	})
}

func (p *expParser) search(s *stmtAST) {
	sr := experiment.Search{PerEpisode: 10, Noise: -1, Control: true, Repeat: 1, RewardSeeds: 1, Settings: map[string]string{}}
	if s.Label != nil {
		sr.Name = s.Label.text()
		p.folderName("search", sr.Name, s.Label.Pos)
	} else {
		p.errf(s.Pos, len(s.Key), `search needs a name: write search "rl" { ... }`)
	}
	for _, other := range p.e.Searches {
		if other.Name == sr.Name && sr.Name != "" {
			p.errf(s.Label.Pos, len(sr.Name)+2, "search %q is defined twice", sr.Name)
		}
	}
	if !p.needBlock(s) {
		return
	}
	var ctrl, fid *stmtAST
	sn := searchNames{name: sr.Name, pos: s.Pos}
	p.fields("search "+sr.Name, s.Block, map[string]func(*stmtAST){
		"controller":   func(s *stmtAST) { ctrl = s; p.controller(s, &sr) },
		"steps":        func(s *stmtAST) { p.steps(s, &sr, &sn) },
		"per_episode":  func(s *stmtAST) { sr.PerEpisode = p.integer(s, 1) },
		"budget":       func(s *stmtAST) { sr.Budget = p.integer(s, 1) },
		"seed":         func(s *stmtAST) { sr.Seed = int64(p.integer(s, 0)) },
		"noise":        func(s *stmtAST) { sr.Noise = p.float(s, -1, 1) },
		"plugins":      func(s *stmtAST) { sr.Plugins, sn.pluginsPos = p.wordList(s, nil), &s.Pos },
		"control":      func(s *stmtAST) { sr.Control = p.boolean(s) },
		"repeat":       func(s *stmtAST) { sr.Repeat = p.integer(s, 1) },
		"fidelity":     func(s *stmtAST) { fid, sr.Fidelity = s, p.boolean(s) },
		"reward_seeds": func(s *stmtAST) { sr.RewardSeeds = p.integer(s, 1) },
		"stage":        func(s *stmtAST) { sr.Stages = append(sr.Stages, p.stage(s)) },
	})
	switch {
	case ctrl == nil:
		p.errf(s.Pos, len(s.Key), "search %q has no controller: add controller = reinforce (or random)", sr.Name)
	case ctrl.Value != nil: // the controller first, as it is reported first
		sn.refs = append([]nameRef{{kindController, ctrl.Value.text(), ctrl.Value.Pos}}, sn.refs...)
	case ctrl.Label != nil:
		sn.refs = append([]nameRef{{kindController, ctrl.Label.text(), ctrl.Label.Pos}}, sn.refs...)
	} // else "controller needs a name" was reported
	sn.plugins = sr.Plugins
	p.names = append(p.names, sn)
	if sr.Fidelity && !sr.Control {
		p.errf(fid.Pos, len(fid.Key), "search %q: fidelity = true needs control = true (the check measures each child's gain over the control)", sr.Name)
	}
	if len(sr.Steps) == 0 {
		p.errf(s.Pos, len(s.Key), "search %q has no steps: add e.g. steps = [wider x 4, deeper x 5]", sr.Name)
	}
	if sr.Budget == 0 && len(sr.Stages) == 0 {
		p.errf(s.Pos, len(s.Key), "search %q has no budget: add budget = N (networks to sample) or stage blocks", sr.Name)
	}
	if sr.Budget == 0 {
		for _, st := range sr.Stages {
			sr.Budget += st.Budget
		}
	}
	p.e.Searches = append(p.e.Searches, sr)
}

// controller reads controller = NAME or controller NAME { settings }.
func (p *expParser) controller(s *stmtAST, sr *experiment.Search) {
	switch {
	case s.Value != nil:
		sr.Controller = s.Value.text()
	case s.Label != nil:
		sr.Controller = s.Label.text()
		for _, st := range s.Block {
			if st.Comment != nil {
				continue
			}
			if st.Value == nil || st.Value.List != nil {
				p.errf(st.Pos, len(st.Key), "controller setting %s needs a single value: %s = ...", st.Key, st.Key)
				continue
			}
			sr.Settings[st.Key] = st.Value.text()
		}
	default:
		p.errf(s.Pos, len(s.Key), "controller needs a name: controller = reinforce, or controller reinforce { ... }")
	}
}

// steps reads steps = [wider x 4, deeper x 5].
func (p *expParser) steps(s *stmtAST, sr *experiment.Search, sn *searchNames) {
	total := 0
	for _, it := range p.list(s) {
		if it.Word == nil {
			p.errf(it.Pos, len(it.text()), "steps: %q is not a transform name", it.text())
			continue
		}
		n := 1
		if it.Times != nil {
			v, err := strconv.Atoi(*it.Times)
			if err != nil || v < 1 {
				p.errf(it.Pos, len(it.text()), "steps: repeat count must be a positive integer, got %s", *it.Times)
				continue
			}
			if v > MaxStepRepeat {
				p.errf(it.Pos, len(it.text()), "steps: repeat count must be at most %d, got %s", MaxStepRepeat, *it.Times)
				v = MaxStepRepeat // kept, so that "no steps" does not follow
			}
			n = v
		}
		if total += n; total > MaxSteps && total-n <= MaxSteps {
			p.errf(it.Pos, len(it.text()), "steps: %d steps per episode by here; the limit is %d", total, MaxSteps)
		}
		sr.Steps = append(sr.Steps, experiment.StepSpec{Transform: *it.Word, Count: n})
		sn.refs = append(sn.refs, nameRef{kindTransform, *it.Word, it.Pos})
	}
}

func (p *expParser) stage(s *stmtAST) experiment.Stage {
	st := experiment.Stage{}
	if p.needBlock(s) {
		p.fields("stage", s.Block, map[string]func(*stmtAST){
			"budget":         func(s *stmtAST) { st.Budget = p.integer(s, 1) },
			"retrain_epochs": func(s *stmtAST) { st.RetrainEpochs = p.integer(s, 0) },
		})
	}
	if st.Budget == 0 {
		p.errf(s.Pos, len(s.Key), "stage needs a budget: stage { budget = 300 retrain_epochs = 100 }")
	}
	return st
}

func (p *expParser) final(s *stmtAST) {
	if !p.needBlock(s) {
		return
	}
	f := &p.e.Final
	p.fields("final", s.Block, p.trainingHandlers(&f.Training, map[string]func(*stmtAST){
		"top":       func(s *stmtAST) { f.Top = p.integer(s, 0) },
		"full_data": func(s *stmtAST) { f.FullData = p.boolean(s) },
	}))
}

func (p *expParser) report(s *stmtAST) {
	if !p.needBlock(s) {
		return
	}
	rep := &p.e.Report
	p.fields("report", s.Block, map[string]func(*stmtAST){
		"tables":    func(s *stmtAST) { rep.Tables = p.wordList(s, TableNames) },
		"plots":     func(s *stmtAST) { rep.Plots = p.wordList(s, PlotNames) },
		"formats":   func(s *stmtAST) { rep.Formats = p.wordList(s, FormatNames) },
		"reference": func(s *stmtAST) { rep.Reference = append(rep.Reference, p.reference(s)) },
	})
}

func (p *expParser) reference(s *stmtAST) experiment.Reference {
	r := experiment.Reference{}
	if s.Label == nil {
		p.errf(s.Pos, len(s.Key), `reference needs a model name: reference "NIN" { error = 8.81 }`)
	} else {
		r.Model = s.Label.text()
	}
	if p.needBlock(s) {
		p.fields("reference", s.Block, map[string]func(*stmtAST){
			"depth":  func(s *stmtAST) { r.Depth = p.integer(s, 0) },
			"params": func(s *stmtAST) { r.Params = p.float(s, 0, 1e6) },
			"error":  func(s *stmtAST) { r.Error = p.float(s, 0, 100) },
			"note":   func(s *stmtAST) { r.Note = p.str(s) },
		})
	}
	return r
}

// defaults fills what the file left out and reports what it must not.
func (p *expParser) defaults(name string) {
	e := p.e
	if e.Name == "" {
		e.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
		if err := CheckFolderName(e.Name); err != nil {
			p.errf(lexer.Position{}, 1, "the file name gives the experiment name %q, which cannot name a folder: it %v; add experiment \"my-study\"", e.Name, err)
		}
	}
	if !p.hasDataset {
		p.errf(lexer.Position{}, 1, "no dataset: add e.g. dataset cifar10 { path = \"~/data/cifar10\" }")
	}
	defaultDataset(&e.Dataset)
	if e.Start.Input == (ir.Shape{}) {
		e.Start.Input = e.Dataset.Input()
	}
	switch {
	case p.startArch != nil:
		p.walker.startArch(p.startArch, e)
	case e.Start.Checkpoint == "":
		p.errf(lexer.Position{}, 1, `no start network: add start { arch = "C(16,3,1) ... SM(10)" } or a checkpoint`)
	}
	if len(e.Searches) == 0 {
		p.errf(lexer.Position{}, 1, `no search: add search "rl" { controller = reinforce ... }`)
	}
}

func (w *walker) trainingHandlers(t *experiment.Training, extra map[string]func(*stmtAST)) map[string]func(*stmtAST) {
	h := map[string]func(*stmtAST){
		"optimizer":    func(s *stmtAST) { t.Optimizer = w.word(s, []string{"sgd"}) },
		"lr":           func(s *stmtAST) { t.LR = w.float(s, 0, 100) },
		"momentum":     func(s *stmtAST) { t.Momentum = w.float(s, 0, 0.9999) },
		"nesterov":     func(s *stmtAST) { t.Nesterov = w.boolean(s) },
		"weight_decay": func(s *stmtAST) { t.WeightDecay = w.float(s, 0, 1) },
		"schedule":     func(s *stmtAST) { t.Schedule = w.word(s, []string{"cosine", "constant", "step"}) },
		"step_every":   func(s *stmtAST) { t.StepEvery = w.integer(s, 1) },
		"step_gamma":   func(s *stmtAST) { t.StepGamma = w.float(s, 0, 1) },
		"epochs":       func(s *stmtAST) { t.Epochs = w.integer(s, 0) },
		"batch":        func(s *stmtAST) { t.Batch = w.integer(s, 1) },
		"seed":         func(s *stmtAST) { t.Seed = int64(w.integer(s, 0)) },
	}
	for k, f := range extra {
		h[k] = f
	}
	return h
}

func (w *walker) dataset(s *stmtAST, d *experiment.Dataset, kinds []string) {
	w.fields("dataset", s.Block, map[string]func(*stmtAST){
		"kind":       func(s *stmtAST) { d.Kind = w.word(s, kinds) },
		"path":       func(s *stmtAST) { d.Path = w.str(s) },
		"validation": func(s *stmtAST) { d.Validation = w.integer(s, 0) },
		"seed":       func(s *stmtAST) { d.ValidationSeed = int64(w.integer(s, 0)) },
		"augment":    func(s *stmtAST) { d.Augment = w.boolean(s) },
		"normalize":  func(s *stmtAST) { d.Normalize = w.word(s, []string{"channel", "scale", "none"}) },
		"limit":      func(s *stmtAST) { d.Limit = w.integer(s, 0) },
		"input": func(s *stmtAST) {
			sh, err := ir.ParseShape(w.str(s))
			if err != nil {
				w.errf(s.Pos, len(s.Key), "%v", err)
			}
			d.InputShape = sh
		},
	})
	if d.Kind == "" && slices.Contains(kinds, d.Name) {
		d.Kind = d.Name
	}
	if d.Kind == "" {
		w.errf(s.Pos, len(s.Key), "dataset needs a kind: one of %s (kind = ...)", strings.Join(kinds, ", "))
	}
}

func defaultDataset(d *experiment.Dataset) {
	if d.Name == "" {
		d.Name = d.Kind
	}
	if d.Normalize == "" {
		d.Normalize = "channel"
	}
}

// startArch validates the start architecture in place, pointing diagnostics
// into the string literal of the .eas file.
func (w *walker) startArch(s *stmtAST, e *experiment.Experiment) {
	v, ok := w.needValue(s)
	if !ok {
		return
	}
	if v.String == nil {
		w.errf(v.Pos, 1, `arch must be a quoted string: arch = "C(16,3,1) ... SM(10)"`)
		return
	}
	src := unquote(*v.String)
	as := archSource{file: w.file, full: w.src, base: v.Pos.Offset + 1, src: src}
	a, l := as.validate(e.Start.Input)
	w.l = append(w.l, l...)
	e.Start.Arch = a
}

// ResolveData applies data location overrides: overrides[name] (from
// --data NAME=PATH) first, then the environment variable EAS_DATA_<NAME>;
// a leading ~ is expanded, and a relative path written in the experiment
// file is taken relative to the file's folder, baseDir. It returns where the
// path came from.
func ResolveData(d *experiment.Dataset, overrides map[string]string, baseDir string) string {
	from := "experiment file"
	if d.Path != "" && !filepath.IsAbs(d.Path) && !strings.HasPrefix(d.Path, "~") && baseDir != "" {
		d.Path = filepath.Join(baseDir, d.Path)
	}
	env := "EAS_DATA_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(d.Name))
	if p, ok := overrides[d.Name]; ok {
		d.Path, from = p, "--data"
	} else if p, ok := overrides[d.Kind]; ok {
		d.Path, from = p, "--data"
	} else if p := os.Getenv(env); p != "" {
		d.Path, from = p, env
	}
	if strings.HasPrefix(d.Path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			d.Path = filepath.Join(home, d.Path[2:])
		}
	}
	return from
}

// maxNameLen bounds experiment and search names, which become folder names.
const maxNameLen = 64

// CheckFolderName accepts a name that is safe as one folder name inside the
// run directory: 1 to 64 ASCII letters, digits, spaces, '_', '-' or '.',
// starting with a letter or digit and not ending in a space (so never "..", a hidden file, a path separator or
// an absolute path).
func CheckFolderName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty")
	case len(name) > maxNameLen:
		return fmt.Errorf("is longer than %d characters", maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("must start with a letter or digit")
		}
		if !alnum && c != '_' && c != '-' && c != '.' && c != ' ' {
			return fmt.Errorf("may hold only letters, digits, spaces, '_', '-' and '.', not %q", rune(c))
		}
	}
	if name[len(name)-1] == ' ' {
		return fmt.Errorf("must not end in a space")
	}
	return nil
}

// folderName reports a name that becomes a folder of the run directory and
// is not safe as one.
func (w *walker) folderName(what, name string, pos lexer.Position) {
	if err := CheckFolderName(name); err != nil {
		w.errf(pos, len(name)+2, "%s name %q cannot name a folder of the run directory: it %v", what, name, err)
	}
}

// CheckClasses compares the start architecture's SM(n) with the class count
// of the data set (known only once the data is found), reporting a
// mismatch at the SM layer inside the file's arch string.
func CheckClasses(name string, src []byte, classes int) diag.List {
	f, l := parseEASFile(name, string(src))
	if l.HasErrors() {
		return nil
	}
	for _, s := range f.Stmts {
		if s.Key != "start" {
			continue
		}
		for _, st := range s.Block {
			if st.Key != "arch" || st.Value == nil || st.Value.String == nil {
				continue
			}
			as := archSource{file: name, full: string(src), base: st.Value.Pos.Offset + 1, src: unquote(*st.Value.String)}
			a, spans, l := as.parse()
			if l.HasErrors() {
				return nil
			}
			for i := len(a.Layers) - 1; i >= 0; i-- {
				if a.Layers[i].Kind == ir.Softmax {
					if n := a.Layers[i].Units; n != classes {
						return diag.List{as.diag(spans[i].off, spans[i].len, "the start network ends in SM(%d) but the data set has %d classes", n, classes)}
					}
					return nil
				}
			}
		}
	}
	return nil
}
