// Command hangplugin is a transform plugin whose Actions and Apply never
// answer: `easrun plugin check` must show progress and give up on each
// call at its deadline.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/plugins/sdk/serve"
)

type hang struct{}

func (hang) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "hang", Kind: sdk.KindTransform, Version: "0.0.1", Families: []string{"plain"}, Params: []string{"layer"}}, nil
}

func (hang) Actions(context.Context, sdk.ActionsRequest) (sdk.ActionsResult, error) {
	time.Sleep(time.Hour)
	return sdk.ActionsResult{}, nil
}

func (hang) Apply(context.Context, sdk.ApplyRequest, sdk.Host) (sdk.ApplyResult, error) {
	time.Sleep(time.Hour)
	return sdk.ApplyResult{}, nil
}

func main() {
	if err := serve.Serve(serve.Plugins{Transform: hang{}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
