package ir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Kind is the type of one written layer.
type Kind int

const (
	Conv       Kind = iota + 1 // C(filters, kernel, stride)
	Pool                       // P(kernel, stride, MAX|AVG)
	FC                         // FC(units)
	Dropout                    // DO(rate)
	GAP                        // GAP: global average pooling
	DenseBlock                 // DB(growth, ...): DenseNet-BC block
	Transition                 // T(compression): DenseNet transition
	Softmax                    // SM(classes): final linear layer + softmax
	Add                        // ADD(b1 | b2 | ...): the branches' outputs summed
	Cat                        // CAT(b1 | b2 | ...): the branches' outputs concatenated along channels
	Identity                   // ID: the identity, a branch of its own
)

func (k Kind) String() string {
	if info := k.Info(); info != nil {
		return info.Name
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// PoolOp selects max or average pooling.
type PoolOp int

const (
	Max PoolOp = iota + 1
	Avg
)

func (p PoolOp) String() string {
	switch p {
	case Max:
		return "MAX"
	case Avg:
		return "AVG"
	}
	return fmt.Sprintf("PoolOp(%d)", int(p))
}

// DenseLayer is one layer of a dense block: BN-ReLU-Conv1x1(Bottleneck)-BN-ReLU-Conv3x3(Growth).
// Bottleneck 0 means no bottleneck convolution (DenseNet without -B).
type DenseLayer struct {
	Growth     int
	Bottleneck int
}

// Layer is one written layer. Only the fields of its Kind are meaningful.
type Layer struct {
	Kind Kind

	Filters int // Conv
	Kernel  int // Conv, Pool
	Stride  int // Conv, Pool
	Op      PoolOp

	Units int // FC, Softmax

	Rate float64 // Dropout

	Dense       []DenseLayer // DenseBlock
	Compression float64      // Transition

	// Arms of a merge (Add, Cat) are its branches' lengths in layers, nested
	// layers counted. The branches' layers follow the merge in Arch.Layers,
	// branch after branch (see tree.go): layer numbers stay indices.
	Arms []int
	// Filters of a Transition, when set, fixes its output channels instead of
	// floor(input channels * Compression): transforms that widen a block keep
	// the transition's output (and so the function) unchanged.
}

// Arch is a whole network as written: a list of layers ending with SM, in
// written order. A merge (ADD, CAT) is followed by its branches' layers, so
// a layer's number is its index plus one and a chain is a plain list.
type Arch struct {
	Layers []Layer
}

// Family tells which search space an architecture belongs to.
type Family string

const (
	FamilyPlain    Family = "plain"
	FamilyDenseNet Family = "densenet"
)

// Family is the family of the first layer whose kind names one (a dense
// block: densenet), plain otherwise.
func (a Arch) Family() Family {
	for _, l := range a.Layers {
		if k := l.Kind.Info(); k != nil && k.Family != "" {
			return k.Family
		}
	}
	return FamilyPlain
}

// Clone returns a deep copy.
func (a Arch) Clone() Arch {
	out := Arch{Layers: make([]Layer, len(a.Layers))}
	copy(out.Layers, a.Layers)
	for i := range out.Layers {
		if d := out.Layers[i].Dense; d != nil {
			out.Layers[i].Dense = append([]DenseLayer(nil), d...)
		}
		if m := out.Layers[i].Arms; m != nil {
			out.Layers[i].Arms = append([]int(nil), m...)
		}
	}
	return out
}

// Equal reports whether two architectures are the same.
func (a Arch) Equal(b Arch) bool { return a.String() == b.String() }

// String is the canonical form: layers separated by one space, no spaces
// inside a layer; a merge's branches are separated by " | ":
// "C(16,3,1) ADD(C(16,3,1) | ID) GAP SM(10)". The dsl package parses it back
// to an equal Arch.
func (a Arch) String() string {
	if !a.HasMerges() {
		parts := make([]string, len(a.Layers))
		for i, l := range a.Layers {
			parts[i] = l.String()
		}
		return strings.Join(parts, " ")
	}
	var b strings.Builder
	a.writeSeq(&b, 0, len(a.Layers))
	return b.String()
}

// Hash is a stable short identifier of the canonical string.
func (a Arch) Hash() string {
	sum := sha256.Sum256([]byte(a.String()))
	return hex.EncodeToString(sum[:8])
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// String prints one layer canonically: its name, then its arguments in
// parentheses (none for a kind written bare).
func (l Layer) String() string {
	k := l.Kind.Info()
	if k == nil {
		return l.Kind.String()
	}
	if k.Args == nil {
		return k.Name
	}
	return k.Name + "(" + k.Args(l) + ")"
}

// denseString run-length encodes equal consecutive layers: "6x40", "40,44:160,2x40".
// A bottleneck of 4*growth (the DenseNet-BC default) is not written; any other is
// written after a colon (":0" means no bottleneck).
func denseString(ls []DenseLayer) string {
	var parts []string
	for i := 0; i < len(ls); {
		j := i
		for j < len(ls) && ls[j] == ls[i] {
			j++
		}
		item := strconv.Itoa(ls[i].Growth)
		if ls[i].Bottleneck != DefaultBottleneck(ls[i].Growth) {
			item += ":" + strconv.Itoa(ls[i].Bottleneck)
		}
		if j-i > 1 {
			item = strconv.Itoa(j-i) + "x" + item
		}
		parts = append(parts, item)
		i = j
	}
	return strings.Join(parts, ",")
}

// DefaultBottleneck is DenseNet-BC's bottleneck width for a growth rate.
func DefaultBottleneck(growth int) int { return 4 * growth }

// Depth counts weight layers as the paper does: every convolution (two per
// bottlenecked dense layer, one per transition), every FC, and the final SM.
// Table 1's start network has depth 6; DenseNet-BC (L=40) has depth 40.
// In a graph it is the longest path of weight layers: a merge counts its
// deepest branch.
func (a Arch) Depth() int {
	if !a.HasMerges() {
		d := 0
		for _, l := range a.Layers {
			d += l.depth()
		}
		return d
	}
	return a.seqDepth(0, len(a.Layers))
}

func (l Layer) depth() int {
	if k := l.Kind.Info(); k != nil && k.Depth != nil {
		return k.Depth(l)
	}
	return 0
}
