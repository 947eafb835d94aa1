package dsl

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/eas-go/eas/internal/golden"
)

// settingKey finds the keys of the .eas parser's handler tables
// ("epochs": func(s *stmtAST) ... or "search": p.search) in this package's
// source.
var settingKey = regexp.MustCompile(`"([a-z_]+)":\s*(?:func\(\w+ \*stmtAST\)|\w+\.[a-zA-Z]\w*\s*[,}\n])`)

// TestEASReferenceNamesEverySetting: docs/reference/eas.md names, in code
// quotes, every setting the .eas parser accepts, so a new setting cannot
// land undocumented.
func TestEASReferenceNamesEverySetting(t *testing.T) {
	srcs, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, p := range srcs {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range settingKey.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = true
		}
	}
	if len(keys) < 30 {
		t.Fatalf("found only %d setting keys in dsl/*.go (%v): the parser's tables changed shape; update settingKey", len(keys), keys)
	}
	ref, err := os.ReadFile("../docs/reference/eas.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for k := range keys {
		if !strings.Contains(string(ref), "`"+k+"`") {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/reference/eas.md does not document these .eas settings (add each, in code quotes, with its meaning, default and limits): %s", strings.Join(missing, ", "))
	}
}

// TestEASReferenceGrammar: the first code block after "## Grammar" in
// docs/reference/eas.md is what the parser prints (EBNF); -update rewrites it.
func TestEASReferenceGrammar(t *testing.T) {
	const path = "../docs/reference/eas.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ref := string(b)
	h := strings.Index(ref, "\n## Grammar\n")
	start := strings.Index(ref[max(h, 0):], "\n```\n")
	if h < 0 || start < 0 {
		t.Fatalf("%s has no code block under a \"## Grammar\" heading", path)
	}
	start += h + len("\n```\n")
	end := strings.Index(ref[start:], "```\n")
	if end < 0 {
		t.Fatalf("%s: the grammar block is not closed", path)
	}
	got := ref[start : start+end]
	if got == EBNF() {
		return
	}
	if golden.Update() {
		if err := os.WriteFile(path, []byte(ref[:start]+EBNF()+ref[start+end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the grammar block of %s differs from EBNF(); run go test ./dsl -run TestEASReferenceGrammar -update and review the diff. EBNF():\n%s", path, EBNF())
}
