// Command anyname is a test transform plugin that takes its name and its
// behaviour from its file name, NAME or NAME.MODE: it serves the built-in
// wider under NAME, and with MODE "scale" it also doubles the last layer's
// weights (not function-preserving), with "panic" it panics in Apply, with
// "badshape" it returns one weight of the wrong shape. Its file name is
// what the tests vary; easrun must know it only by what it declares.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/plugins/sdk/serve"
	"github.com/eas-go/eas/transforms/wider"
)

type renamed struct{ name, mode string }

func (r renamed) Describe(ctx context.Context) (sdk.Info, error) {
	i, err := wider.New().Describe(ctx)
	i.Name, i.Version = r.name, "0.0.1-"+r.mode
	return i, err
}

func (r renamed) Actions(ctx context.Context, req sdk.ActionsRequest) (sdk.ActionsResult, error) {
	res, err := wider.New().Actions(ctx, req)
	for i := range res.Actions {
		res.Actions[i].Transform = r.name
	}
	return res, err
}

func (r renamed) Apply(ctx context.Context, req sdk.ApplyRequest, h sdk.Host) (sdk.ApplyResult, error) {
	if r.mode == "panic" {
		panic("anyname panics on purpose")
	}
	req.Action.Transform = "wider"
	res, err := wider.New().Apply(ctx, req, h)
	if err != nil || res.Net.Weights == nil {
		return res, err
	}
	last := ir.Weight(ir.LayerName(len(res.Net.Arch.Layers), ir.PartSM))
	switch r.mode {
	case "scale":
		w := res.Net.Weights[last]
		for i := range w.Data {
			w.Data[i] *= 2
		}
	case "badshape":
		res.Net.Weights[last] = tensor.New(1, 1)
	}
	return res, nil
}

func main() {
	base := filepath.Base(os.Args[0])
	name, mode, _ := strings.Cut(base, ".")
	if err := serve.Serve(serve.Plugins{Transform: renamed{name: name, mode: mode}}); err != nil {
		fmt.Fprintln(os.Stderr, "anyname:", err)
		os.Exit(1)
	}
}
