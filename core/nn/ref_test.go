package nn

import (
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/refnet"
)

// refForward runs the float64 reference with the engine's own dropout mask.
func refForward(n *Net, g *ir.Graph, p map[string][]float64, x []float64, b int, train bool) [][]float64 {
	act, err := refnet.Forward(g, p, x, b, refnet.Options{Train: train, Keep: func(id, i int) bool {
		return n.layers[id].(*dropoutLayer).keep(i)
	}})
	if err != nil {
		panic(err)
	}
	return act
}
