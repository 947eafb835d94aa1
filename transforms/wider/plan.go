package wider

import (
	"fmt"
	"slices"

	"github.com/eas-go/eas/core/ir"
)

// A plan follows the widened channels through the network. Every tensor
// that carries them gets a remap: unit j of the new tensor is old unit
// remap[j]. A chain has one such tensor per pass-through layer up to the
// next weight layer; in a graph the channels also reach a merge's
// branches (each reads the merge's input), an ADD (whose other branches
// must then give the same remap: they widen together) and a CAT (whose
// output holds them at an offset: its consumers see shifted channels).
type plan struct {
	a     ir.Arch
	g     *ir.Graph
	t     ir.Tree
	remap map[int][]int // layer number -> remap of its output (0: the input)
	fixed map[int]bool  // remaps a layer must produce (not derived from its inputs)
	widen []int         // layers whose units are copied by their remap, the widened one first
	queue []int
}

func newPlan(a ir.Arch, g *ir.Graph, li int, remap []int) (*plan, error) {
	p := &plan{a: a, g: g, t: a.Tree(), remap: map[int][]int{}, fixed: map[int]bool{}}
	if err := p.require(li, remap); err != nil {
		return nil, err
	}
	for len(p.queue) > 0 {
		v := p.queue[0]
		p.queue = p.queue[1:]
		for _, r := range p.t.Readers(v) {
			if err := p.read(v, r); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// width is the channels (or units) of layer v's output before widening.
func (p *plan) width(v int) int { return p.g.Nodes[p.g.LayerOut(v)].Out.C }

func (p *plan) describe(v int) string {
	return fmt.Sprintf("layer %d (%s)", v, p.a.Layers[v-1])
}

// set gives v's output remap r; a remap a layer must produce cannot change.
func (p *plan) set(v int, r []int, fixed bool) error {
	if old, ok := p.remap[v]; ok {
		if slices.Equal(old, r) {
			p.fixed[v] = p.fixed[v] || fixed
			return nil
		}
		if p.fixed[v] {
			return fmt.Errorf("%s would have to widen in two ways: not supported by wider", p.describe(v))
		}
	}
	p.remap[v], p.fixed[v] = r, p.fixed[v] || fixed
	p.queue = append(p.queue, v)
	return nil
}

// require makes layer v produce its output remapped by r: a widenable layer
// copies its units, a pass-through layer or ID needs its input remapped,
// an ADD needs all its branches remapped.
func (p *plan) require(v int, r []int) error {
	if v == 0 {
		return fmt.Errorf("the widened channels reach the network's input through identities: not supported by wider")
	}
	if old, ok := p.remap[v]; ok && slices.Equal(old, r) {
		return nil
	}
	l := p.a.Layers[v-1]
	k := l.Kind.Info()
	switch {
	case k.Width != nil:
		if err := p.set(v, r, true); err != nil {
			return err
		}
		p.widen = append(p.widen, v)
		return nil
	case l.Kind == ir.Add:
		if err := p.set(v, r, true); err != nil {
			return err
		}
		for _, br := range p.t.Branches(v) {
			if err := p.require(br[len(br)-1], r); err != nil {
				return err
			}
		}
		return nil
	case k.PassThrough && !l.IsMerge():
		if err := p.set(v, r, true); err != nil {
			return err
		}
		return p.require(p.t.Input(v), r)
	}
	return fmt.Errorf("%s would have to widen with the layer: not supported by wider", p.describe(v))
}

// read handles layer r reading v's remapped output.
func (p *plan) read(v, r int) error {
	l := p.a.Layers[r-1]
	k := l.Kind.Info()
	switch {
	case l.Kind == ir.Add: // v ends a branch: the sum and the other branches follow
		return p.require(r, p.remap[v])
	case l.Kind == ir.Cat:
		return p.set(r, p.catRemap(r), false)
	case k.PassThrough:
		return p.set(r, p.remap[v], false)
	}
	if _, ok := p.g.InputWeight(r); ok {
		return nil // its input weights are split in apply
	}
	return fmt.Errorf("layer %d (%s) after the widened layer is not supported by wider", r, l)
}

// catRemap is CAT m's output remap: its branches' remaps (identity for the
// others), each shifted to the branch's old channel offset.
func (p *plan) catRemap(m int) []int {
	var out []int
	off := 0
	for _, br := range p.t.Branches(m) {
		end := br[len(br)-1]
		w := p.width(end)
		if r, ok := p.remap[end]; ok {
			for _, s := range r {
				out = append(out, off+s)
			}
		} else {
			for s := 0; s < w; s++ {
				out = append(out, off+s)
			}
		}
		off += w
	}
	return out
}

// readers are the layers whose input weights read a remapped tensor, with
// that tensor's remap and old width.
func (p *plan) readers() []int {
	var out []int
	for x := 1; x <= len(p.a.Layers); x++ {
		if p.a.Layers[x-1].IsMerge() {
			continue
		}
		if _, ok := p.remap[p.t.Input(x)]; !ok {
			continue
		}
		if _, ok := p.g.InputWeight(x); ok {
			out = append(out, x)
		}
	}
	return out
}

// fits reports whether every layer that widens along stays within its
// width list's maximum (the widened layer's own step is checked by the
// caller).
func (p *plan) fits(s ir.Space) bool {
	for _, x := range p.widen[1:] {
		l := p.a.Layers[x-1]
		wd := l.Kind.Width()
		if list := wd.Space(s); len(list) > 0 && len(p.remap[x]) > slices.Max(list) {
			return false
		}
	}
	return true
}
