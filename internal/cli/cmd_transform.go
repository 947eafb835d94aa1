package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"regexp"
	"strconv"
	"strings"

	"github.com/eas-go/eas/builtin"
	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/pipeline"
	"github.com/eas-go/eas/core/refnet"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/dsl/diag"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/verify"
)

// TransformCmd applies transforms to a network and measures preservation.
type TransformCmd struct {
	Arch    string  `help:"Architecture string (or take it from --weights)."`
	Input   string  `help:"Input image size HxWxC (default 32x32x3; with --weights, the checkpoint's)."`
	Weights string  `help:"Checkpoint (safetensors) to transform; random trained-looking weights when absent."`
	Apply   string  `required:"" help:"Actions, e.g. \"wider(layer=3, to=64); deeper(after=2, kernel=3)\"."`
	Noise   float64 `default:"0" help:"Noise on new units (0 = exact copies, -1 = the transforms' defaults)."`
	Seed    int64   `default:"1" help:"Seed for remaps, noise and random inputs."`
	Verify  bool    `help:"Measure the largest relative difference of the logits on random inputs (float64 reference)."`
	JSON    bool    `name:"json" help:"Print one JSON object."`
	Save    string  `help:"Write the transformed network to this safetensors file."`
}

var actionRe = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\(([^()]*)\)\s*$`)

// ParseActions reads "name(k=v, ...); name(...)".
func ParseActions(s string) ([]sdk.Action, error) {
	var out []sdk.Action
	for i, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		m := actionRe.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("action %d %q: write name(key=value, ...), e.g. wider(layer=3, to=64)", i+1, strings.TrimSpace(part))
		}
		a := sdk.Action{Transform: m[1], Args: map[string]int{}}
		for _, kv := range strings.Split(m[2], ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if !ok || err != nil {
				return nil, fmt.Errorf("action %d %q: argument %q must be key=integer", i+1, strings.TrimSpace(part), strings.TrimSpace(kv))
			}
			a.Args[strings.TrimSpace(k)] = n
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--apply names no action")
	}
	return out, nil
}

type transformReport struct {
	OldArch    string   `json:"old_arch"`
	NewArch    string   `json:"new_arch"`
	OldParams  int64    `json:"old_params"`
	NewParams  int64    `json:"new_params"`
	Records    []string `json:"records"`
	MaxRelDiff *float64 `json:"max_rel_diff,omitempty"`
}

// Run applies the actions in order.
func (c *TransformCmd) Run(g *Globals) error {
	in := ir.Shape{C: 3, H: 32, W: 32}
	if c.Input != "" {
		s, err := ir.ParseShape(c.Input)
		if err != nil {
			return err
		}
		in = s
	}
	acts, err := ParseActions(c.Apply)
	if err != nil {
		return err
	}
	var net sdk.Network
	meta := map[string]string{"transforms": c.Apply}
	if c.Weights != "" {
		ck, err := checkpoint.Load(c.Weights)
		if err != nil {
			return err
		}
		a, l := dsl.ParseArch(c.Weights, ck.ArchString)
		if err := l.Err(); err != nil {
			return err
		}
		// The checkpoint decides both; a flag that says otherwise is a
		// mistake to point out, not to ignore.
		if c.Arch != "" {
			given, l := dsl.ParseArch("--arch", c.Arch)
			if l.HasErrors() {
				diag.Write(g.Stderr, c.Arch, l)
				return Exit(1)
			}
			if !given.Equal(a) {
				return fmt.Errorf("--arch %s differs from the architecture of %s, %s: leave --arch out (the checkpoint's is used)", given, c.Weights, a)
			}
		}
		if c.Input != "" && in != ck.Input {
			return fmt.Errorf("--input %s differs from the input of %s, %s: leave --input out (the checkpoint's is used)", shapeHWC(in), c.Weights, shapeHWC(ck.Input))
		}
		net = sdk.Network{Arch: a, Input: ck.Input, Weights: ck.Weights()}
		meta = pipeline.WithMeta(dataMetaOf(ck.Meta), meta) // the child sees inputs normalised as its parent did
	} else {
		if c.Arch == "" {
			return fmt.Errorf("give --arch or --weights")
		}
		a, l := dsl.ValidateArch("--arch", c.Arch, in)
		if l.HasErrors() {
			diag.Write(g.Stderr, c.Arch, l)
			return Exit(1)
		}
		gr, err := ir.Lower(a, in)
		if err != nil {
			return fmt.Errorf("--arch: %w", err)
		}
		net = sdk.Network{Arch: a, Input: in, Weights: verify.RandomParams(gr, rand.New(rand.NewSource(c.Seed)))}
	}
	g0, err := ir.Lower(net.Arch, net.Input)
	if err != nil {
		return err
	}
	if err := (&checkpoint.Checkpoint{Params: net.Weights}).Verify(g0); err != nil {
		return err
	}
	rep := transformReport{OldArch: net.Arch.String()}
	rep.OldParams, _ = g0.Cost()
	host := verify.Host{Shape: net.Input, Seed: c.Seed}
	ctx := context.Background()
	start := net
	for i, a := range acts {
		t, ok := builtin.Transform(a.Transform)
		if !ok {
			return fmt.Errorf("action %d: unknown transform %q (built-ins: %s)%s", i+1, a.Transform, strings.Join(builtin.TransformNames(), ", "),
				suggest(a.Transform, builtin.TransformNames()))
		}
		a.Transform = strings.ToLower(a.Transform)
		res, err := t.Apply(ctx, sdk.ApplyRequest{Net: net, Action: a, Space: ir.PaperSpace(), Seed: c.Seed + int64(i), Noise: c.Noise}, host)
		if err != nil {
			return fmt.Errorf("action %d %s: %w", i+1, a, err)
		}
		net = res.Net
		rep.Records = append(rep.Records, res.Record)
	}
	g1, err := ir.Lower(net.Arch, net.Input)
	if err != nil {
		return err
	}
	rep.NewArch = net.Arch.String()
	rep.NewParams, _ = g1.Cost()
	if c.Verify {
		x, err := verify.Host{Shape: net.Input, Seed: c.Seed + 1000}.Batch(ctx, 8)
		if err != nil {
			return err
		}
		b, err := refnet.Logits(g0, start.Weights, x, refnet.Options{})
		if err != nil {
			return err
		}
		e, err := refnet.Logits(g1, net.Weights, x, refnet.Options{})
		if err != nil {
			return err
		}
		d := tensor.MaxRelDiff(f32s(b), f32s(e))
		rep.MaxRelDiff = &d
	}
	if c.Save != "" {
		if err := checkpoint.Save(c.Save, net.Arch, net.Input, net.Weights, meta); err != nil {
			return err
		}
	}
	if c.JSON {
		return json.NewEncoder(g.Stdout).Encode(rep)
	}
	w := g.Stdout
	fmt.Fprintf(w, "before  %s (%s params)\n", rep.OldArch, commas(rep.OldParams))
	for _, r := range rep.Records {
		fmt.Fprintf(w, "  %s\n", r)
	}
	fmt.Fprintf(w, "after   %s (%s params)\n", rep.NewArch, commas(rep.NewParams))
	if rep.MaxRelDiff != nil {
		fmt.Fprintf(w, "max relative output difference %.3g (on 8 random inputs, evaluation mode)\n", *rep.MaxRelDiff)
	}
	if c.Save != "" {
		fmt.Fprintf(w, "saved %s\n", c.Save)
	}
	return nil
}

func f32s(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

func suggest(word string, cands []string) string {
	if s := diag.DidYouMean(word, cands); s != "" {
		return fmt.Sprintf("; did you mean %s?", s)
	}
	return ""
}
