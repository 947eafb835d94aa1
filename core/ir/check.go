package ir

import (
	"errors"
	"fmt"
	"strings"
)

// Shape is the per-example shape of a tensor, channels first. Vectors (FC
// outputs, logits) have H = W = 1.
type Shape struct{ C, H, W int }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// Size is C*H*W.
func (s Shape) Size() int { return s.C * s.H * s.W }

// Problem is one thing wrong with an architecture, tied to a 1-based layer
// number (0 when it concerns the whole network). The dsl package maps the
// layer number back to a source position.
type Problem struct {
	Layer int
	Msg   string
}

func (p Problem) Error() string {
	if p.Layer == 0 {
		return p.Msg
	}
	return fmt.Sprintf("layer %d: %s", p.Layer, p.Msg)
}

// Check lists every problem of a against input shape in, in layer order.
// An empty list means Lower will succeed.
func (a Arch) Check(in Shape) []Problem {
	_, ps := build(a, in)
	return ps
}

// build checks a and lowers it in the same pass, one layer at a time, so
// that each layer is checked against the shape its predecessors produce.
// The graph is complete only when there are no problems. Everything
// kind-specific comes from the kind table; the rules here are about order.
func build(a Arch, in Shape) (*Graph, []Problem) {
	if len(a.Layers) == 0 {
		return nil, []Problem{{Msg: "empty architecture: expected layers ending with SM(n)"}}
	}
	if in.C <= 0 || in.H <= 0 || in.W <= 0 {
		return nil, []Problem{{Msg: fmt.Sprintf("input shape %s must be positive", in)}}
	}
	if in.C > MaxWidth || in.H > MaxInputSide || in.W > MaxInputSide {
		return nil, []Problem{{Msg: fmt.Sprintf("input shape %dx%dx%d is too large: at most %d channels and %d pixels a side",
			in.H, in.W, in.C, MaxWidth, MaxInputSide)}}
	}
	if len(a.Layers) > MaxLayers {
		// Point at the first layer past the limit and look no further.
		return nil, []Problem{{Layer: MaxLayers + 1, Msg: fmt.Sprintf("the architecture has %d layers; the limit is %d", len(a.Layers), MaxLayers)}}
	}
	if ps := a.structure(); len(ps) > 0 {
		return nil, ps
	}
	g := NewGraph(in)
	c := &checker{a: a, g: g, b: &Builder{g: g, Dense: a.Family() == FamilyDenseNet}, shapeOK: true}
	c.place = Place{Dense: c.b.Dense, seen: map[Kind]bool{}}
	c.seq(0, len(a.Layers), 0)
	return g, c.ps
}

// checker is the state of one build pass.
type checker struct {
	a       Arch
	g       *Graph
	b       *Builder
	ps      []Problem
	place   Place
	flat    string // the message of the last Flat layer seen
	shapeOK bool   // shapes are meaningful up to here
	size    budget
	dense   int // dense layers so far, over all blocks
}

func (c *checker) add(i int, msg string) { c.ps = append(c.ps, Problem{Layer: i + 1, Msg: msg}) }

// seq checks and lowers the layers [lo, hi) of one sequence (the network,
// or a branch depth merges deep).
func (c *checker) seq(lo, hi, depth int) {
	for i := lo; i < hi; i += c.a.span(i) {
		c.layer(i, lo, hi, depth)
	}
}

func (c *checker) layer(i, lo, hi, depth int) {
	l := c.a.Layers[i]
	k := l.Kind.Info()
	if k == nil {
		c.add(i, fmt.Sprintf("unknown layer kind %d", int(l.Kind)))
		c.shapeOK = false
		return
	}
	last := depth == 0 && i+c.a.span(i) == len(c.a.Layers)
	if k.Final && !last {
		c.add(i, k.Name+" must be the last layer")
	}
	if last && !k.Final {
		c.add(i, fmt.Sprintf("the last layer must be %s(n), found %s", finalName(), k.Name))
	}
	if k.Spatial && c.flat != "" {
		c.add(i, k.Name+" "+c.flat)
	}
	if msg := c.where(i, lo, hi, depth, k); msg != "" {
		c.add(i, msg)
		c.shapeOK = false
	}
	vals := l.CheckValues()
	for _, p := range vals {
		c.add(i, p.Msg)
	}
	if k.Place != nil {
		if msg := k.Place(c.place); msg != "" {
			c.add(i, msg)
		}
	}
	if len(vals) > 0 {
		c.shapeOK = false
	}
	if c.dense += len(l.Dense); c.dense > MaxLayers && c.dense-len(l.Dense) <= MaxLayers {
		c.add(i, fmt.Sprintf("the dense blocks have %d layers in all up to here; the limit is %d", c.dense, MaxLayers))
		c.shapeOK = false
	}
	if c.shapeOK && k.Fits != nil {
		if msg := k.Fits(l, c.g.Nodes[c.b.Cur].Out); msg != "" {
			c.add(i, msg)
			c.shapeOK = false
		}
	}
	if k.Join != nil {
		c.merge(i, depth, k)
	} else if c.shapeOK {
		c.lower(i, k)
	}
	if k.Flat != "" {
		c.flat = k.Flat
	}
	c.place.seen[l.Kind] = true
	if !k.Inert {
		c.place.Prev = l.Kind
	}
}

// where checks the rules of graphs: which kinds may stand in a branch, and
// that ID is a branch of its own.
func (c *checker) where(i, lo, hi, depth int, k *KindInfo) string {
	switch {
	case depth > 0 && !k.InBranch:
		return k.Name + " cannot stand in a branch of ADD or CAT: branches hold convolutions, pooling, dropout, ID and merges"
	case k.Kind == Identity && depth == 0:
		return "ID stands only as a branch of its own in ADD or CAT: write ADD(C(16,3,1) | ID)"
	case k.Kind == Identity && (lo != i || hi != i+1):
		return "ID must be a branch of its own: write ID alone between | and | (the identity)"
	}
	return ""
}

// lower appends layer i's nodes and counts them against the limits.
func (c *checker) lower(i int, k *KindInfo) {
	c.b.Layer, c.b.Sub = i+1, 0
	from := len(c.g.Nodes)
	k.Lower(c.b, c.a.Layers[i])
	if msg := c.size.add(c.g, from); msg != "" {
		c.add(i, msg)
		c.shapeOK = false
	}
}

// merge checks and lowers merge i's branches, each from the merge's input,
// then the merge of their outputs.
func (c *checker) merge(i, depth int, k *KindInfo) {
	in, flat := c.b.Cur, c.flat
	var outs []int
	for _, br := range c.a.branches(i) {
		c.b.Cur, c.flat = in, flat
		c.seq(br[0], br[1], depth+1)
		outs = append(outs, c.b.Cur)
	}
	if !c.shapeOK {
		return
	}
	for j := 1; j < len(outs); j++ {
		s0, sj := c.g.Nodes[outs[0]].Out, c.g.Nodes[outs[j]].Out
		if !k.Join(s0, sj) {
			brs := c.a.branches(i)
			c.add(i, fmt.Sprintf("%s: branch 1 (%s) gives %s but branch %d (%s) gives %s: %s", k.Name,
				c.a.seqString(brs[0]), s0, j+1, c.a.seqString(brs[j]), sj, k.JoinRule))
			c.shapeOK = false
			return
		}
	}
	c.b.Outs = outs
	c.lower(i, k)
	c.b.Outs = nil
}

// finalName is the spelling of the kind that must end a network.
func finalName() string {
	for _, k := range kinds {
		if k.Final {
			return k.Name
		}
	}
	return "SM"
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Validate returns all problems joined into one error, or nil.
func (a Arch) Validate(in Shape) error { return joinProblems(a.Check(in)) }

func joinProblems(ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// ParseShape reads "32x32x3" (H x W x C, as users write image sizes) into a Shape.
func ParseShape(s string) (Shape, error) {
	var h, w, c int
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "x")
	if len(parts) != 3 {
		return Shape{}, fmt.Errorf("input shape %q: want HxWxC, e.g. 32x32x3", s)
	}
	for i, p := range parts {
		var v int
		if _, err := fmt.Sscanf(p, "%d", &v); err != nil || v <= 0 || fmt.Sprint(v) != p {
			return Shape{}, fmt.Errorf("input shape %q: %q is not a positive integer", s, p)
		}
		switch i {
		case 0:
			h = v
		case 1:
			w = v
		case 2:
			c = v
		}
	}
	return Shape{C: c, H: h, W: w}, nil
}

// TransitionWidth is a transition's output channels for in input channels.
func (l Layer) TransitionWidth(in int) int {
	if l.Filters > 0 {
		return l.Filters
	}
	return int(float64(in) * l.Compression)
}
