package diag

import (
	"strings"
	"testing"
)

func TestDidYouMean(t *testing.T) {
	cases := []struct{ word, want string }{
		{"MIN", "MAX"}, {"reinforec", "reinforce"}, {"Q", ""}, {"widr", "wider"}, {"zzzzzz", ""}, {"fc", "FC"},
	}
	cands := []string{"MAX", "AVG", "reinforce", "random", "wider", "deeper", "FC", "C", "P"}
	for _, c := range cases {
		if got := DidYouMean(c.word, cands); got != c.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}

func TestWriteCaret(t *testing.T) {
	src := "line one\n  C(16,3)\n"
	l := List{{Pos: PosAt("f", src, 11), Len: 7, Msg: "C takes 3 arguments"}}
	var b strings.Builder
	Write(&b, src, l)
	want := "f:2:3: error: C takes 3 arguments\n    C(16,3)\n    ^~~~~~~\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
	if l.Err() == nil || !l.HasErrors() {
		t.Error("error list reports no error")
	}
}
