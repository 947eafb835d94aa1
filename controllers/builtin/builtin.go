package builtin

import (
	"github.com/eas-go/eas/controllers/random"
	"github.com/eas-go/eas/controllers/reinforce"
	"github.com/eas-go/eas/plugins/sdk"
)

// Names lists the built-in controllers.
func Names() []string { return []string{"reinforce", "random"} }

// Get returns a new instance of the named controller.
func Get(name string) (sdk.Controller, bool) {
	switch name {
	case "reinforce":
		return reinforce.New(), true
	case "random":
		return random.New(), true
	}
	return nil, false
}

// All returns one new instance of each.
func All() []sdk.Controller {
	var out []sdk.Controller
	for _, n := range Names() {
		c, _ := Get(n)
		out = append(out, c)
	}
	return out
}
