package diag

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Pos is a place in a source: 1-based line and column (in runes), 0-based byte offset.
type Pos struct {
	File   string
	Line   int
	Col    int
	Offset int
}

func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity of a diagnostic.
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a source.
type Diagnostic struct {
	Pos      Pos
	Len      int // bytes underlined from Pos (at least one caret is drawn)
	Severity Severity
	Msg      string
	Suggest  string // "did you mean X?" candidate, empty if none
}

func (d Diagnostic) Error() string {
	s := fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Msg)
	if d.Suggest != "" {
		s += fmt.Sprintf(" (did you mean %s?)", d.Suggest)
	}
	return s
}

// List is every diagnostic of one source, in source order.
type List []Diagnostic

// HasErrors reports whether any diagnostic is an error (not a warning).
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Err joins the errors (warnings excluded) into one error, or returns nil.
func (l List) Err() error {
	var errs []error
	for _, d := range l {
		if d.Severity == Error {
			errs = append(errs, d)
		}
	}
	return errors.Join(errs...)
}

// PosAt computes the position of byte offset off in src.
func PosAt(file, src string, off int) Pos {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + strings.Count(src[:off], "\n")
	start := strings.LastIndexByte(src[:off], '\n') + 1
	return Pos{File: file, Line: line, Col: 1 + utf8.RuneCountInString(src[start:off]), Offset: off}
}

// Write prints every diagnostic with its source line and a caret under the
// offending range:
//
//	exp.eas:3:8: error: unknown layer "Q" (did you mean P?)
//	  arch = "Q(3) SM(10)"
//	          ^
func Write(w io.Writer, src string, l List) {
	for _, d := range l {
		fmt.Fprintln(w, d.Error())
		line, col := sourceLine(src, d.Pos.Offset)
		if line == "" && d.Pos.Offset >= len(src) && len(src) == 0 {
			continue
		}
		line = strings.ToValidUTF8(line, "?")
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(line, "\t", " "))
		n := d.Len
		if n < 1 {
			n = 1
		}
		if rest := utf8.RuneCountInString(line) - col; n > rest && rest >= 1 {
			n = rest
		}
		fmt.Fprintf(w, "  %s^%s\n", strings.Repeat(" ", col), strings.Repeat("~", n-1))
	}
}

// sourceLine returns the line containing off and the 0-based rune column of off in it.
func sourceLine(src string, off int) (string, int) {
	if off > len(src) {
		off = len(src)
	}
	start := strings.LastIndexByte(src[:off], '\n') + 1
	end := strings.IndexByte(src[off:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += off
	}
	line := src[start:end]
	if len(line) > 200 { // keep huge one-line inputs readable
		from := off - start - 80
		if from < 0 {
			from = 0
		}
		to := from + 160
		if to > len(line) {
			to = len(line)
		}
		for from > 0 && !utf8.RuneStart(line[from]) {
			from--
		}
		return line[from:to], utf8.RuneCountInString(line[from : off-start])
	}
	return line, utf8.RuneCountInString(src[start:off])
}

// DidYouMean returns the candidate closest to word (case-insensitive edit
// distance at most 2, or a case-only difference), or "".
func DidYouMean(word string, candidates []string) string {
	best, bestD := "", 3
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := editDistance(lw, strings.ToLower(c))
		if d < bestD || (d == bestD && best != "" && len(c) < len(best)) {
			best, bestD = c, d
		}
	}
	if bestD > 2 || (bestD >= 1 && len([]rune(word)) == 1) || (bestD == 2 && len(word) <= 2) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
