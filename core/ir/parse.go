package ir

import (
	"fmt"
	"strings"
)

// ParseArch reads an architecture string: the canonical form Arch.String
// prints (checkpoints, records, network messages), and the looser spellings
// the DSL accepts (spaces after commas, commas between layers). It is core's
// one parser, so packages below the DSL need no injected one; the DSL's
// participle grammar adds positions, carets and did-you-means for people.
// The error names the 1-based layer and what is wrong; the architecture is
// not checked against an input shape (Lower and Check do that).
func ParseArch(s string) (Arch, error) {
	if len(s) > maxArchText {
		return Arch{}, fmt.Errorf("architecture string too long: %d bytes (limit %d)", len(s), maxArchText)
	}
	p := archScanner{s: s}
	if err := p.seq(0); err != nil {
		return Arch{}, err
	}
	if p.i < len(p.s) {
		return Arch{}, fmt.Errorf("layer %d: unexpected %q", len(p.a.Layers)+1, p.rest())
	}
	if len(p.a.Layers) == 0 {
		return Arch{}, fmt.Errorf("empty architecture: expected layers such as C(16,3,1) ... SM(10)")
	}
	return p.a, nil
}

// seq reads layers until the end, or a '|' or ')' inside a merge (depth >
// 0). A merge is followed by its branches' layers (see tree.go).
func (p *archScanner) seq(depth int) error {
	for {
		p.skip(", \t\r\n")
		if c := p.peek(); p.i >= len(p.s) || (depth > 0 && (c == '|' || c == ')')) {
			return nil
		}
		if len(p.a.Layers) >= MaxLayers {
			return fmt.Errorf("more than %d layers", MaxLayers)
		}
		n := len(p.a.Layers) + 1
		name := p.ident()
		if name == "" {
			return fmt.Errorf("layer %d: expected a layer name at %q", n, p.rest())
		}
		if k := LookupKind(name); k != nil && k.Join != nil {
			if p.peek() != '(' {
				return fmt.Errorf("layer %d: %s needs branches of layers separated by |: write e.g. %s(C(16,3,1) | ID)", n, k.Name, k.Name)
			}
			if err := p.merge(k, depth); err != nil {
				return err
			}
			continue
		}
		var args []Arg
		if p.peek() == '(' {
			if depth > MaxNesting {
				return fmt.Errorf("layer %d: merges nest more than %d deep", n, MaxNesting)
			}
			p.i++
			var err error
			if args, err = p.args(); err != nil {
				return fmt.Errorf("layer %d (%s): %w", n, name, err)
			}
		}
		l, probs, ok := FromArgs(name, args)
		if !ok {
			return fmt.Errorf("layer %d: unknown layer %q: layers are %s", n, name, strings.Join(KindNames(), ", "))
		}
		if len(probs) > 0 {
			return fmt.Errorf("layer %d: %s", n, probs[0].Msg)
		}
		p.a.Layers = append(p.a.Layers, l)
	}
}

// merge reads "(branch | branch ...)" after a merge's name.
func (p *archScanner) merge(k *KindInfo, depth int) error {
	if depth > MaxNesting {
		return fmt.Errorf("layer %d: merges nest more than %d deep", len(p.a.Layers)+1, MaxNesting)
	}
	at := len(p.a.Layers)
	p.a.Layers = append(p.a.Layers, Layer{Kind: k.Kind})
	p.i++ // '('
	var arms []int
	for {
		n := len(p.a.Layers)
		if err := p.seq(depth + 1); err != nil {
			return err
		}
		if len(p.a.Layers) == n {
			return fmt.Errorf("layer %d (%s): empty branch: write ID for the identity", at+1, k.Name)
		}
		arms = append(arms, len(p.a.Layers)-n)
		switch p.peek() {
		case '|':
			p.i++
		case ')':
			p.i++
			p.a.Layers[at].Arms = arms
			return nil
		default:
			return fmt.Errorf("layer %d (%s): '(' is never closed", at+1, k.Name)
		}
	}
}

// MustParseArch parses a known-good architecture string (tests, tables); it
// panics on error.
func MustParseArch(s string) Arch {
	a, err := ParseArch(s)
	if err != nil {
		panic(err)
	}
	return a
}

// maxArchText bounds what ParseArch reads (strings come from files and the
// network).
const maxArchText = 1 << 20

type archScanner struct {
	s string
	i int
	a Arch
}

func (p *archScanner) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *archScanner) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *archScanner) skip(set string) {
	for p.i < len(p.s) && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

func isLetter(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func (p *archScanner) ident() string {
	j := p.i
	if j >= len(p.s) || !isLetter(p.s[j]) {
		return ""
	}
	for j < len(p.s) && (isLetter(p.s[j]) || isDigit(p.s[j])) {
		j++
	}
	w := p.s[p.i:j]
	p.i = j
	return w
}

// number reads digits with an optional fraction and exponent, as written.
func (p *archScanner) number() string {
	j := p.i
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
	if p.peek() == '.' {
		p.i++
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	}
	if p.i == j || (p.i == j+1 && p.s[j] == '.') {
		p.i = j
		return ""
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		k := p.i + 1
		if k < len(p.s) && (p.s[k] == '+' || p.s[k] == '-') {
			k++
		}
		if k < len(p.s) && isDigit(p.s[k]) {
			for k < len(p.s) && isDigit(p.s[k]) {
				k++
			}
			p.i = k
		}
	}
	return p.s[j:p.i]
}

// args reads "a, b, ...)" after the opening parenthesis.
func (p *archScanner) args() ([]Arg, error) {
	var args []Arg
	p.skip(" \t\r\n")
	if p.peek() == ')' {
		p.i++
		return nil, nil
	}
	for {
		p.skip(" \t\r\n")
		a, err := p.arg()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		p.skip(" \t\r\n")
		switch p.peek() {
		case ',':
			p.i++
		case ')':
			p.i++
			return args, nil
		default:
			return nil, fmt.Errorf("expected ',' or ')' at %q", p.rest())
		}
	}
}

// arg reads [-][Nx]Num[:Num] or a word.
func (p *archScanner) arg() (Arg, error) {
	var a Arg
	if isLetter(p.peek()) {
		a.Word = p.ident()
		return a, nil
	}
	if p.peek() == '-' {
		a.Neg = true
		p.i++
	}
	// A repeat prefix is digits followed by x ("6x40").
	j := p.i
	for j < len(p.s) && isDigit(p.s[j]) {
		j++
	}
	if j > p.i && j < len(p.s) && (p.s[j] == 'x' || p.s[j] == 'X') {
		a.Rep = p.s[p.i : j+1]
		p.i = j + 1
	}
	if a.Num = p.number(); a.Num == "" {
		return a, fmt.Errorf("expected a number at %q", p.rest())
	}
	if p.peek() == ':' {
		p.i++
		if a.Bott = p.number(); a.Bott == "" {
			return a, fmt.Errorf("expected a number after ':' at %q", p.rest())
		}
	}
	return a, nil
}
