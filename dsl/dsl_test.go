package dsl

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eas-go/eas/builtin"
	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl/diag"
	"github.com/eas-go/eas/internal/golden"
)

// testBuiltins are the registry's names, as the CLI passes them.
var testBuiltins = Builtins{Transforms: builtin.TransformNames(), Controllers: builtin.ControllerNames(), DatasetKinds: data.Kinds}

var in32 = ir.Shape{C: 3, H: 32, W: 32}

// archCases covers valid inputs and every error class the issue names.
var archCases = []string{
	"C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) C(64,3,1) P(2,2,MAX) C(128,3,1) P(4,4,AVG) FC(256) SM(10)",
	"C(16, 3, 1), P(2, 2, MAX), C(32, 3, 1), P(2, 2, MAX), C(64, 3, 1), P(2, 2, MAX), C(128, 3, 1), P(4, 4, AVG), FC(256), SM(10)",
	"c(16,3,1) p(2,2,max) fc(64) sm(10)",
	"C(80,3,1) DB(6x40) T(0.5) DB(6x40) T(0.5) DB(6x40) GAP SM(10)",
	"C(80,3,1) DB(40,44:160,2x40,48:0) T(0.5) DB(3x40) GAP SM(10)",
	"C(16,3,1) DO(0.2) C(32,5,1) DO(0.2) P(2,2,MAX) GAP FC(128) DO(0.5) SM(10)",
	"Q(3) SM(10)",
	"C(16,3) SM(10)",
	"C(1.5,3,1) SM(10)",
	"C(0,3,1) FC(-2) SM(0)",
	"C(16,4,1) SM(10)",
	"P(2,2,MIN) SM(10)",
	"C(16,3,1 SM(10)",
	"C(16,3,1)) SM(10)",
	"",
	"   ",
	"SM(10) FC(128)",
	"FC(128) C(16,3,1) SM(10)",
	"C(16,3,1) P(2,2,MAX) P(8,8,MAX) P(4,4,MAX) SM(10)",
	"GAP C(16,3,1) SM(10)",
	"DB(0) SM(10)",
	"C(16,3,1) T(0.5) SM(10)",
	"DO(1.5) SM(10)",
	"C(16,3,1) $ SM(10)",
	"C(16,3,1) SM(10) \xff",
	"Gap SM(10)",
	"conv(16,3,1) SM(10)",
	// Graphs: merges, branches, ID.
	"C(16,3,1) ADD(C(16,3,1) C(16,3,1) | ID) GAP SM(10)",
	"C(16,3,1) ADD(C(16,3,1) C(16,3,1) | ID) ADD(C(16,3,1) C(16,3,1) | ID) C(32,3,2) ADD(C(32,3,1) C(32,3,1) | ID) GAP SM(10)",
	"C(16,3,1) ADD(C(16,3,1) CAT(C(8,3,1) | C(8,5,1)) | ID) GAP SM(10)",
	"c(16, 3, 1), add( c(16,3,1), do(0.5) |id ) cat(ID|id|c(4,1,1)) gap sm(10)",
	"C(16,3,1) ADD(C(32,3,1) | ID) GAP SM(10)",
	"C(16,3,1) CAT(C(8,3,2) | ID) GAP SM(10)",
	"C(16,3,1) ADD(C(16,3,1)) GAP SM(10)",
	"C(16,3,1) ADD(C(16,3,1) | ) GAP SM(10)",
	"C(16,3,1) ADD(GAP | ID) SM(10)",
	"C(16,3,1) ID GAP SM(10)",
	"C(16,3,1) ADD(C(16,3,1) ID | ID) GAP SM(10)",
	"C(16,3,1) ADD GAP SM(10)",
	"C(ID | ID) SM(10)",
	"P(MAX) SM(10)",
	"C(16,3,1) ADD(C(16,3,1) | ID GAP SM(10)",
	"C(4,3,1) ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ID | ID) | ID) | ID) | ID) | ID) | ID) | ID) | ID) | ID) SM(2)",
	"C(8,3,1) DB(2x4) ADD(ID | ID) GAP SM(10)",
}

func TestArchGolden(t *testing.T) {
	var b strings.Builder
	for _, src := range archCases {
		a, l := ValidateArch("arch", src, in32)
		fmt.Fprintf(&b, "== %q\n", src)
		if !l.HasErrors() {
			fmt.Fprintf(&b, "ok: %s\n", a)
		}
		diag.Write(&b, src, l)
	}
	golden.Check(t, "testdata/arch.golden", b.String())
}

func TestEASGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/eas/*.eas")
	if len(files) == 0 {
		t.Fatal("no testdata/eas/*.eas")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, l := ParseExperiment(filepath.Base(f), src, testBuiltins)
		var b strings.Builder
		diag.Write(&b, string(src), l)
		if !l.HasErrors() && !strings.HasPrefix(filepath.Base(f), "ok_") {
			t.Errorf("%s: expected errors, got none", f)
		}
		golden.Check(t, strings.TrimSuffix(f, ".eas")+".golden", b.String())
	}
}

func TestErrorsNeverPanic(t *testing.T) {
	big := strings.Repeat("C(16,3,1) ", 1<<20) // 10 MB
	for _, src := range []string{big, "\x00\x01", "C(((", "))", "DB(99999999999999999999)", "C(16,3,1e99999) SM(1)"} {
		_, l := ParseArch("x", src)
		if !l.HasErrors() {
			t.Errorf("%.40q: no error", src)
		}
		_, l = ParseExperiment("x.eas", []byte(src), testBuiltins)
		if !l.HasErrors() {
			t.Errorf("eas %.40q: no error", src)
		}
	}
	_, l := ParseArch("x", big)
	if !strings.Contains(l.Err().Error(), "too large") {
		t.Errorf("10 MB input: %v", l.Err())
	}
}

func TestExperimentsParseAndFormat(t *testing.T) {
	files, _ := filepath.Glob("../experiments/*.eas")
	if len(files) < 5 {
		t.Fatalf("want the five experiment files, found %d", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e, l := ParseExperiment(f, src, testBuiltins)
		if err := l.Err(); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(e.Start.Arch.Layers) == 0 || len(e.Searches) == 0 {
			t.Errorf("%s: incomplete experiment %+v", f, e)
		}
		out, err := FormatExperiment(src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, src) {
			t.Errorf("%s is not in canonical form (run easrun fmt -w)", f)
		}
	}
}

func TestFormatIdempotentAndKeepsComments(t *testing.T) {
	src := `# head comment
experiment   "x"
dataset cifar10 { path="/d"   # where
validation=100 }
search "rl" { controller reinforce { learning_rate = 0.01 } steps=[wider x 4,deeper x 5] budget = 10 repeat=3   control=false }
// tail
`
	once, err := FormatExperiment([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	twice, err := FormatExperiment(once)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(once, twice) {
		t.Errorf("not idempotent:\n%s\n---\n%s", once, twice)
	}
	for _, c := range []string{"# head comment", "# where", "// tail"} {
		if !bytes.Contains(once, []byte(c)) {
			t.Errorf("comment %q lost:\n%s", c, once)
		}
	}
	golden.Check(t, "testdata/format.golden", string(once))
}

func TestResolveData(t *testing.T) {
	src := []byte("dataset cifar10 { path = \"/nowhere\" }\nstart { arch = \"FC(8) SM(2)\" }\nsearch \"r\" { controller = random steps = [wider] budget = 1 }\n")
	e, l := ParseExperiment("x.eas", src, testBuiltins)
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	d := e.Dataset
	if from := ResolveData(&d, map[string]string{"cifar10": "/data/c10"}, ""); d.Path != "/data/c10" || from != "--data" {
		t.Errorf("override: %q from %s", d.Path, from)
	}
	d = e.Dataset
	d.Path = "rel/c10"
	if ResolveData(&d, nil, "/exp"); d.Path != "/exp/rel/c10" {
		t.Errorf("relative: %q", d.Path)
	}
	d = e.Dataset
	t.Setenv("EAS_DATA_CIFAR10", "/env/c10")
	if ResolveData(&d, nil, ""); d.Path != "/env/c10" {
		t.Errorf("env: %q", d.Path)
	}
}

// randomArch builds a random valid architecture (plain or DenseNet).
func randomArch(r *rand.Rand) ir.Arch {
	var a ir.Arch
	if r.Intn(3) == 0 {
		a.Layers = append(a.Layers, ir.Layer{Kind: ir.Conv, Filters: 1 + r.Intn(64), Kernel: 1 + 2*r.Intn(3), Stride: 1})
		for b := 0; b < 1+r.Intn(3); b++ {
			db := ir.Layer{Kind: ir.DenseBlock}
			for j := 0; j < 1+r.Intn(5); j++ {
				g := 1 + r.Intn(64)
				bn := ir.DefaultBottleneck(g)
				if r.Intn(4) == 0 {
					bn = r.Intn(100)
				}
				db.Dense = append(db.Dense, ir.DenseLayer{Growth: g, Bottleneck: bn})
			}
			tr := ir.Layer{Kind: ir.Transition, Compression: []float64{0.5, 1, 0.25}[r.Intn(3)]}
			if r.Intn(3) == 0 {
				tr.Filters = 1 + r.Intn(50)
			}
			a.Layers = append(a.Layers, db, tr)
		}
		a.Layers = append(a.Layers, ir.Layer{Kind: ir.GAP})
	} else {
		for i := 0; i < r.Intn(6); i++ {
			switch r.Intn(4) {
			case 0, 1:
				a.Layers = append(a.Layers, ir.Layer{Kind: ir.Conv, Filters: 1 + r.Intn(512), Kernel: 1 + 2*r.Intn(3), Stride: 1 + r.Intn(2)})
			case 2:
				a.Layers = append(a.Layers, ir.Layer{Kind: ir.Pool, Kernel: 1 + r.Intn(3), Stride: 1 + r.Intn(3), Op: ir.PoolOp(1 + r.Intn(2))})
			case 3:
				a.Layers = append(a.Layers, ir.Layer{Kind: ir.Dropout, Rate: float64(r.Intn(10)) / 10})
			}
		}
		for i := 0; i < r.Intn(3); i++ {
			a.Layers = append(a.Layers, ir.Layer{Kind: ir.FC, Units: 1 + r.Intn(1024)})
		}
	}
	a.Layers = append(a.Layers, ir.Layer{Kind: ir.Softmax, Units: 1 + r.Intn(100)})
	return a
}

func TestPrintParseRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		a := randomArch(r)
		s := a.String()
		b, l := ParseArch("rt", s)
		if err := l.Err(); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if b.String() != s {
			t.Fatalf("round trip: %s -> %s", s, b.String())
		}
		if g, _ := ParseArch("rt", b.String()); g.String() != s {
			t.Fatalf("print not idempotent for %s", s)
		}
	}
}

// TestIRParseArchAgrees: core's parser (ir.ParseArch) reads every case the
// DSL reads to the same architecture, and refuses what the DSL refuses.
func TestIRParseArchAgrees(t *testing.T) {
	for _, c := range archCases {
		a, l := ParseArch("case", c)
		b, err := ir.ParseArch(c)
		if l.HasErrors() != (err != nil) {
			t.Errorf("%q: the DSL says %v, ir.ParseArch says %v", c, l.Err(), err)
			continue
		}
		if err == nil && a.String() != b.String() {
			t.Errorf("%q: the DSL reads %q, ir.ParseArch %q", c, a, b)
		}
	}
}

func FuzzParseArch(f *testing.F) {
	for _, c := range archCases {
		f.Add(c)
	}
	// Sizes at and past the limits (ir.MaxWidth, ir.MaxParams, ...).
	for _, c := range []string{"FC(16777216) FC(16777216) SM(10)", "C(16777216,1,1) GAP SM(2)", "C(8,3,1) DB(10000x16777216) GAP SM(2)",
		"C(1,1023,1024) P(1024,1024,MAX) SM(16777216)", "C(16,3,1) T(1,16777216) SM(2)",
		"C(4,3,1) ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ID | ID) | ID) | ID) | ID) | ID) | ID) | ID) | ID) SM(2)",
		"C(4,3,1) CAT(C(16777216,1,1) | C(16777216,1,1)) SM(2)", "ADD(|) SM(2)", "C(4,3,1) CAT(ID | ID | P(2,2,MAX)) SM(2)"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, src string) {
		a, l := ValidateArch("fuzz", src, in32)
		var b strings.Builder
		diag.Write(&b, src, l) // must not panic either
		if l.HasErrors() {
			return
		}
		s := a.String()
		// core's parser reads what the DSL reads, and the canonical form.
		for _, in := range []string{src, s} {
			if b, err := ir.ParseArch(in); err != nil || b.String() != s {
				t.Fatalf("ir.ParseArch(%q) = %q, %v; the DSL read %q", in, b.String(), err, s)
			}
		}
		a2, l2 := ValidateArch("fuzz", s, in32)
		if l2.HasErrors() || a2.String() != s {
			t.Fatalf("round trip of %q: %q -> %q (%v)", src, s, a2.String(), l2.Err())
		}
		// What checks must lower, and its costs must stay within int64.
		g, err := ir.Lower(a, in32)
		if err != nil {
			t.Fatalf("%q checks but does not lower: %v", s, err)
		}
		if p, m := g.Cost(); p < 0 || m < 0 || g.Memory(64, 2).Total() < 0 {
			t.Fatalf("%q: negative cost %d %d or memory", s, p, m)
		}
	})
}

func FuzzParseExperiment(f *testing.F) {
	files, _ := filepath.Glob("../experiments/*.eas")
	more, _ := filepath.Glob("testdata/eas/*.eas")
	for _, p := range append(files, more...) {
		src, _ := os.ReadFile(p)
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		_, l := ParseExperiment("fuzz.eas", src, testBuiltins)
		var b strings.Builder
		diag.Write(&b, string(src), l)
		out, err := FormatExperiment(src)
		if err != nil {
			return
		}
		again, err := FormatExperiment(out)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("format not idempotent (%v):\n%s\n---\n%s", err, out, again)
		}
	})
}

func TestEBNF(t *testing.T) {
	e := EBNF()
	for _, want := range []string{"LayerAST = <ident>", "StmtAST = (<comment>", "ItemAST ="} {
		if !strings.Contains(e, want) {
			t.Errorf("EBNF lacks %q:\n%s", want, e)
		}
	}
}

// easCrashers made the .eas parser panic (participle: "branch was accepted
// but did not progress the lexer"), the checker dereference nil, or could
// overflow the stack; each must now be a diagnostic with a position. The
// fuzz corpus in testdata/fuzz holds them too.
var easCrashers = []string{
	"a{a=}\n",
	"a {b}",
	"a x y",
	"a=[x",
	"a[",
	"a b",
	"a{b c}",
	"search \"s\" { controller }",
	strings.Repeat("a{", 10000),
}

func TestEASCrashersAreDiagnostics(t *testing.T) {
	for _, src := range easCrashers {
		_, l := ParseExperiment("c.eas", []byte(src), testBuiltins)
		if !l.HasErrors() {
			t.Errorf("%.30q: no error", src)
			continue
		}
		if d := l[0]; d.Pos.Line < 1 || d.Pos.Col < 1 {
			t.Errorf("%.30q: diagnostic without line:col: %+v", src, d)
		}
		FormatExperiment([]byte(src)) // must not panic either
	}
}

func TestParseGuardTurnsPanicsIntoErrors(t *testing.T) {
	_, err := parseGuarded(func() (*fileAST, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v", err)
	}
}

func TestCheckFolderName(t *testing.T) {
	for name, ok := range map[string]bool{
		"quickstart": true, "rl vs random": true, "a.b_c-1": true, "9": true,
		"": false, ".": false, "..": false, "../x": false, "a/b": false, `a\b`: false, "/abs": false,
		".hidden": false, "x ": false, " x": false, "a\x00b": false, "a\nb": false, strings.Repeat("a", 65): false,
	} {
		if err := CheckFolderName(name); (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", name, err, ok)
		}
	}
	_, l := ParseExperiment("..eas", []byte("dataset cifar10 {}\nstart { arch = \"FC(8) SM(10)\" }\nsearch \"s\" { controller = random steps = [wider] budget = 1 }\n"), testBuiltins)
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "file name gives the experiment name") {
		t.Errorf("file ..eas: %v", err)
	}
}

// Hostile sizes end in a bounded number of diagnostics, each with a place:
// 9,999 bad layers give MaxDiagnostics errors and a "too many" line, and a
// string of more than ir.MaxLayers layers one error at the first layer past
// the limit (before, every layer was reported, each one's column found by
// scanning the line).
func TestArchDiagnosticsBounded(t *testing.T) {
	_, l := ValidateArch("x", strings.Repeat("C(0,3,1) ", 9999)+"SM(10)", in32)
	if len(l) != MaxDiagnostics+1 || !strings.Contains(l[MaxDiagnostics].Msg, "too many errors") {
		t.Errorf("%d diagnostics, last %v", len(l), l[len(l)-1])
	}
	_, l = ValidateArch("x", strings.Repeat("DO(0.1) ", 20000)+"SM(10)", in32)
	if len(l) != 1 || l[0].Pos.Col != 1+8*ir.MaxLayers || !strings.Contains(l[0].Msg, "20001 layers; the limit is 10000") {
		t.Errorf("got %v", l)
	}
	_, l = ValidateArch("x", "FC(2) "+strings.Repeat("C(2,3,1) ", 300)+"SM(10)", in32)
	if len(l) != MaxDiagnostics+1 || !strings.Contains(l[MaxDiagnostics].Msg, "too many errors") {
		t.Errorf("check problems: %d diagnostics, last %v", len(l), l[len(l)-1])
	}
}

// TestControlAndRepeat: the control is on unless control = false; repeat
// sets the number of seeds.
func TestControlAndRepeat(t *testing.T) {
	for _, c := range []struct {
		body    string
		control bool
		runs    int
	}{
		{"", true, 1},
		{"control = false", false, 1},
		{"control = true\n  repeat = 3", true, 3},
	} {
		src := "dataset cifar10 { path = \"/d\" }\nstart { arch = \"FC(8) SM(10)\" }\nsearch \"r\" {\n  controller = random\n  steps = [wider]\n  budget = 4\n  " + c.body + "\n}\n"
		e, l := ParseExperiment("x.eas", []byte(src), testBuiltins)
		if err := l.Err(); err != nil {
			t.Fatalf("%q: %v", c.body, err)
		}
		if s := e.Searches[0]; s.Control != c.control || s.Runs() != c.runs {
			t.Errorf("%q: control %v, runs %d; want %v, %d", c.body, s.Control, s.Runs(), c.control, c.runs)
		}
	}
}

// TestDatasetKindsFromCaller: the data set kinds are the caller's (the CLI
// passes data.Kinds), not a copy kept in dsl.
func TestDatasetKindsFromCaller(t *testing.T) {
	const rest = "start { arch = \"FC(8) SM(10)\" }\nsearch \"s\" { controller = random steps = [wider] budget = 1 }\n"
	known := testBuiltins
	known.DatasetKinds = []string{"parquet"}
	for _, tc := range []struct {
		src, wantErr string // wantErr "" means no errors
	}{
		{"dataset d { kind = parquet path = \"x\" }\n", ""},
		{"dataset parquet { path = \"x\" }\n", ""},
		{"dataset d { kind = cifar10 path = \"x\" }\n", "unknown value \"cifar10\" (one of parquet)"},
		{"dataset cifar10 { path = \"x\" }\n", "dataset needs a kind: one of parquet"},
	} {
		e, l := ParseExperiment("x.eas", []byte(tc.src+rest), known)
		err := l.Err()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.src, err)
		case tc.wantErr == "" && e.Dataset.Kind != "parquet":
			t.Errorf("%q: kind %q, want parquet", tc.src, e.Dataset.Kind)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.wantErr)
		}
	}
}

// TestFidelitySettings: fidelity and reward_seeds parse, keep their
// defaults (off, 1), survive the formatter, and bad values are errors at
// their place.
func TestFidelitySettings(t *testing.T) {
	head := "dataset cifar10 { path = \"/d\" }\nstart { arch = \"FC(8) SM(10)\" }\nsearch \"r\" {\n  controller = random\n  steps = [wider]\n  budget = 4\n"
	for _, c := range []struct {
		body     string
		fidelity bool
		seeds    int
		err      string // "" = parses; else a diagnostic containing it, at line 7
	}{
		{"", false, 1, ""},
		{"fidelity = true\n  reward_seeds = 3", true, 3, ""},
		{"reward_seeds = 1", false, 1, ""},
		{"reward_seeds = 0", false, 0, "reward_seeds must be at least 1, got 0"},
		{"reward_seeds = 101", false, 0, "reward_seeds must be at most 100"},
		{"reward_seeds = 2.5", false, 0, "reward_seeds must be an integer"},
		{"fidelity = maybe", false, 0, "maybe"},
		{"fidelity = true\n  control = false", false, 0, `search "r": fidelity = true needs control = true`},
	} {
		src := head + "  " + c.body + "\n}\n"
		e, l := ParseExperiment("x.eas", []byte(src), testBuiltins)
		if c.err != "" {
			if !l.HasErrors() || !strings.Contains(l[0].Msg, c.err) || l[0].Pos.Line != 7 {
				t.Errorf("%q: diagnostics %v, want %q at line 7", c.body, l, c.err)
			}
			continue
		}
		if err := l.Err(); err != nil {
			t.Fatalf("%q: %v", c.body, err)
		}
		if s := e.Searches[0]; s.Fidelity != c.fidelity || s.RewardSeeds != c.seeds || s.Seeds() != c.seeds {
			t.Errorf("%q: fidelity %v, reward_seeds %d; want %v, %d", c.body, s.Fidelity, s.RewardSeeds, c.fidelity, c.seeds)
		}
		f, err := FormatExperiment([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		again, l := ParseExperiment("x.eas", f, testBuiltins)
		if err := l.Err(); err != nil || !reflect.DeepEqual(again.Searches, e.Searches) {
			t.Errorf("%q: formatted %q parses to %+v (%v)", c.body, f, again.Searches, err)
		}
		if f2, _ := FormatExperiment(f); string(f2) != string(f) {
			t.Errorf("%q: format not idempotent", c.body)
		}
	}
}
