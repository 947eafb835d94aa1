package builtin

import (
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/deeper"
	"github.com/eas-go/eas/transforms/densedeeper"
	"github.com/eas-go/eas/transforms/densewider"
	"github.com/eas-go/eas/transforms/wider"
)

var constructors = map[string]func() sdk.Transform{
	"wider":       wider.New,
	"deeper":      deeper.New,
	"densewider":  densewider.New,
	"densedeeper": densedeeper.New,
}

// Names lists the built-in transforms.
func Names() []string { return []string{"wider", "deeper", "densewider", "densedeeper"} }

// Get returns a new instance of the named transform.
func Get(name string) (sdk.Transform, bool) {
	c, ok := constructors[name]
	if !ok {
		return nil, false
	}
	return c(), true
}

// All returns one instance of each built-in transform.
func All() []sdk.Transform {
	var out []sdk.Transform
	for _, n := range Names() {
		t, _ := Get(n)
		out = append(out, t)
	}
	return out
}
