// Command fakeplugin serves the fake transform and controller for the host tests.
package main

import (
	"fmt"
	"os"

	"github.com/eas-go/eas/plugins/host/internal/fake"
	"github.com/eas-go/eas/plugins/sdk/serve"
)

func main() {
	if err := serve.Serve(serve.Plugins{Transform: fake.Transform{}, Controller: &fake.Controller{}}); err != nil {
		fmt.Fprintln(os.Stderr, "fakeplugin:", err)
		os.Exit(1)
	}
}
