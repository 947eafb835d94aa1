package dsl

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl/diag"
)

// MaxInput is the largest source accepted (architecture strings and .eas files).
const MaxInput = 1 << 20

var archLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Rep", Pattern: `\d+[xX]`},
	{Name: "Number", Pattern: `(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Punct", Pattern: `[-(),:]`},
	{Name: "Whitespace", Pattern: `\s+`},
})

type archAST struct {
	Layers []*layerAST `parser:"( @@ ','? )*"`
}

type layerAST struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   string    `parser:"@Ident"`
	Parens bool      `parser:"( @'('"`
	Args   []*argAST `parser:"  ( @@ ( ',' @@ )* )? ')' )?"`
}

type argAST struct {
	Pos  lexer.Position
	Neg  bool    `parser:"( @'-'?"`
	Rep  *string `parser:"  @Rep?"`
	Num  *string `parser:"  @Number"`
	Bott *string `parser:"  ( ':' @Number )? )"`
	Word *string `parser:"| @Ident"`
}

var archParser = participle.MustBuild[archAST](
	participle.Lexer(archLexer),
	participle.Elide("Whitespace"),
	participle.UseLookahead(2),
)

// layerNames are the layer spellings, for did-you-mean.
var layerNames = []string{"C", "P", "FC", "SM", "DO", "GAP", "DB", "T"}

// span is the source range of one parsed layer.
type span struct{ off, len int }

// archSource locates an architecture string inside a larger source (a .eas
// file), so diagnostics point into the file.
type archSource struct {
	file string
	full string // the whole source, for line/column
	base int    // byte offset of src inside full
	src  string
}

func (s archSource) diag(off, n int, format string, args ...any) diag.Diagnostic {
	return diag.Diagnostic{Pos: diag.PosAt(s.file, s.full, s.base+off), Len: n, Msg: fmt.Sprintf(format, args...)}
}

// ParseArch parses an architecture string. All problems found are returned;
// the Arch is meaningful only when the list has no errors.
func ParseArch(name, src string) (ir.Arch, diag.List) {
	a, _, l := archSource{file: name, full: src, src: src}.parse()
	return a, l
}

// ValidateArch parses src and also checks it against input shape in
// (SM last, no conv after FC, pooling that would shrink a map below 1x1, ...).
func ValidateArch(name, src string, in ir.Shape) (ir.Arch, diag.List) {
	return archSource{file: name, full: src, src: src}.validate(in)
}

func (s archSource) validate(in ir.Shape) (ir.Arch, diag.List) {
	a, spans, l := s.parse()
	if l.HasErrors() {
		return a, l
	}
	for _, p := range a.Check(in) {
		if p.Layer >= 1 && p.Layer <= len(spans) {
			sp := spans[p.Layer-1]
			l = append(l, s.diag(sp.off, sp.len, "%s", p.Msg))
		} else {
			l = append(l, s.diag(len(s.src), 1, "%s", p.Msg))
		}
	}
	return a, l
}

// MustArch parses a known-good architecture string (tests, examples); it panics on error.
func MustArch(src string) ir.Arch {
	a, l := ParseArch("arch", src)
	if err := l.Err(); err != nil {
		panic(err)
	}
	return a
}

func (s archSource) parse() (ir.Arch, []span, diag.List) {
	var l diag.List
	if len(s.src) > MaxInput {
		return ir.Arch{}, nil, diag.List{s.diag(0, 1, "input too large: %d bytes (limit %d)", len(s.src), MaxInput)}
	}
	if !utf8.ValidString(s.src) {
		off := firstInvalidUTF8(s.src)
		return ir.Arch{}, nil, diag.List{s.diag(off, 1, "input is not valid UTF-8 (byte 0x%02x)", s.src[off])}
	}
	if strings.TrimSpace(s.src) == "" {
		return ir.Arch{}, nil, diag.List{s.diag(0, 1, "empty architecture: expected layers such as C(16,3,1) ... SM(10)")}
	}
	if d, ok := s.checkParens(); !ok {
		return ir.Arch{}, nil, diag.List{d}
	}
	ast, err := archParser.ParseString(s.file, s.src)
	if err != nil {
		return ir.Arch{}, nil, diag.List{s.syntaxError(err)}
	}
	var a ir.Arch
	var spans []span
	for _, la := range ast.Layers {
		layer, ds := s.layer(la)
		l = append(l, ds...)
		a.Layers = append(a.Layers, layer)
		spans = append(spans, span{la.Pos.Offset, la.EndPos.Offset - la.Pos.Offset})
	}
	return a, spans, l
}

func firstInvalidUTF8(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

// checkParens gives a clear message for unbalanced parentheses before the
// parser's more generic one.
func (s archSource) checkParens() (diag.Diagnostic, bool) {
	var open []int
	for i, r := range s.src {
		switch r {
		case '(':
			if len(open) > 0 {
				return s.diag(open[0], 1, "unbalanced parentheses: this '(' is not closed before the next '('"), false
			}
			open = append(open, i)
		case ')':
			if len(open) == 0 {
				return s.diag(i, 1, "unbalanced parentheses: ')' without a matching '('"), false
			}
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		return s.diag(open[0], 1, "unbalanced parentheses: '(' is never closed"), false
	}
	return diag.Diagnostic{}, true
}

func (s archSource) syntaxError(err error) diag.Diagnostic {
	off := len(s.src)
	msg := err.Error()
	if pe, ok := err.(participle.Error); ok {
		off = pe.Position().Offset
		msg = pe.Message()
	}
	if off > len(s.src) {
		off = len(s.src)
	}
	return s.diag(off, 1, "syntax error: %s", msg)
}

// layer converts one parsed layer, checking its name, arity and values.
func (s archSource) layer(la *layerAST) (ir.Layer, diag.List) {
	var l diag.List
	n := la.EndPos.Offset - la.Pos.Offset
	bad := func(format string, args ...any) { l = append(l, s.diag(la.Pos.Offset, n, format, args...)) }
	name := strings.ToUpper(la.Name)
	arity := map[string]int{"C": 3, "P": 3, "FC": 1, "SM": 1, "DO": 1, "GAP": 0, "T": 1, "DB": -1}
	want, known := arity[name]
	if !known {
		d := s.diag(la.Pos.Offset, len(la.Name), "unknown layer %q: layers are C, P, FC, SM, DO, GAP, DB, T", la.Name)
		d.Suggest = diag.DidYouMean(la.Name, layerNames)
		return ir.Layer{}, diag.List{d}
	}
	usage := map[string]string{"C": "C(filters,kernel,stride)", "P": "P(kernel,stride,MAX|AVG)", "FC": "FC(units)",
		"SM": "SM(classes)", "DO": "DO(rate)", "GAP": "GAP", "T": "T(compression) or T(compression,channels)", "DB": "DB(growth,...)"}[name]
	if name == "T" && len(la.Args) == 2 {
		want = 2 // T(compression, channels): a transition whose width a transform fixed
	}
	if want >= 0 && len(la.Args) != want {
		bad("%s takes %d argument%s, got %d: write %s", name, want, plural(want), len(la.Args), usage)
		return ir.Layer{}, l
	}
	if want < 0 && len(la.Args) == 0 {
		bad("DB needs at least one growth rate: write e.g. DB(6x40) or DB(40,44,48)")
		return ir.Layer{}, l
	}
	// Typed argument readers that record a diagnostic and return 0 on error.
	intArg := func(i int, what string, min int) int {
		a := la.Args[i]
		if a.Word != nil || a.Num == nil {
			l = append(l, s.diag(a.Pos.Offset, 1, "%s: %s must be an integer, got %q", name, what, argText(a)))
			return 0
		}
		if a.Rep != nil || a.Bott != nil {
			l = append(l, s.diag(a.Pos.Offset, 1, "%s: %s must be a plain integer, got %q", name, what, argText(a)))
			return 0
		}
		v, err := strconv.Atoi(*a.Num)
		if err != nil {
			l = append(l, s.diag(a.Pos.Offset, len(*a.Num), "%s: %s must be an integer, got %s", name, what, *a.Num))
			return 0
		}
		if a.Neg {
			v = -v
		}
		if v < min {
			l = append(l, s.diag(a.Pos.Offset, len(argText(a)), "%s: %s must be at least %d, got %d", name, what, min, v))
			return 0
		}
		return v
	}
	floatArg := func(i int, what string) float64 {
		a := la.Args[i]
		if a.Word != nil || a.Num == nil || a.Rep != nil || a.Bott != nil {
			l = append(l, s.diag(a.Pos.Offset, 1, "%s: %s must be a number, got %q", name, what, argText(a)))
			return 0
		}
		v, err := strconv.ParseFloat(*a.Num, 64)
		if err != nil {
			l = append(l, s.diag(a.Pos.Offset, len(*a.Num), "%s: %s must be a number, got %s", name, what, *a.Num))
			return 0
		}
		if a.Neg {
			v = -v
		}
		return v
	}
	var out ir.Layer
	switch name {
	case "C":
		out = ir.Layer{Kind: ir.Conv, Filters: intArg(0, "number of filters", 1), Kernel: intArg(1, "kernel size", 1), Stride: intArg(2, "stride", 1)}
		if out.Kernel > 0 && out.Kernel%2 == 0 {
			a := la.Args[1]
			l = append(l, s.diag(a.Pos.Offset, len(argText(a)), "C: kernel size must be odd (same padding), got %d", out.Kernel))
		}
	case "P":
		out = ir.Layer{Kind: ir.Pool, Kernel: intArg(0, "kernel size", 1), Stride: intArg(1, "stride", 1)}
		a := la.Args[2]
		switch w := strings.ToUpper(argText(a)); {
		case a.Word != nil && w == "MAX":
			out.Op = ir.Max
		case a.Word != nil && w == "AVG":
			out.Op = ir.Avg
		default:
			d := s.diag(a.Pos.Offset, len(argText(a)), "P: pooling must be MAX or AVG, got %q", argText(a))
			if a.Word != nil {
				d.Suggest = diag.DidYouMean(*a.Word, []string{"MAX", "AVG"})
			}
			l = append(l, d)
		}
	case "FC":
		out = ir.Layer{Kind: ir.FC, Units: intArg(0, "number of units", 1)}
	case "SM":
		out = ir.Layer{Kind: ir.Softmax, Units: intArg(0, "number of classes", 1)}
	case "DO":
		out = ir.Layer{Kind: ir.Dropout, Rate: floatArg(0, "rate")}
		if !(out.Rate >= 0 && out.Rate < 1) {
			bad("DO: dropout rate must be in [0, 1), got %s", argText(la.Args[0]))
		}
	case "GAP":
		out = ir.Layer{Kind: ir.GAP}
	case "T":
		out = ir.Layer{Kind: ir.Transition, Compression: floatArg(0, "compression")}
		if len(la.Args) == 2 {
			out.Filters = intArg(1, "output channels", 1)
		}
		if !(out.Compression > 0 && out.Compression <= 1) {
			bad("T: compression must be in (0, 1], got %s", argText(la.Args[0]))
		}
	case "DB":
		out = ir.Layer{Kind: ir.DenseBlock}
		for _, a := range la.Args {
			if a.Word != nil || a.Num == nil {
				l = append(l, s.diag(a.Pos.Offset, 1, "DB: growth rates must be integers like 40, 6x40 or 44:176, got %q", argText(a)))
				continue
			}
			rep := 1
			if a.Rep != nil {
				rep, _ = strconv.Atoi(strings.TrimRight(*a.Rep, "xX"))
				if rep < 1 || rep > 10000 {
					l = append(l, s.diag(a.Pos.Offset, len(*a.Rep), "DB: repeat count must be between 1 and 10000, got %d", rep))
					continue
				}
			}
			g, err := strconv.Atoi(*a.Num)
			if err != nil || a.Neg || g < 1 {
				l = append(l, s.diag(a.Pos.Offset, len(argText(a)), "DB: growth rate must be a positive integer, got %s", argText(a)))
				continue
			}
			b := ir.DefaultBottleneck(g)
			if a.Bott != nil {
				b, err = strconv.Atoi(*a.Bott)
				if err != nil || b < 0 {
					l = append(l, s.diag(a.Pos.Offset, len(argText(a)), "DB: bottleneck width must be a non-negative integer, got %s", *a.Bott))
					continue
				}
			}
			for k := 0; k < rep; k++ {
				out.Dense = append(out.Dense, ir.DenseLayer{Growth: g, Bottleneck: b})
			}
		}
	}
	return out, l
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func argText(a *argAST) string {
	if a.Word != nil {
		return *a.Word
	}
	s := ""
	if a.Neg {
		s = "-"
	}
	if a.Rep != nil {
		s += *a.Rep
	}
	if a.Num != nil {
		s += *a.Num
	}
	if a.Bott != nil {
		s += ":" + *a.Bott
	}
	return s
}
