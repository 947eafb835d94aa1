package dsl

import (
	"fmt"
	"strings"
	"unicode"
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
	{Name: "Punct", Pattern: `[-(),:|]`},
	{Name: "Whitespace", Pattern: `\s+`},
})

type archAST struct {
	Layers []*layerAST `parser:"( @@ ','? )*"`
}

// layerAST is a layer: NAME, NAME(args) or, for a merge, NAME(branch | ...).
// Branches are tried first: they start with a name, arguments (but for a
// misplaced word) with a number, so the parser decides within two tokens.
type layerAST struct {
	Pos      lexer.Position
	EndPos   lexer.Position
	Name     string       `parser:"@Ident"`
	Parens   bool         `parser:"( @'('"`
	Branches []*branchAST `parser:"  ( @@ ( '|' @@ )* ')'"`
	Args     []*argAST    `parser:"  | ( @@ ( ',' @@ )* )? ')' ) )?"`
}

// branchAST is one branch of a merge: layers in order.
type branchAST struct {
	Pos    lexer.Position
	Layers []*layerAST `parser:"( @@ ','? )+"`
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
	ps := a.Check(in)
	if len(ps) > MaxDiagnostics {
		ps = append(ps[:MaxDiagnostics], ir.Problem{Layer: ps[MaxDiagnostics].Layer, Msg: fmt.Sprintf("too many errors: stopping after %d", MaxDiagnostics)})
	}
	for _, p := range ps {
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
	ast, err := parseGuarded(func() (*archAST, error) { return archParser.ParseString(s.file, s.src) })
	if err != nil {
		return ir.Arch{}, nil, diag.List{s.syntaxError(err)}
	}
	var c converter
	c.s = s
	c.seq(ast.Layers)
	if c.count > ir.MaxLayers {
		c.tooMany.Msg = fmt.Sprintf(c.tooMany.Msg, countLayers(ast.Layers))
		return ir.Arch{}, nil, diag.List{c.tooMany}
	}
	return c.a, c.spans, c.l
}

// converter flattens the parsed layers into an ir.Arch: a merge, then its
// branches' layers (see core/ir/tree.go), with one source span per layer.
type converter struct {
	s       archSource
	a       ir.Arch
	spans   []span
	l       diag.List
	count   int
	tooMany diag.Diagnostic
	stopped bool
}

func (c *converter) seq(layers []*layerAST) {
	for _, la := range layers {
		if c.stopped {
			return
		}
		if c.count++; c.count == ir.MaxLayers+1 {
			c.tooMany = c.s.diag(la.Pos.Offset, la.EndPos.Offset-la.Pos.Offset, "the architecture has %%d layers; the limit is %d", ir.MaxLayers)
		}
		if c.count > ir.MaxLayers {
			continue
		}
		if len(c.l) >= MaxDiagnostics {
			c.l = append(c.l, c.s.diag(la.Pos.Offset, 1, "too many errors: stopping after %d", MaxDiagnostics))
			c.stopped = true
			return
		}
		if la.Branches != nil && isMerge(la.Name) {
			c.merge(la)
			continue
		}
		layer, ds := c.s.layer(la)
		c.l = append(c.l, ds...)
		c.a.Layers = append(c.a.Layers, layer)
		c.spans = append(c.spans, span{la.Pos.Offset, la.EndPos.Offset - la.Pos.Offset})
	}
}

// merge appends a merge and its branches; its span is its name, where
// problems of the merge (branch shapes) point.
func (c *converter) merge(la *layerAST) {
	at := len(c.a.Layers)
	k := ir.LookupKind(la.Name)
	c.a.Layers = append(c.a.Layers, ir.Layer{Kind: k.Kind})
	c.spans = append(c.spans, span{la.Pos.Offset, len(la.Name)})
	arms := make([]int, len(la.Branches))
	for j, br := range la.Branches {
		n := len(c.a.Layers)
		c.seq(br.Layers)
		arms[j] = len(c.a.Layers) - n
	}
	c.a.Layers[at].Arms = arms
}

// countLayers counts parsed layers, branches' layers included.
func countLayers(ls []*layerAST) int {
	n := len(ls)
	for _, l := range ls {
		for _, b := range l.Branches {
			n += countLayers(b.Layers)
		}
	}
	return n
}

func isMerge(name string) bool {
	k := ir.LookupKind(name)
	return k != nil && k.Join != nil
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
// parser's more generic one, and bounds the nesting (which the parser
// follows by recursion). Only a merge's parentheses may hold others.
func (s archSource) checkParens() (diag.Diagnostic, bool) {
	type open struct {
		at    int
		merge bool
	}
	var stack []open
	word := "" // the identifier right before the current position
	wordEnd := -1
	prev := rune(0) // the last non-space character
	for i, r := range s.src {
		if r == '|' && (prev == '(' || prev == '|') || r == ')' && prev == '|' {
			return s.diag(i, 1, "empty branch: write ID for the identity, as in ADD(C(16,3,1) | ID)"), false
		}
		if !unicode.IsSpace(r) {
			prev = r
		}
		switch {
		case r == '(':
			if n := len(stack); n > 0 && !stack[n-1].merge {
				return s.diag(stack[n-1].at, 1, "unbalanced parentheses: this '(' is not closed before the next '('"), false
			}
			if len(stack) > ir.MaxNesting {
				return s.diag(i, 1, "merges nest more than %d deep", ir.MaxNesting), false
			}
			stack = append(stack, open{i, wordEnd == i && isMerge(word)})
		case r == ')':
			if len(stack) == 0 {
				return s.diag(i, 1, "unbalanced parentheses: ')' without a matching '('"), false
			}
			stack = stack[:len(stack)-1]
		case r == '_' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if wordEnd != i {
				word = ""
			}
			word += string(r)
			wordEnd = i + 1
		}
	}
	if len(stack) > 0 {
		return s.diag(stack[len(stack)-1].at, 1, "unbalanced parentheses: '(' is never closed"), false
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

// layer converts one parsed layer. Names, arity, argument types and values
// all come from the kind table in core/ir; this only maps its problems back
// to source positions.
func (s archSource) layer(la *layerAST) (ir.Layer, diag.List) {
	whole := la.EndPos.Offset - la.Pos.Offset
	if isMerge(la.Name) {
		name := strings.ToUpper(la.Name)
		return ir.Layer{}, diag.List{s.diag(la.Pos.Offset, whole, "%s needs branches of layers separated by |: write e.g. %s(C(16,3,1) C(16,3,1) | ID)", name, name)}
	}
	args := make([]ir.Arg, len(la.Args))
	for i, a := range la.Args {
		args[i] = a.arg()
	}
	if la.Branches != nil && ir.LookupKind(la.Name) != nil {
		words, ok := bareWords(la.Branches)
		if !ok {
			return ir.Layer{}, diag.List{s.diag(la.Pos.Offset, whole, "%s takes arguments, not layers: only ADD and CAT hold branches", strings.ToUpper(la.Name))}
		}
		la = &layerAST{Pos: la.Pos, EndPos: la.EndPos, Name: la.Name, Parens: true, Args: words}
		args = make([]ir.Arg, len(words))
		for i, a := range words {
			args[i] = a.arg()
		}
	}
	out, probs, ok := ir.FromArgs(la.Name, args)
	if !ok {
		d := s.diag(la.Pos.Offset, len(la.Name), "unknown layer %q: layers are %s", la.Name, strings.Join(ir.KindNames(), ", "))
		d.Suggest = diag.DidYouMean(la.Name, ir.KindNames())
		return ir.Layer{}, diag.List{d}
	}
	var l diag.List
	for _, p := range probs {
		if p.Arg < 0 || p.Arg >= len(la.Args) {
			l = append(l, s.diag(la.Pos.Offset, la.EndPos.Offset-la.Pos.Offset, "%s", p.Msg))
			continue
		}
		a := la.Args[p.Arg]
		n := p.Len
		if n == 0 {
			n = len(a.arg().Text())
		}
		d := s.diag(a.Pos.Offset, n, "%s", p.Msg)
		if a.Word != nil && len(p.Choices) > 0 {
			d.Suggest = diag.DidYouMean(*a.Word, p.Choices)
		}
		l = append(l, d)
	}
	return out, l
}

// bareWords reads a single branch of bare names (P(MAX), parsed as a
// branch) back as word arguments.
func bareWords(brs []*branchAST) ([]*argAST, bool) {
	if len(brs) != 1 {
		return nil, false
	}
	var out []*argAST
	for _, l := range brs[0].Layers {
		if l.Parens {
			return nil, false
		}
		out = append(out, &argAST{Pos: l.Pos, Word: &l.Name})
	}
	return out, true
}

// arg is the argument as the kind table reads it.
func (a *argAST) arg() ir.Arg {
	var r ir.Arg
	if a.Word != nil {
		r.Word = *a.Word
		return r
	}
	r.Neg = a.Neg
	if a.Rep != nil {
		r.Rep = *a.Rep
	}
	if a.Num != nil {
		r.Num = *a.Num
	}
	if a.Bott != nil {
		r.Bott = *a.Bott
	}
	return r
}
