package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// KindInfo is everything eas knows about one layer kind. The table below
// drives parsing (dsl reads names, arity and arguments from it), checking,
// lowering to graph nodes (and so shapes, parameter names and costs),
// printing and depth. Adding a layer kind means adding one entry here; only
// a kind that needs a new graph operation also touches the engine.
type KindInfo struct {
	Kind  Kind
	Name  string // spelling in architecture strings ("C"); parsing is case-insensitive
	Usage string // how to write it, for arity errors

	// MinArgs..MaxArgs written arguments (MaxArgs -1: any number); TooFew,
	// when set, replaces the arity message for too few.
	MinArgs, MaxArgs int
	TooFew           string

	// FromArgs reads the written arguments (arity already checked) into l,
	// reporting arguments of the wrong type through r.
	FromArgs func(r *argReader, l *Layer)
	// Args prints the canonical arguments; nil for a kind written bare (GAP).
	Args func(l Layer) string
	// Check reports problems of the layer's own values (the only place they
	// are validated: dsl and Arch.Check both come here).
	Check func(l Layer) []ArgProblem
	// Place reports a problem with where the layer stands, or "".
	Place func(p Place) string
	// Fits reports why the layer cannot take an input of shape in, or "".
	Fits func(l Layer, in Shape) string
	// Lower appends the layer's graph nodes; output shapes come from the
	// nodes' operations, the one shape inference.
	Lower func(b *Builder, l Layer)
	// Depth counts the layer's weight layers the way the paper does.
	Depth func(l Layer) int

	Family  Family // a kind that makes a network belong to a family (DB: densenet)
	Final   bool   // must be the last layer, and the last layer must be one (SM)
	Spatial bool   // reads feature maps: not allowed after a Flat layer
	// Flat layers output a vector; Flat is the message for a Spatial layer after one.
	Flat string
	// Inert layers leave the placement rules' view of "the previous layer" alone (DO).
	Inert bool
	// PassThrough layers keep channels one to one (pooling, dropout, GAP):
	// a transform that changes a layer's channels looks through them.
	PassThrough bool
	// Weights is the name part of the layer's input-reading weights in a plain
	// network ("conv", "fc", "sm"); empty when it has none.
	Weights string
	// ReLU layers end in a ReLU in a plain network, so their output is
	// non-negative (kept so through PassThrough layers); the kind tests check
	// this against Lower.
	ReLU bool
	// Width, when set, makes the layer widenable by Net2Wider.
	Width *Width

	// InBranch kinds may stand in a branch of a merge.
	InBranch bool
	// Join, set for merges (ADD, CAT), reports whether two branches'
	// outputs can be merged (JoinRule says what it asks when they cannot);
	// Lower then merges Builder.Outs.
	Join     func(a, b Shape) bool
	JoinRule string
}

// Width says how to read, set and step a widenable layer's width.
type Width struct {
	Get   func(l Layer) int
	Set   func(l *Layer, n int)
	Space func(s Space) []int // the widths the search space offers
}

// Place is what Check knows about where a layer stands.
type Place struct {
	Dense bool // the network is a DenseNet
	Prev  Kind // the previous non-inert layer's kind, 0 for none
	seen  map[Kind]bool
}

// Seen reports whether a layer of kind k comes earlier.
func (p Place) Seen(k Kind) bool { return p.seen[k] }

var kinds = []*KindInfo{
	{
		Kind: Conv, Name: "C", Usage: "C(filters,kernel,stride)", MinArgs: 3, MaxArgs: 3,
		FromArgs: func(r *argReader, l *Layer) {
			l.Filters, l.Kernel, l.Stride = r.int(0, "number of filters"), r.int(1, "kernel size"), r.int(2, "stride")
		},
		Args: func(l Layer) string { return fmt.Sprintf("%d,%d,%d", l.Filters, l.Kernel, l.Stride) },
		Check: func(l Layer) (ps []ArgProblem) {
			ps = inRange(ps, "C", 0, "number of filters", l.Filters, 1, MaxWidth)
			if l.Kernel < 1 || l.Kernel > MaxKernel {
				ps = inRange(ps, "C", 1, "kernel size", l.Kernel, 1, MaxKernel)
			} else if l.Kernel%2 == 0 {
				ps = append(ps, ArgProblem{Arg: 1, Msg: fmt.Sprintf("C: kernel size must be odd (same padding), got %d", l.Kernel)})
			}
			return inRange(ps, "C", 2, "stride", l.Stride, 1, MaxKernel)
		},
		Place: func(p Place) string {
			if p.Dense && p.Seen(DenseBlock) {
				return "C after a dense block: in a DenseNet, plain convolutions form the stem before the first DB"
			}
			return ""
		},
		Lower: func(b *Builder, l Layer) {
			b.Then(Node{Op: OpConv, Name: b.Name(PartConv), Filters: l.Filters, Kernel: l.Kernel, Stride: l.Stride, Pad: (l.Kernel - 1) / 2})
			if !b.Dense {
				b.BNReLU(b.Name(PartBN))
			}
		},
		Depth:   one,
		Spatial: true, Weights: PartConv, ReLU: true, InBranch: true,
		Width: &Width{Get: func(l Layer) int { return l.Filters }, Set: func(l *Layer, n int) { l.Filters = n },
			Space: func(s Space) []int { return s.Filters }},
	},
	{
		Kind: Pool, Name: "P", Usage: "P(kernel,stride,MAX|AVG)", MinArgs: 3, MaxArgs: 3,
		FromArgs: func(r *argReader, l *Layer) {
			l.Kernel, l.Stride = r.int(0, "kernel size"), r.int(1, "stride")
			switch a := r.args[2]; {
			case a.Word != "" && strings.EqualFold(a.Word, "MAX"):
				l.Op = Max
			case a.Word != "" && strings.EqualFold(a.Word, "AVG"):
				l.Op = Avg
			default:
				r.probs = append(r.probs, ArgProblem{Arg: 2, Msg: fmt.Sprintf("P: pooling must be MAX or AVG, got %q", a.Text()),
					Choices: []string{"MAX", "AVG"}})
			}
		},
		Args: func(l Layer) string { return fmt.Sprintf("%d,%d,%s", l.Kernel, l.Stride, l.Op) },
		Check: func(l Layer) (ps []ArgProblem) {
			ps = inRange(ps, "P", 0, "kernel size", l.Kernel, 1, MaxKernel)
			ps = inRange(ps, "P", 1, "stride", l.Stride, 1, MaxKernel)
			if l.Op != Max && l.Op != Avg {
				ps = append(ps, ArgProblem{Arg: 2, Msg: "P: pooling must be MAX or AVG", Choices: []string{"MAX", "AVG"}})
			}
			return ps
		},
		Fits: func(l Layer, in Shape) string {
			if in.H < l.Kernel || in.W < l.Kernel {
				return fmt.Sprintf("P(%d,%d,%s) on a %dx%d map would shrink it below 1x1", l.Kernel, l.Stride, l.Op, in.H, in.W)
			}
			return ""
		},
		Lower: func(b *Builder, l Layer) {
			op := OpMaxPool
			if l.Op == Avg {
				op = OpAvgPool
			}
			b.Then(Node{Op: op, Kernel: l.Kernel, Stride: l.Stride})
		},
		Spatial: true, PassThrough: true, InBranch: true,
	},
	{
		Kind: FC, Name: "FC", Usage: "FC(units)", MinArgs: 1, MaxArgs: 1,
		FromArgs: func(r *argReader, l *Layer) { l.Units = r.int(0, "number of units") },
		Args:     func(l Layer) string { return strconv.Itoa(l.Units) },
		Check:    func(l Layer) []ArgProblem { return inRange(nil, "FC", 0, "number of units", l.Units, 1, MaxWidth) },
		Lower: func(b *Builder, l Layer) {
			b.Then(Node{Op: OpFC, Name: b.Name(PartFC), Units: l.Units})
			b.BNReLU(b.Name(PartBN))
		},
		Depth: one,
		Flat:  "after a fully-connected layer: layers after FC must be FC, DO or SM", Weights: PartFC, ReLU: true,
		Width: &Width{Get: func(l Layer) int { return l.Units }, Set: func(l *Layer, n int) { l.Units = n },
			Space: func(s Space) []int { return s.Units }},
	},
	{
		Kind: Softmax, Name: "SM", Usage: "SM(classes)", MinArgs: 1, MaxArgs: 1,
		FromArgs: func(r *argReader, l *Layer) { l.Units = r.int(0, "number of classes") },
		Args:     func(l Layer) string { return strconv.Itoa(l.Units) },
		Check:    func(l Layer) []ArgProblem { return inRange(nil, "SM", 0, "number of classes", l.Units, 1, MaxWidth) },
		Lower: func(b *Builder, l Layer) {
			b.Then(Node{Op: OpLinear, Name: b.Name(PartSM), Units: l.Units, Bias: true})
		},
		Depth: one,
		Final: true, Weights: PartSM,
	},
	{
		Kind: Dropout, Name: "DO", Usage: "DO(rate)", MinArgs: 1, MaxArgs: 1,
		FromArgs: func(r *argReader, l *Layer) { l.Rate = r.float(0, "rate") },
		Args:     func(l Layer) string { return fmtFloat(l.Rate) },
		Check: func(l Layer) []ArgProblem {
			if !(l.Rate >= 0 && l.Rate < 1) {
				return []ArgProblem{{Arg: -1, Msg: "DO: dropout rate must be in [0, 1), got " + fmtFloat(l.Rate)}}
			}
			return nil
		},
		Lower: func(b *Builder, l Layer) { b.Then(Node{Op: OpDropout, Rate: l.Rate}) },
		Inert: true, PassThrough: true, InBranch: true,
	},
	{
		Kind: GAP, Name: "GAP", Usage: "GAP", MinArgs: 0, MaxArgs: 0,
		Lower: func(b *Builder, l Layer) {
			if b.Dense {
				b.BNReLU(b.Name(PartBN))
			}
			b.Then(Node{Op: OpGAP})
		},
		Spatial: true, PassThrough: true,
		Flat: "after global average pooling: only FC, DO or SM may follow GAP",
	},
	{
		Kind: DenseBlock, Name: "DB", Usage: "DB(growth,...)", MinArgs: 1, MaxArgs: -1,
		TooFew:   "DB needs at least one growth rate: write e.g. DB(6x40) or DB(40,44,48)",
		FromArgs: denseFromArgs,
		Args:     func(l Layer) string { return denseString(l.Dense) },
		Check: func(l Layer) (ps []ArgProblem) {
			if len(l.Dense) == 0 {
				ps = append(ps, ArgProblem{Arg: -1, Msg: "DB: a dense block needs at least one layer"})
			}
			for j, d := range l.Dense {
				if d.Growth <= 0 || d.Growth > MaxWidth {
					ps = append(ps, ArgProblem{Arg: -1, Msg: fmt.Sprintf("DB: layer %d growth rate must be in 1..%d, got %d", j+1, MaxWidth, d.Growth)})
				}
				if d.Bottleneck < 0 || d.Bottleneck > MaxWidth {
					ps = append(ps, ArgProblem{Arg: -1, Msg: fmt.Sprintf("DB: layer %d bottleneck must be in 0..%d, got %d", j+1, MaxWidth, d.Bottleneck)})
				}
			}
			return ps
		},
		Lower: func(b *Builder, l Layer) {
			for j, d := range l.Dense {
				b.Sub = j + 1
				in := b.Cur
				if d.Bottleneck > 0 {
					b.BNReLU(b.SubName(PartBN1))
					b.Then(Node{Op: OpConv, Name: b.SubName(PartConv1), Filters: d.Bottleneck, Kernel: 1, Stride: 1})
				}
				b.BNReLU(b.SubName(PartBN2))
				b.Then(Node{Op: OpConv, Name: b.SubName(PartConv2), Filters: d.Growth, Kernel: 3, Stride: 1, Pad: 1})
				b.Cur = b.Add(Node{Op: OpConcat}, in, b.Cur)
			}
			b.Sub = 0
		},
		Depth: func(l Layer) int {
			d := 0
			for _, dl := range l.Dense {
				d++
				if dl.Bottleneck > 0 {
					d++
				}
			}
			return d
		},
		Family: FamilyDenseNet, Spatial: true,
	},
	{
		Kind: Transition, Name: "T", Usage: "T(compression) or T(compression,channels)", MinArgs: 1, MaxArgs: 2,
		FromArgs: func(r *argReader, l *Layer) {
			l.Compression = r.float(0, "compression")
			if len(r.args) == 2 {
				// A written 0 cannot be told from "not fixed" once read, so
				// the range is checked here rather than in Check.
				n := len(r.probs)
				if l.Filters = r.int(1, "output channels"); len(r.probs) == n && l.Filters < 1 {
					r.probs = atLeast(r.probs, "T", 1, "output channels", l.Filters, 1)
					l.Filters = 0
				}
			}
		},
		Args: func(l Layer) string {
			if l.Filters > 0 {
				return fmt.Sprintf("%s,%d", fmtFloat(l.Compression), l.Filters)
			}
			return fmtFloat(l.Compression)
		},
		Check: func(l Layer) (ps []ArgProblem) {
			if !(l.Compression > 0 && l.Compression <= 1) {
				ps = append(ps, ArgProblem{Arg: -1, Msg: "T: compression must be in (0, 1], got " + fmtFloat(l.Compression)})
			}
			if l.Filters != 0 {
				ps = inRange(ps, "T", 1, "output channels", l.Filters, 1, MaxWidth)
			}
			return ps
		},
		Place: func(p Place) string {
			if p.Prev != DenseBlock {
				return "T: a transition must follow a dense block"
			}
			return ""
		},
		Fits: func(l Layer, in Shape) string {
			if l.TransitionWidth(in.C) < 1 {
				return fmt.Sprintf("T(%s) leaves no channels", fmtFloat(l.Compression))
			}
			if in.H < 2 || in.W < 2 {
				return fmt.Sprintf("T: the transition's 2x2 average pooling on a %dx%d map would shrink it below 1x1", in.H, in.W)
			}
			return ""
		},
		Lower: func(b *Builder, l Layer) {
			c := l.TransitionWidth(b.In().C)
			b.BNReLU(b.Name(PartBN))
			b.Then(Node{Op: OpConv, Name: b.Name(PartConv), Filters: c, Kernel: 1, Stride: 1})
			b.Then(Node{Op: OpAvgPool, Kernel: 2, Stride: 2})
		},
		Depth:   one,
		Spatial: true, Weights: PartConv,
	},
	{
		Kind: Add, Name: "ADD", Usage: "ADD(layers | layers | ...)",
		Join:     func(a, b Shape) bool { return a == b },
		JoinRule: "ADD sums its branches: they must give equal shapes",
		Place:    mergePlace("ADD"),
		Lower:    func(b *Builder, l Layer) { b.Cur = b.Add(Node{Op: OpAdd}, b.Outs...) },
		Spatial:  true, InBranch: true,
	},
	{
		Kind: Cat, Name: "CAT", Usage: "CAT(layers | layers | ...)",
		Join:     func(a, b Shape) bool { return a.H == b.H && a.W == b.W },
		JoinRule: "CAT concatenates its branches' channels: they must give maps of equal height and width",
		Place:    mergePlace("CAT"),
		Lower:    func(b *Builder, l Layer) { b.Cur = b.Add(Node{Op: OpConcat}, b.Outs...) },
		Spatial:  true, InBranch: true,
	},
	{
		Kind: Identity, Name: "ID", Usage: "ID (a branch of its own: ADD(C(16,3,1) | ID))",
		Lower:   func(*Builder, Layer) {},
		Spatial: true, PassThrough: true, InBranch: true,
	},
}

func mergePlace(name string) func(Place) string {
	return func(p Place) string {
		if p.Dense {
			return name + " in a DenseNet: merges are for plain networks"
		}
		return ""
	}
}

func one(Layer) int { return 1 }

// atLeast appends "K: what must be at least min, got v" for argument i when v < min.
func atLeast(ps []ArgProblem, kind string, i int, what string, v, min int) []ArgProblem {
	if v < min {
		ps = append(ps, ArgProblem{Arg: i, Msg: fmt.Sprintf("%s: %s must be at least %d, got %d", kind, what, min, v)})
	}
	return ps
}

// MaxDenseRepeat bounds a dense block's repeat count ("6x40").
const MaxDenseRepeat = 10000

// denseFromArgs reads DB's growth rates: 40, 6x40 (six layers), 44:160
// (bottleneck 160), 48:0 (no bottleneck).
func denseFromArgs(r *argReader, l *Layer) {
	for i, a := range r.args {
		if a.Word != "" || a.Num == "" {
			r.fail(i, 1, "growth rates must be integers like 40, 6x40 or 44:176, got %q", a.Text())
			continue
		}
		rep := 1
		if a.Rep != "" {
			rep, _ = strconv.Atoi(strings.TrimRight(a.Rep, "xX"))
			if rep < 1 || rep > MaxDenseRepeat {
				r.fail(i, len(a.Rep), "repeat count must be between 1 and %d, got %d", MaxDenseRepeat, rep)
				continue
			}
		}
		g, err := strconv.Atoi(a.Num)
		if err != nil || a.Neg || g < 1 {
			r.fail(i, 0, "growth rate must be a positive integer, got %s", a.Text())
			continue
		}
		b := DefaultBottleneck(g)
		if a.Bott != "" {
			b, err = strconv.Atoi(a.Bott)
			if err != nil || b < 0 {
				r.fail(i, 0, "bottleneck width must be a non-negative integer, got %s", a.Bott)
				continue
			}
		}
		for k := 0; k < rep; k++ {
			l.Dense = append(l.Dense, DenseLayer{Growth: g, Bottleneck: b})
		}
	}
}

var kindByKind, kindByName = func() (map[Kind]*KindInfo, map[string]*KindInfo) {
	byKind, byName := map[Kind]*KindInfo{}, map[string]*KindInfo{}
	for _, k := range kinds {
		byKind[k.Kind], byName[k.Name] = k, k
	}
	return byKind, byName
}()

// Info returns the table entry of a kind, or nil for an unknown kind.
func (k Kind) Info() *KindInfo { return kindByKind[k] }

// Width is the kind's widening rule, or nil when it cannot be widened.
func (k Kind) Width() *Width {
	if info := k.Info(); info != nil {
		return info.Width
	}
	return nil
}

// LookupKind finds a kind by its spelling, case-insensitively; nil when unknown.
func LookupKind(name string) *KindInfo { return kindByName[strings.ToUpper(name)] }

// Kinds lists the table in its order (C, P, FC, SM, DO, GAP, DB, T, ADD, CAT, ID).
func Kinds() []*KindInfo { return append([]*KindInfo(nil), kinds...) }

// KindNames are the spellings of every kind, in table order.
func KindNames() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return names
}

// CheckValues lists the problems of the layer's own values (not of where it
// stands or of its input): the kind table's Check.
func (l Layer) CheckValues() []ArgProblem {
	k := l.Kind.Info()
	if k == nil {
		return []ArgProblem{{Arg: -1, Msg: fmt.Sprintf("unknown layer kind %d", int(l.Kind))}}
	}
	if k.Check == nil {
		return nil
	}
	return k.Check(l)
}

// Builder appends one written layer's nodes to a graph (KindInfo.Lower).
type Builder struct {
	g     *Graph
	Layer int   // the written layer being lowered, 1-based
	Sub   int   // the dense layer being lowered, 1-based; 0 outside blocks
	Cur   int   // the node holding the layer's input; Lower leaves it at the output
	Dense bool  // the network is a DenseNet (pre-activation)
	Outs  []int // a merge's branch outputs, in order
}

// In is the shape of the current node.
func (b *Builder) In() Shape { return b.g.Nodes[b.Cur].Out }

// Add appends a node of the current layer reading inputs and returns its ID.
func (b *Builder) Add(n Node, inputs ...int) int {
	n.Layer, n.Sub = b.Layer, b.Sub
	return b.g.Add(n, inputs...)
}

// Then appends a node reading the current node and makes it current.
func (b *Builder) Then(n Node) { b.Cur = b.Add(n, b.Cur) }

// BNReLU appends BatchNorm (parameters under prefix) then ReLU.
func (b *Builder) BNReLU(prefix string) {
	b.Then(Node{Op: OpBN, Name: prefix})
	b.Then(Node{Op: OpReLU})
}

// Name is the current layer's node prefix for part ("l3.conv").
func (b *Builder) Name(part string) string { return LayerName(b.Layer, part) }

// SubName is the current dense layer's node prefix for part ("l3.2.conv1").
func (b *Builder) SubName(part string) string { return DenseName(b.Layer, b.Sub, part) }
