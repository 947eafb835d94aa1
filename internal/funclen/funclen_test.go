package funclen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// MaxLines is the longest a non-test function may be (from its func line
// to its closing brace).
const MaxLines = 100

// tolerated are functions over MaxLines when this test was written, with
// their length then: they may shrink (then lower or remove the entry) but
// not grow, and no other function may pass MaxLines.
var tolerated = map[string]int{
	"core/checkpoint/checkpoint.go:Parse":                   113,
	"core/data/images.go:LoadImages":                        145,
	"internal/cli/cmd_bench.go:BenchCmd.Run":                135,
	"internal/cli/cmd_eval.go:EvalCmd.Run":                  108,
	"internal/cli/cmd_train.go:TrainCmd.Run":                135,
	"internal/cli/cmd_transform.go:TransformCmd.Run":        126,
	"transforms/densedeeper/densedeeper.go:Transform.Apply": 122,
}

// long lists the module's non-test, non-generated functions over max lines
// as "dir/file.go:Func" -> lines.
func long(t *testing.T, root string, max int) map[string]int {
	out := map[string]int{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, ".pb.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if n > max {
				out[filepath.ToSlash(rel)+":"+name(fn)] = n
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func name(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

func TestNoLongFunctions(t *testing.T) {
	for fn, n := range long(t, "../..", MaxLines) {
		if was, ok := tolerated[fn]; !ok {
			t.Errorf("%s is %d lines; the limit is %d: split it", fn, n, MaxLines)
		} else if n > was {
			t.Errorf("%s grew to %d lines (was %d; the limit is %d): split it", fn, n, was, MaxLines)
		}
	}
}

// TestTheCheckFails: the walk finds long functions (this file's own tests
// are skipped, so look with a low limit).
func TestTheCheckFails(t *testing.T) {
	if got := long(t, "../..", 30); len(got) == 0 {
		t.Fatal("no function over 30 lines found in the module: the walk is broken")
	}
}
