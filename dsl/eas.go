package dsl

import (
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The .eas grammar is deliberately small and generic: statements are
// `key = value`, `key "label"`, `key label { ... }` or `key { ... }`; values
// are strings, numbers, words and lists. What each key means is checked
// afterwards (experiment.go), which gives better messages than a grammar
// that knows every key.

var easLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `(#|//)[^\n]*`},
	{Name: "String", Pattern: `"(\\.|[^"\\\n])*"`},
	{Name: "Number", Pattern: `[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_\-]*`},
	{Name: "Punct", Pattern: `[{}\[\]=,]`},
	{Name: "Whitespace", Pattern: `\s+`},
})

type fileAST struct {
	Stmts []*stmtAST `parser:"@@*"`
}

// stmtAST: every alternative after the key consumes at least one token
// (the whole tail is optional instead): participle panics on a disjunction
// branch that matches without progressing, which a bare key followed by
// anything but a label or block used to trigger.
type stmtAST struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Comment *string   `parser:"(  @Comment"`
	Key     string    `parser:" | @Ident"`
	Value   *valueAST `parser:"   ( '=' @@"`
	Label   *labelAST `parser:"   | @@"`
	Body    *blockAST `parser:"     @@? | @@ )? )"`

	// Filled from Body after parsing (see fillBlocks).
	HasBlock bool
	Block    []*stmtAST
}

type blockAST struct {
	Stmts []*stmtAST `parser:"'{' @@* '}'"`
}

// fillBlocks copies each statement's parsed body into HasBlock/Block.
func fillBlocks(ss []*stmtAST) {
	for _, s := range ss {
		if s.Body != nil {
			s.HasBlock, s.Block = true, s.Body.Stmts
			fillBlocks(s.Block)
		}
	}
}

type labelAST struct {
	Pos    lexer.Position
	String *string `parser:"  @String"`
	Ident  *string `parser:"| @Ident (?= '{')"`
}

type valueAST struct {
	Pos    lexer.Position
	EndPos lexer.Position
	String *string    `parser:"  @String"`
	Number *string    `parser:"| @Number"`
	List   []*itemAST `parser:"| '[' ( @@ ( ','? @@ )* ','? )? ']'"`
	Word   *string    `parser:"| @Ident"`
}

type itemAST struct {
	Pos    lexer.Position
	String *string `parser:"(  @String"`
	Number *string `parser:" | @Number"`
	Word   *string `parser:" | @Ident )"`
	Times  *string `parser:"( 'x' @Number )?"`
}

var easParser = participle.MustBuild[fileAST](
	participle.Lexer(easLexer),
	participle.Elide("Whitespace"),
	participle.UseLookahead(3),
)

func (l *labelAST) text() string {
	if l.String != nil {
		return unquote(*l.String)
	}
	return *l.Ident
}

func unquote(s string) string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (v *valueAST) text() string {
	switch {
	case v.String != nil:
		return unquote(*v.String)
	case v.Number != nil:
		return *v.Number
	case v.Word != nil:
		return *v.Word
	}
	return ""
}

func (it *itemAST) text() string {
	switch {
	case it.String != nil:
		return unquote(*it.String)
	case it.Number != nil:
		return *it.Number
	case it.Word != nil:
		return *it.Word
	}
	return ""
}

// Format: canonical layout, two-space indentation, one statement per line,
// comments kept where they were (own line, or trailing on the same line).

// FormatExperiment rewrites a .eas source canonically. It is idempotent and
// keeps comments. It fails only on sources that do not parse.
func FormatExperiment(src []byte) ([]byte, error) {
	return FormatExperimentFile("input.eas", src)
}

// FormatExperimentFile is FormatExperiment with errors naming file name.
func FormatExperimentFile(name string, src []byte) ([]byte, error) {
	f, l := parseEASFile(name, string(src))
	if err := l.Err(); err != nil {
		return nil, err
	}
	var b strings.Builder
	writeStmts(&b, f.Stmts, 0)
	return []byte(b.String()), nil
}

func writeStmts(b *strings.Builder, ss []*stmtAST, depth int) {
	ind := strings.Repeat("  ", depth)
	prevLine := -1
	for i, s := range ss {
		if s.Comment != nil {
			c := strings.TrimRight(*s.Comment, " \t\r")
			if i > 0 && s.Pos.Line == prevLine && ss[i-1].Comment == nil {
				// trailing comment: join the previous line
				str := b.String()
				b.Reset()
				b.WriteString(strings.TrimSuffix(str, "\n"))
				b.WriteString("  " + c + "\n")
			} else {
				b.WriteString(ind + c + "\n")
			}
			prevLine = s.Pos.Line
			continue
		}
		// Keep one blank line between top-level blocks for readability.
		if depth == 0 && i > 0 && (s.HasBlock || ss[i-1].HasBlock) && ss[i-1].Comment == nil {
			b.WriteString("\n")
		}
		b.WriteString(ind + s.Key)
		switch {
		case s.Value != nil:
			b.WriteString(" = " + formatValue(s.Value))
		case s.Label != nil && s.Label.String != nil:
			b.WriteString(" " + *s.Label.String)
		case s.Label != nil:
			b.WriteString(" " + *s.Label.Ident)
		}
		switch {
		case s.HasBlock && len(s.Block) == 0:
			b.WriteString(" {}\n")
		case s.HasBlock:
			b.WriteString(" {\n")
			writeStmts(b, s.Block, depth+1)
			b.WriteString(ind + "}\n")
		default:
			b.WriteString("\n")
		}
		prevLine = lastLine(s)
		if s.HasBlock {
			prevLine = -1
		}
	}
}

func formatValue(v *valueAST) string {
	switch {
	case v.String != nil:
		return *v.String
	case v.Number != nil:
		return *v.Number
	case v.Word != nil:
		return *v.Word
	}
	parts := make([]string, len(v.List))
	for i, it := range v.List {
		switch {
		case it.String != nil:
			parts[i] = *it.String
		case it.Number != nil:
			parts[i] = *it.Number
		default:
			parts[i] = *it.Word
		}
		if it.Times != nil {
			parts[i] += " x " + *it.Times
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// lastLine is the line of a statement's last token (values never span lines
// except lists, whose last item decides).
func lastLine(s *stmtAST) int {
	if s.Value != nil && len(s.Value.List) > 0 {
		return s.Value.List[len(s.Value.List)-1].Pos.Line
	}
	if s.Value != nil {
		return s.Value.Pos.Line
	}
	if s.Label != nil {
		return s.Label.Pos.Line
	}
	return s.Pos.Line
}

// EBNF returns both grammars in EBNF, as participle derives them.
func EBNF() string {
	return "Architecture strings:\n" + archParser.String() + "\n\n.eas files:\n" + easParser.String() + "\n"
}
