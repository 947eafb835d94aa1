package docs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A block is a fenced shell block of a guide page marked runnable: ```sh run
// followed by the names of what it needs (see requirements).
type block struct {
	file  string
	line  int // of the opening fence
	needs []string
	src   string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// requirements say why a block cannot run here ("" when it can). A block
// that needs something absent is skipped with that reason, and so is the
// rest of its page, whose later blocks may use its output.
var requirements = map[string]func() string{
	"fashion-mnist": func() string {
		if _, err := os.Stat("/usr/share/datasets/fashion-mnist"); err != nil {
			return "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
		}
		return ""
	},
	"torch": func() string {
		if torchPython() == "" {
			return "python3 with torch is not installed (apt-get install python3-torch)"
		}
		return ""
	},
}

// torchPython is the first python3 that imports torch: the one on PATH, or
// Debian's, which a pyenv shim earlier on PATH may hide.
func torchPython() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import torch").Run() == nil {
			return py
		}
	}
	return ""
}

// fence is an opening or closing code fence and its info string.
var fence = regexp.MustCompile("^\\s*```(.*)$")

// runnableBlocks returns the blocks of a Markdown file marked ```sh run.
func runnableBlocks(path string) ([]block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []block
	var cur *block
	inFence := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fence.FindStringSubmatch(line)
		switch {
		case m != nil && !inFence:
			inFence = true
			info := strings.Fields(m[1])
			if len(info) >= 2 && info[0] == "sh" && info[1] == "run" {
				cur = &block{file: path, line: n, needs: info[2:]}
			}
		case m != nil && inFence:
			inFence = false
			if cur != nil {
				out = append(out, *cur)
				cur = nil
			}
		case cur != nil:
			cur.src += line + "\n"
		}
	}
	if inFence {
		return out, fmt.Errorf("%s: a code fence is not closed", path)
	}
	return out, sc.Err()
}

// TestGuideCommands runs every runnable shell block of docs/guide, page by
// page in order, each page in a fresh folder holding a copy of experiments/,
// with the easrun built from this tree first on PATH.
func TestGuideCommands(t *testing.T) {
	pages, err := filepath.Glob("guide/*.md")
	if err != nil {
		t.Fatal(err)
	}
	byPage := map[string][]block{}
	total := 0
	for _, p := range pages {
		bs, err := runnableBlocks(p)
		if err != nil {
			t.Fatal(err)
		}
		byPage[p], total = bs, total+len(bs)
	}
	if total == 0 {
		t.Fatal("no runnable blocks (```sh run) in docs/guide: the guide's commands go untested")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "easrun"), "github.com/eas-go/eas/cmd/easrun")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building easrun: %v\n%s", err, out)
	}
	// Blocks say python3: make it one that has torch when some python3 here does.
	if py := torchPython(); py != "" && py != "python3" {
		if err := os.Symlink(py, filepath.Join(bin, "python3")); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pages {
		if len(byPage[p]) == 0 {
			continue
		}
		t.Run(filepath.Base(p), func(t *testing.T) { runPage(t, bin, byPage[p]) })
	}
}

func runPage(t *testing.T, bin string, blocks []block) {
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "experiments"), os.DirFS("../experiments")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, b := range blocks {
		for _, need := range b.needs {
			check, ok := requirements[need]
			if !ok {
				t.Fatalf("%s: unknown requirement %q (known: fashion-mnist, torch)", b, need)
			}
			if why := check(); why != "" {
				t.Skipf("%s and the rest of its page: %s", b, why)
			}
			if testing.Short() {
				t.Skipf("%s and the rest of its page: needs %s, skipped with -short", b, need)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", b.src)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: the block failed: %v\n%s\noutput:\n%s", b, err, b.src, tail(string(out), 4000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// TestRunnableBlocksParse: the parser finds marked blocks only, with their
// lines and requirements, and refuses an unclosed fence.
func TestRunnableBlocksParse(t *testing.T) {
	dir := t.TempDir()
	src := "# t\n```sh\nnot run\n```\n\n```sh run torch\neasrun check x\necho y\n```\n```text run\nno\n```\n```sh run\nz\n```\n"
	p := filepath.Join(dir, "p.md")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bs, err := runnableBlocks(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].line != 6 || bs[0].src != "easrun check x\necho y\n" || len(bs[0].needs) != 1 ||
		bs[0].needs[0] != "torch" || bs[1].src != "z\n" || len(bs[1].needs) != 0 {
		t.Fatalf("got %+v", bs)
	}
	if err := os.WriteFile(p, []byte("```sh run\nx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runnableBlocks(p); err == nil {
		t.Fatal("an unclosed fence was accepted")
	}
}
