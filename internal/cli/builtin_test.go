package cli

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/builtin"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/host"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

// TestEveryBuiltinEverywhere: every built-in of the registry is known to the
// DSL, listed by `plugin list`, served by `__serve` and the plugin host,
// described consistently, driven by the built-in controllers, and documented.
// Adding a built-in to package builtin is all it takes; forgetting a place
// fails here.
func TestEveryBuiltinEverywhere(t *testing.T) {
	tnames, cnames := builtin.TransformNames(), builtin.ControllerNames()
	if len(tnames) < 4 || len(cnames) < 2 {
		t.Fatalf("registry lists transforms %v, controllers %v", tnames, cnames)
	}
	dir := t.TempDir()
	out, errs, code := run(t, "plugin", "list")
	if code != 0 {
		t.Fatalf("plugin list: %d %s", code, errs)
	}
	readme := docsText(t)
	ctx := context.Background()
	o := pluginOptions("", time.Minute, true)
	check := func(kind, name string) {
		t.Run(kind+"/"+name, func(t *testing.T) {
			if !regexp.MustCompile(`(?m)^│ ` + name + ` +│ ` + kind + ` `).MatchString(out) {
				t.Errorf("plugin list lacks %s %s:\n%s", kind, name, out)
			}
			if !regexp.MustCompile(`\b` + name + `\b`).Match(readme) {
				t.Errorf("neither README.md nor docs/ mention %s", name)
			}
			// The DSL knows the name (and still rejects a misspelling).
			ctl, step := "random", "wider"
			if kind == sdk.KindController {
				ctl = name
			} else {
				step = name
			}
			for _, c := range []struct {
				ctl, step string
				ok        bool
			}{{ctl, step, true}, {ctl + "x", step, false}, {ctl, step + "x", false}} {
				f := filepath.Join(dir, fmt.Sprintf("%s-%s.eas", c.ctl, c.step))
				src := fmt.Sprintf("dataset cifar10 { path = \"x\" }\nstart { arch = \"C(16,3,1) SM(10)\" }\nsearch \"s\" { controller = %s steps = [%s] budget = 1 }\n", c.ctl, c.step)
				if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
				_, errs, code := run(t, "check", f)
				if (code == 0) != c.ok {
					t.Errorf("check with controller %s, step %s: code %d: %s", c.ctl, c.step, code, errs)
				}
			}
			// The host serves it (in-process) and its Info names it.
			p, err := host.Builtin(ctx, kind, name, o)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			infos := p.Infos()
			if len(infos) != 1 || infos[0].Name != name || infos[0].Kind != kind {
				t.Errorf("host serves %+v", infos)
			}
			// __serve knows it: started by hand it refuses to serve, not to find it.
			code, _, errs := runMain("__serve", kind, name)
			if code == 0 || !strings.Contains(errs, "not meant to be typed") || strings.Contains(errs, "no built-in") {
				t.Errorf("__serve %s %s: %d %s", kind, name, code, errs)
			}
		})
	}
	for _, n := range tnames {
		check(sdk.KindTransform, n)
	}
	for _, n := range cnames {
		check(sdk.KindController, n)
	}
	// Every built-in controller drives every built-in transform through the
	// encoding given by the transforms' Info.Choice.
	infos := builtin.TransformInfos()
	r := rand.New(rand.NewSource(3))
	for _, cn := range cnames {
		for _, ti := range infos {
			if ti.Choice != sdk.ChooseOne && ti.Choice != sdk.ChooseEach {
				t.Errorf("%s: choice %d", ti.Name, ti.Choice)
			}
			ctl, _ := builtin.Controller(cn)
			tr, _ := builtin.Transform(ti.Name)
			if err := ctl.Configure(ctx, sdk.ControllerConfig{Seed: 1, Space: verify.SmallSpace(), Steps: []string{ti.Name}, Transforms: infos}); err != nil {
				t.Fatal(err)
			}
			fam := ir.FamilyPlain
			if slices.Contains(ti.Families, string(ir.FamilyDenseNet)) && !slices.Contains(ti.Families, string(ir.FamilyPlain)) {
				fam = ir.FamilyDenseNet
			}
			net := sdk.Network{Arch: verify.RandomArch(r, fam, ir.Shape{C: 3, H: 8, W: 8}), Input: ir.Shape{C: 3, H: 8, W: 8}}
			candsRes, err := tr.Actions(ctx, sdk.ActionsRequest{Net: net, Space: verify.SmallSpace()})
			cands := candsRes.Actions
			if err != nil || len(cands) == 0 {
				t.Fatalf("%s on %s: %d actions, %v", ti.Name, net.Arch, len(cands), err)
			}
			propsRes, err := ctl.Propose(ctx, sdk.ProposeRequest{Transform: ti.Name, Nets: []sdk.Network{net}, Candidates: [][]sdk.Action{cands}})
			props := propsRes.Actions
			if err != nil || len(props) != 1 {
				t.Fatalf("%s proposing %s: %v %v", cn, ti.Name, props, err)
			}
			for _, a := range props[0] {
				if !slices.ContainsFunc(cands, a.Equal) {
					t.Errorf("%s proposed %s for %s, not a candidate", cn, a, ti.Name)
				}
			}
			if ti.Choice == sdk.ChooseOne && len(props[0]) != 1 {
				t.Errorf("%s proposed %d actions for one-action %s", cn, len(props[0]), ti.Name)
			}
		}
	}
}

// docsText is README.md and every Markdown page under docs/, where a
// built-in must be documented.
func docsText(t *testing.T) []byte {
	t.Helper()
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir("../../docs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".md") {
			return err
		}
		b, err := os.ReadFile(p)
		text = append(append(text, '\n'), b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return text
}
