// Command fakeplugin serves the fake transform and controller for the host tests.
package main

import (
	"github.com/eas-go/eas/plugins/host/internal/fake"
	"github.com/eas-go/eas/plugins/sdk"
)

func main() { sdk.Serve(fake.Transform{}, &fake.Controller{}) }
