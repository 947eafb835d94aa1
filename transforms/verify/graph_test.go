package verify

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
)

// TestRandomGraphsRoundTrip: random graphs print canonically and parse back
// to the same layers (merges, Arms and all), and the generator reaches
// every kind and the full nesting depth.
func TestRandomGraphsRoundTrip(t *testing.T) {
	in := ir.Shape{C: 3, H: 8, W: 8}
	r := rand.New(rand.NewSource(1))
	kinds := map[ir.Kind]bool{}
	deepest := 0
	for c := 0; c < 200; c++ {
		a := RandomGraph(r, in)
		s := a.String()
		b, l := dsl.ValidateArch("g", s, in)
		if err := l.Err(); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !reflect.DeepEqual(a.Layers, b.Layers) || b.String() != s {
			t.Fatalf("%s reparses as %s\n%+v\n%+v", s, b, a.Layers, b.Layers)
		}
		g1, err1 := ir.Lower(a, in)
		g2, err2 := ir.Lower(b, in)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(g1.Nodes, g2.Nodes) {
			t.Fatalf("%s: lowerings differ (%v, %v)", s, err1, err2)
		}
		tr := a.Tree()
		for i, l := range a.Layers {
			kinds[l.Kind] = true
			deepest = max(deepest, tr.Depth(i+1))
		}
	}
	for _, k := range []ir.Kind{ir.Add, ir.Cat, ir.Identity, ir.Conv, ir.Dropout, ir.Pool} {
		if !kinds[k] {
			t.Errorf("no random graph has %s", k)
		}
	}
	if deepest != MaxGraphNesting {
		t.Errorf("deepest layer is %d merges deep, want %d", deepest, MaxGraphNesting)
	}
}
