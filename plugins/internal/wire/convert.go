package wire

import (
	"fmt"
	"math"

	"github.com/eas-go/eas/core/ir"
)

// MaxDim bounds each received dimension or count so that a malformed message
// cannot make the receiver allocate absurd amounts.
const MaxDim = 1 << 30

// ArchToProto converts an architecture.
func ArchToProto(a ir.Arch) *Arch {
	out := &Arch{Layers: make([]*Layer, len(a.Layers))}
	for i, l := range a.Layers {
		pl := &Layer{Kind: int32(l.Kind), Filters: int64(l.Filters), Kernel: int64(l.Kernel),
			Stride: int64(l.Stride), Op: int32(l.Op), Units: int64(l.Units), Rate: l.Rate, Compression: l.Compression}
		for _, d := range l.Dense {
			pl.Dense = append(pl.Dense, &DenseLayer{Growth: int64(d.Growth), Bottleneck: int64(d.Bottleneck)})
		}
		out.Layers[i] = pl
	}
	return out
}

// ArchFromProto converts back; it rejects values that do not fit an int, and
// leaves the semantic checks to ir.Arch.Check.
func ArchFromProto(p *Arch) (ir.Arch, error) {
	var a ir.Arch
	for i, pl := range p.GetLayers() {
		ints := []int64{pl.GetFilters(), pl.GetKernel(), pl.GetStride(), pl.GetUnits()}
		for _, v := range ints {
			if v < -MaxDim || v > MaxDim {
				return ir.Arch{}, fmt.Errorf("layer %d: value %d out of range", i+1, v)
			}
		}
		if math.IsNaN(pl.GetRate()) || math.IsNaN(pl.GetCompression()) {
			return ir.Arch{}, fmt.Errorf("layer %d: NaN parameter", i+1)
		}
		l := ir.Layer{Kind: ir.Kind(pl.GetKind()), Filters: int(pl.GetFilters()), Kernel: int(pl.GetKernel()),
			Stride: int(pl.GetStride()), Op: ir.PoolOp(pl.GetOp()), Units: int(pl.GetUnits()),
			Rate: pl.GetRate(), Compression: pl.GetCompression()}
		for _, d := range pl.GetDense() {
			if d.GetGrowth() < -MaxDim || d.GetGrowth() > MaxDim || d.GetBottleneck() < -MaxDim || d.GetBottleneck() > MaxDim {
				return ir.Arch{}, fmt.Errorf("layer %d: dense layer value out of range", i+1)
			}
			l.Dense = append(l.Dense, ir.DenseLayer{Growth: int(d.GetGrowth()), Bottleneck: int(d.GetBottleneck())})
		}
		a.Layers = append(a.Layers, l)
	}
	return a, nil
}

// ShapeToProto converts an input shape.
func ShapeToProto(s ir.Shape) *Shape { return &Shape{C: int64(s.C), H: int64(s.H), W: int64(s.W)} }

// ShapeFromProto converts back, rejecting out-of-range values.
func ShapeFromProto(p *Shape) (ir.Shape, error) {
	for _, v := range []int64{p.GetC(), p.GetH(), p.GetW()} {
		if v < 0 || v > MaxDim {
			return ir.Shape{}, fmt.Errorf("shape dimension %d out of range", v)
		}
	}
	return ir.Shape{C: int(p.GetC()), H: int(p.GetH()), W: int(p.GetW())}, nil
}

// NetToProto converts an architecture and input shape; weights travel apart.
func NetToProto(a ir.Arch, in ir.Shape, hasWeights bool) *Net {
	return &Net{Arch: ArchToProto(a), Input: ShapeToProto(in), HasWeights: hasWeights}
}

// NetFromProto converts back.
func NetFromProto(p *Net) (ir.Arch, ir.Shape, error) {
	a, err := ArchFromProto(p.GetArch())
	if err != nil {
		return ir.Arch{}, ir.Shape{}, err
	}
	s, err := ShapeFromProto(p.GetInput())
	return a, s, err
}

// SpaceToProto converts a search space.
func SpaceToProto(s ir.Space) *Space {
	return &Space{Kernels: ints64(s.Kernels), Filters: ints64(s.Filters), Units: ints64(s.Units), Growth: ints64(s.Growth)}
}

// SpaceFromProto converts back.
func SpaceFromProto(p *Space) (ir.Space, error) {
	var s ir.Space
	var err error
	if s.Kernels, err = Ints(p.GetKernels()); err != nil {
		return s, err
	}
	if s.Filters, err = Ints(p.GetFilters()); err != nil {
		return s, err
	}
	if s.Units, err = Ints(p.GetUnits()); err != nil {
		return s, err
	}
	s.Growth, err = Ints(p.GetGrowth())
	return s, err
}

// ActionToProto converts an action given as name and arguments.
func ActionToProto(name string, args map[string]int) *Action {
	pa := &Action{Transform: name, Args: make(map[string]int64, len(args))}
	for k, v := range args {
		pa.Args[k] = int64(v)
	}
	return pa
}

// ActionFromProto converts back.
func ActionFromProto(p *Action) (string, map[string]int, error) {
	args := make(map[string]int, len(p.GetArgs()))
	for k, v := range p.GetArgs() {
		if v < -MaxDim || v > MaxDim {
			return "", nil, fmt.Errorf("action %s: argument %s=%d out of range", p.GetTransform(), k, v)
		}
		args[k] = int(v)
	}
	return p.GetTransform(), args, nil
}

func ints64(v []int) []int64 {
	if v == nil {
		return nil
	}
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// Ints converts a received list, rejecting values that do not fit.
func Ints(v []int64) ([]int, error) {
	if v == nil {
		return nil, nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x < -MaxDim || x > MaxDim {
			return nil, fmt.Errorf("value %d out of range", x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// Ints64 converts a list for sending.
func Ints64(v []int) []int64 { return ints64(v) }
