package ir

import (
	"fmt"
	"strconv"
)

// Arg is one written argument of a layer as the dsl's parser splits it:
// [-][Rep]Num[:Bott] ("6x40:160", "-2", "0.5") or a Word ("MAX"). ir owns
// what arguments mean (the kind table); dsl owns the grammar and positions.
type Arg struct {
	Word string // an identifier argument; empty for numbers
	Neg  bool   // a leading minus
	Rep  string // repeat prefix as written ("6x"); empty when absent
	Num  string // the number as written
	Bott string // the number after ':'; empty when absent
}

// Text is the argument as written, for messages.
func (a Arg) Text() string {
	if a.Word != "" {
		return a.Word
	}
	s := ""
	if a.Neg {
		s = "-"
	}
	s += a.Rep + a.Num
	if a.Bott != "" {
		s += ":" + a.Bott
	}
	return s
}

// ArgProblem is one thing wrong with a layer's values: Arg is the 0-based
// written argument it concerns, or -1 for the whole layer. Len, when set, is
// how many bytes from the argument's start to underline (0: the whole
// argument). Choices are the valid words, for a did-you-mean.
type ArgProblem struct {
	Arg     int
	Len     int
	Msg     string
	Choices []string
}

// argReader converts written arguments to values, recording a problem and
// returning 0 for an argument of the wrong type.
type argReader struct {
	kind  string
	args  []Arg
	probs []ArgProblem
}

func (r *argReader) fail(i, n int, format string, a ...any) {
	r.probs = append(r.probs, ArgProblem{Arg: i, Len: n, Msg: r.kind + ": " + fmt.Sprintf(format, a...)})
}

// int reads a plain integer.
func (r *argReader) int(i int, what string) int {
	a := r.args[i]
	if a.Word != "" || a.Num == "" {
		r.fail(i, 1, "%s must be an integer, got %q", what, a.Text())
		return 0
	}
	if a.Rep != "" || a.Bott != "" {
		r.fail(i, 1, "%s must be a plain integer, got %q", what, a.Text())
		return 0
	}
	v, err := strconv.Atoi(a.Num)
	if err != nil {
		r.fail(i, len(a.Num), "%s must be an integer, got %s", what, a.Num)
		return 0
	}
	if a.Neg {
		v = -v
	}
	return v
}

// float reads a plain number.
func (r *argReader) float(i int, what string) float64 {
	a := r.args[i]
	if a.Word != "" || a.Num == "" || a.Rep != "" || a.Bott != "" {
		r.fail(i, 1, "%s must be a number, got %q", what, a.Text())
		return 0
	}
	v, err := strconv.ParseFloat(a.Num, 64)
	if err != nil {
		r.fail(i, len(a.Num), "%s must be a number, got %s", what, a.Num)
		return 0
	}
	if a.Neg {
		v = -v
	}
	return v
}

// FromArgs builds a layer of the kind spelled name from its written
// arguments. Problems cover unknown names, arity, argument types and values
// (the kind's own Check); where the layer stands and what it does to shapes
// is Arch.Check's job. ok is false when name is not a layer kind.
func FromArgs(name string, args []Arg) (l Layer, probs []ArgProblem, ok bool) {
	k := LookupKind(name)
	if k == nil {
		return Layer{}, nil, false
	}
	if len(args) < k.MinArgs && k.TooFew != "" {
		return Layer{}, []ArgProblem{{Arg: -1, Msg: k.TooFew}}, true
	}
	if len(args) < k.MinArgs || (k.MaxArgs >= 0 && len(args) > k.MaxArgs) {
		want := k.MinArgs // "T takes 1 argument, got 3: write T(compression) or T(compression,channels)"
		return Layer{}, []ArgProblem{{Arg: -1, Msg: fmt.Sprintf("%s takes %d argument%s, got %d: write %s",
			k.Name, want, plural(want), len(args), k.Usage)}}, true
	}
	r := &argReader{kind: k.Name, args: args}
	l = Layer{Kind: k.Kind}
	if k.FromArgs != nil {
		k.FromArgs(r, &l)
	}
	// Value problems of arguments that did read; a failed one reads as 0,
	// which would only repeat its problem (and so would a problem of the
	// whole layer).
	bad := map[int]bool{}
	for _, p := range r.probs {
		bad[p.Arg], bad[-1] = true, true
	}
	for _, p := range l.CheckValues() {
		if !bad[p.Arg] && p.Arg < len(args) {
			r.probs = append(r.probs, p)
		}
	}
	return l, r.probs, true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
