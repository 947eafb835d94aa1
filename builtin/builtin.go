package builtin

import (
	"context"
	"fmt"
	"sync"

	"github.com/eas-go/eas/controllers/random"
	"github.com/eas-go/eas/controllers/reinforce"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/transforms/deeper"
	"github.com/eas-go/eas/transforms/densedeeper"
	"github.com/eas-go/eas/transforms/densewider"
	"github.com/eas-go/eas/transforms/wider"
)

// The registry: add a built-in here and nowhere else. The order is the order
// of `easrun plugin list` and of the names in messages.
var (
	transforms  = []func() sdk.Transform{wider.New, deeper.New, densewider.New, densedeeper.New}
	controllers = []func() sdk.Controller{reinforce.New, random.New}
)

type entry struct {
	info sdk.Info
	i    int // index into transforms or controllers
}

// index describes every built-in once. A built-in whose Describe fails or
// whose name is taken twice is a programming error that the package's tests
// catch; it panics here rather than run with a hole in the registry.
var index = sync.OnceValue(func() (ix struct{ t, c []entry }) {
	ctx := context.Background()
	seen := map[string]bool{}
	add := func(list *[]entry, i int, d func(context.Context) (sdk.Info, error), kind string) {
		info, err := d(ctx)
		if err != nil || info.Name == "" || info.Kind != kind || seen[info.Name] {
			panic(fmt.Sprintf("builtin: %s %d (%q): Describe gave %+v, %v (empty, duplicate or wrong kind)", kind, i, info.Name, info, err))
		}
		seen[info.Name] = true
		*list = append(*list, entry{info: info, i: i})
	}
	for i, mk := range transforms {
		add(&ix.t, i, mk().Describe, sdk.KindTransform)
	}
	for i, mk := range controllers {
		add(&ix.c, i, mk().Describe, sdk.KindController)
	}
	return ix
})

func names(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.info.Name
	}
	return out
}

func infos(es []entry) []sdk.Info {
	out := make([]sdk.Info, len(es))
	for i, e := range es {
		out[i] = e.info
	}
	return out
}

// TransformNames lists the built-in transforms.
func TransformNames() []string { return names(index().t) }

// ControllerNames lists the built-in controllers.
func ControllerNames() []string { return names(index().c) }

// TransformInfos describes the built-in transforms, in registry order.
func TransformInfos() []sdk.Info { return infos(index().t) }

// ControllerInfos describes the built-in controllers, in registry order.
func ControllerInfos() []sdk.Info { return infos(index().c) }

// Transform returns a new instance of the named built-in transform.
func Transform(name string) (sdk.Transform, bool) {
	for _, e := range index().t {
		if e.info.Name == name {
			return transforms[e.i](), true
		}
	}
	return nil, false
}

// Controller returns a new instance of the named built-in controller.
func Controller(name string) (sdk.Controller, bool) {
	for _, e := range index().c {
		if e.info.Name == name {
			return controllers[e.i](), true
		}
	}
	return nil, false
}
