package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/eas-go/eas/dsl"
)

// settingKey finds the keys of the .eas parser's handler tables
// ("epochs": func(s *stmtAST) ...) in package dsl's source.
var settingKey = regexp.MustCompile(`"([a-z_]+)":\s*func\(\w+ \*stmtAST\)`)

// TestEASReferenceNamesEverySetting: docs/reference/eas.md names, in code
// quotes, every setting the .eas parser accepts, so a new setting cannot
// land undocumented.
func TestEASReferenceNamesEverySetting(t *testing.T) {
	srcs, err := filepath.Glob("../dsl/*.go")
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
	ref, err := os.ReadFile("reference/eas.md")
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
		t.Errorf("docs/reference/eas.md does not document these .eas settings: %s", strings.Join(missing, ", "))
	}
}

// TestEASReferenceGrammar: the grammar block of docs/reference/eas.md is
// what the parser prints (dsl.EBNF).
func TestEASReferenceGrammar(t *testing.T) {
	ref, err := os.ReadFile("reference/eas.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "```\n" + dsl.EBNF() + "```\n"; !strings.Contains(string(ref), want) {
		t.Errorf("docs/reference/eas.md lacks the grammar as dsl.EBNF() prints it; replace its grammar block with:\n%s", want)
	}
}
