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
	var ps []Problem
	add := func(i int, format string, args ...any) {
		ps = append(ps, Problem{Layer: i + 1, Msg: fmt.Sprintf(format, args...)})
	}
	if len(a.Layers) == 0 {
		return []Problem{{Msg: "empty architecture: expected layers ending with SM(n)"}}
	}
	if in.C <= 0 || in.H <= 0 || in.W <= 0 {
		return []Problem{{Msg: fmt.Sprintf("input shape %s must be positive", in)}}
	}
	dense := a.Family() == FamilyDenseNet
	seenFC, seenGAP, seenDB := false, false, false
	lastDB := false
	cur := in
	shapeOK := true
	for i, l := range a.Layers {
		if l.Kind == Softmax && i != len(a.Layers)-1 {
			add(i, "SM must be the last layer")
		}
		if i == len(a.Layers)-1 && l.Kind != Softmax {
			add(i, "the last layer must be SM(n), found %s", l.Kind)
		}
		spatial := l.Kind == Conv || l.Kind == Pool || l.Kind == GAP || l.Kind == DenseBlock || l.Kind == Transition
		if spatial && seenFC {
			add(i, "%s after a fully-connected layer: layers after FC must be FC, DO or SM", l.Kind)
		} else if spatial && seenGAP {
			add(i, "%s after global average pooling: only FC, DO or SM may follow GAP", l.Kind)
		}
		switch l.Kind {
		case Conv:
			if l.Filters <= 0 {
				add(i, "C: number of filters must be positive, got %d", l.Filters)
			}
			if l.Kernel <= 0 || l.Kernel%2 == 0 {
				add(i, "C: kernel size must be a positive odd number (same padding), got %d", l.Kernel)
			}
			if l.Stride <= 0 {
				add(i, "C: stride must be positive, got %d", l.Stride)
			}
			if dense && seenDB {
				add(i, "C after a dense block: in a DenseNet, plain convolutions form the stem before the first DB")
			}
		case Pool:
			if l.Kernel <= 0 || l.Stride <= 0 {
				add(i, "P: kernel and stride must be positive, got %d and %d", l.Kernel, l.Stride)
			}
			if l.Op != Max && l.Op != Avg {
				add(i, "P: pooling must be MAX or AVG")
			}
		case FC:
			if l.Units <= 0 {
				add(i, "FC: number of units must be positive, got %d", l.Units)
			}
		case Softmax:
			if l.Units <= 0 {
				add(i, "SM: number of classes must be positive, got %d", l.Units)
			}
		case Dropout:
			if !(l.Rate >= 0 && l.Rate < 1) {
				add(i, "DO: rate must be in [0, 1), got %s", fmtFloat(l.Rate))
			}
		case GAP:
		case DenseBlock:
			if len(l.Dense) == 0 {
				add(i, "DB: a dense block needs at least one layer")
			}
			for j, d := range l.Dense {
				if d.Growth <= 0 {
					add(i, "DB: layer %d growth rate must be positive, got %d", j+1, d.Growth)
				}
				if d.Bottleneck < 0 {
					add(i, "DB: layer %d bottleneck must be >= 0, got %d", j+1, d.Bottleneck)
				}
			}
		case Transition:
			if !(l.Compression > 0 && l.Compression <= 1) {
				add(i, "T: compression must be in (0, 1], got %s", fmtFloat(l.Compression))
			}
			if l.Filters < 0 {
				add(i, "T: output channels must be positive, got %d", l.Filters)
			}
			if !lastDB {
				add(i, "T: a transition must follow a dense block")
			}
		default:
			add(i, "unknown layer kind %d", int(l.Kind))
		}
		// Shapes, as long as they are still meaningful.
		if shapeOK {
			next, err := layerOut(l, cur)
			if err != "" {
				add(i, "%s", err)
				shapeOK = false
			} else {
				cur = next
			}
		}
		switch l.Kind {
		case FC:
			seenFC = true
		case GAP:
			seenGAP = true
		case DenseBlock:
			seenDB = true
		}
		if l.Kind != Dropout {
			lastDB = l.Kind == DenseBlock
		}
	}
	return ps
}

// layerOut infers one layer's output shape; a non-empty string says why it can't.
func layerOut(l Layer, in Shape) (Shape, string) {
	switch l.Kind {
	case Conv:
		if l.Stride <= 0 || l.Filters <= 0 {
			return in, "bad convolution"
		}
		return Shape{l.Filters, ceilDiv(in.H, l.Stride), ceilDiv(in.W, l.Stride)}, ""
	case Pool:
		if l.Kernel <= 0 || l.Stride <= 0 {
			return in, "bad pooling"
		}
		if in.H < l.Kernel || in.W < l.Kernel {
			return in, fmt.Sprintf("P(%d,%d,%s) on a %dx%d map would shrink it below 1x1", l.Kernel, l.Stride, l.Op, in.H, in.W)
		}
		return Shape{in.C, (in.H-l.Kernel)/l.Stride + 1, (in.W-l.Kernel)/l.Stride + 1}, ""
	case FC, Softmax:
		return Shape{l.Units, 1, 1}, ""
	case Dropout:
		return in, ""
	case GAP:
		return Shape{in.C, 1, 1}, ""
	case DenseBlock:
		c := in.C
		for _, d := range l.Dense {
			c += d.Growth
		}
		return Shape{c, in.H, in.W}, ""
	case Transition:
		c := l.TransitionWidth(in.C)
		if c < 1 {
			return in, fmt.Sprintf("T(%s) leaves no channels", fmtFloat(l.Compression))
		}
		if in.H < 2 || in.W < 2 {
			return in, fmt.Sprintf("T: the transition's 2x2 average pooling on a %dx%d map would shrink it below 1x1", in.H, in.W)
		}
		return Shape{c, in.H / 2, in.W / 2}, ""
	}
	return in, "unknown layer"
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Validate returns all problems joined into one error, or nil.
func (a Arch) Validate(in Shape) error {
	ps := a.Check(in)
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
