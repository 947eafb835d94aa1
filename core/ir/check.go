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
	var ps []Problem
	add := func(i int, msg string) { ps = append(ps, Problem{Layer: i + 1, Msg: msg}) }
	g := NewGraph(in)
	b := &Builder{g: g, Dense: a.Family() == FamilyDenseNet}
	place := Place{Dense: b.Dense, seen: map[Kind]bool{}}
	flat := ""      // the message of the last Flat layer seen
	shapeOK := true // shapes are meaningful up to here
	last := len(a.Layers) - 1
	var size budget
	dense := 0 // dense layers so far, over all blocks
	for i, l := range a.Layers {
		k := l.Kind.Info()
		if k == nil {
			add(i, fmt.Sprintf("unknown layer kind %d", int(l.Kind)))
			shapeOK = false
			continue
		}
		if k.Final && i != last {
			add(i, k.Name+" must be the last layer")
		}
		if i == last && !k.Final {
			add(i, fmt.Sprintf("the last layer must be %s(n), found %s", finalName(), k.Name))
		}
		if k.Spatial && flat != "" {
			add(i, k.Name+" "+flat)
		}
		vals := l.CheckValues()
		for _, p := range vals {
			add(i, p.Msg)
		}
		if k.Place != nil {
			if msg := k.Place(place); msg != "" {
				add(i, msg)
			}
		}
		if len(vals) > 0 {
			shapeOK = false
		}
		if dense += len(l.Dense); dense > MaxLayers && dense-len(l.Dense) <= MaxLayers {
			add(i, fmt.Sprintf("the dense blocks have %d layers in all up to here; the limit is %d", dense, MaxLayers))
			shapeOK = false
		}
		if shapeOK && k.Fits != nil {
			if msg := k.Fits(l, g.Nodes[b.Cur].Out); msg != "" {
				add(i, msg)
				shapeOK = false
			}
		}
		if shapeOK {
			b.Layer = i + 1
			from := len(g.Nodes)
			k.Lower(b, l)
			if msg := size.add(g, from); msg != "" {
				add(i, msg)
				shapeOK = false
			}
		}
		if k.Flat != "" {
			flat = k.Flat
		}
		place.seen[l.Kind] = true
		if !k.Inert {
			place.Prev = l.Kind
		}
	}
	return g, ps
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
