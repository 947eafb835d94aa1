package verify

import (
	"math/rand"
	"testing"

	"github.com/eas-go/eas/core/ir"
)

func TestRandomArchValid(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	in := ir.Shape{C: 3, H: 8, W: 8}
	for _, f := range []ir.Family{ir.FamilyPlain, ir.FamilyDenseNet} {
		for i := 0; i < 200; i++ {
			a := RandomArch(r, f, in)
			if err := a.Validate(in); err != nil || a.Family() != f {
				t.Fatalf("%s: %v (family %s)", a, err, a.Family())
			}
		}
	}
}
