package docs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// markdownFiles are the pages whose links are checked: README.md and every
// .md under docs/ (testdata aside). Paths are relative to this folder.
func markdownFiles(t *testing.T) []string {
	files := []string{"../README.md"}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	link     = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	heading  = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	codeSpan = regexp.MustCompile("`[^`]*`")
)

// prose returns a file's lines outside code fences, with inline code
// removed, keyed by line number (links in code are examples, not links).
func prose(src string) map[int]string {
	out := map[int]string{}
	in := false
	for i, line := range strings.Split(src, "\n") {
		if fence.MatchString(line) {
			in = !in
			continue
		}
		if !in {
			out[i+1] = codeSpan.ReplaceAllString(line, "")
		}
	}
	return out
}

// slug is a heading's anchor as GitHub and most Markdown hosts make it:
// lower case, punctuation dropped, spaces to hyphens.
func slug(h string) string {
	h = codeSpan.ReplaceAllStringFunc(h, func(s string) string { return strings.Trim(s, "`") })
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// anchors lists the heading anchors of a Markdown source, numbering repeats
// (x, x-1, x-2) as GitHub does.
func anchors(src string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	in := false
	for _, line := range strings.Split(src, "\n") {
		if fence.MatchString(line) {
			in = !in
			continue
		}
		m := heading.FindStringSubmatch(line)
		if in || m == nil {
			continue
		}
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// checkLinks returns one message per broken relative link of file: a
// missing target, a target outside the repository, or a missing anchor.
func checkLinks(file, src string) []string {
	var bad []string
	root, _ := filepath.Abs("..")
	for n, line := range prose(src) {
		for _, m := range link.FindAllStringSubmatch(line, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			where := fmt.Sprintf("%s:%d: link %q", file, n, target)
			full := file
			if path != "" {
				full = filepath.Join(filepath.Dir(file), path)
			}
			abs, _ := filepath.Abs(full)
			if abs != root && !strings.HasPrefix(abs, root+string(filepath.Separator)) {
				bad = append(bad, where+": points outside the repository")
				continue
			}
			b, err := []byte(src), error(nil)
			if path != "" {
				b, err = os.ReadFile(full)
			}
			if err != nil {
				if st, e := os.Stat(full); e == nil && st.IsDir() {
					continue // a folder: hosts list it
				}
				bad = append(bad, where+": no such file")
				continue
			}
			if anchor != "" && strings.HasSuffix(full, ".md") && !anchors(string(b))[anchor] {
				bad = append(bad, fmt.Sprintf("%s: %s has no heading with anchor #%s", where, full, anchor))
			}
		}
	}
	return bad
}

// TestLinks: every relative link and anchor between the pages resolves.
func TestLinks(t *testing.T) {
	files := markdownFiles(t)
	if len(files) < 10 {
		t.Fatalf("only %d Markdown files found: %v", len(files), files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range checkLinks(f, string(b)) {
			t.Error(msg)
		}
	}
}

// TestCheckLinksCatches: the checker reports a missing file, a missing
// anchor and a link out of the repository, and ignores links in code.
func TestCheckLinksCatches(t *testing.T) {
	src := "# Top\n## Two words `x`\n[a](guide/README.md) [b](#top) [c](#two-words-x) [web](https://x.org/y)\n" +
		"[d](nothere.md) [e](#nothere) [f](../../../etc/passwd)\n`[g](nothere2.md)`\n```\n[h](nothere3.md)\n```\n"
	got := strings.Join(checkLinks("self.md", src), "\n")
	for _, want := range []string{`"nothere.md": no such file`, `#nothere`, `"../../../etc/passwd": points outside`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, not := range []string{"guide/README.md", "#top", "#two-words-x", "x.org", "nothere2", "nothere3"} {
		if strings.Contains(got, not) {
			t.Errorf("wrongly reported %q:\n%s", not, got)
		}
	}
}

// unescapedPipe is a '|' not preceded by a backslash.
var unescapedPipe = regexp.MustCompile(`(^|[^\\])\|`)

// TestTablesKeepTheirCells: no table row of the pages breaks apart at a '|'
// inside inline code (write \| or reword).
func TestTablesKeepTheirCells(t *testing.T) {
	for _, f := range markdownFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range prose(string(b)) {
			if strings.HasPrefix(strings.TrimSpace(line), "|") {
				// prose() dropped inline code; look at the raw line
				raw := strings.Split(string(b), "\n")[n-1]
				for _, code := range codeSpan.FindAllString(raw, -1) {
					if unescapedPipe.MatchString(code) {
						t.Errorf("%s:%d: table cell code %s holds a '|' that splits the cell; write \\| or reword", f, n, code)
					}
				}
			}
		}
	}
}
