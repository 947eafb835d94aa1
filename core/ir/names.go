package ir

import (
	"strconv"
	"strings"
)

// Parameter names are the checkpoint's tensor names and the contract between
// the lowering, the transforms and the engine. Every other package builds and
// takes them apart with these helpers, never with format strings.
//
//	l{i}.{part}.{tensor}        written layer i (1-based)   l3.conv.weight
//	l{i}.{j}.{part}.{tensor}    dense layer j of block i    l3.2.conv1.weight

// Name parts: the node a tensor belongs to.
const (
	PartConv  = "conv"  // a plain or transition convolution
	PartBN    = "bn"    // the BatchNorm of a plain layer, a transition, or before GAP
	PartFC    = "fc"    // a fully-connected layer
	PartSM    = "sm"    // the final linear layer
	PartBN1   = "bn1"   // dense layer: BatchNorm before the bottleneck
	PartConv1 = "conv1" // dense layer: 1x1 bottleneck convolution
	PartBN2   = "bn2"   // dense layer: BatchNorm before the growth convolution
	PartConv2 = "conv2" // dense layer: 3x3 growth convolution
)

// Tensor suffixes of a node's parameters.
const (
	TensorWeight      = "weight"
	TensorBias        = "bias"
	TensorRunningMean = "running_mean"
	TensorRunningVar  = "running_var"
)

// BNTensors are a BatchNorm's tensors in Params order.
var BNTensors = []string{TensorWeight, TensorBias, TensorRunningMean, TensorRunningVar}

// LayerName is the node prefix of part of written layer li: "l3.conv".
func LayerName(li int, part string) string { return "l" + strconv.Itoa(li) + "." + part }

// DenseName is the node prefix of part of dense layer sub of block li: "l3.2.conv1".
func DenseName(li, sub int, part string) string {
	return "l" + strconv.Itoa(li) + "." + strconv.Itoa(sub) + "." + part
}

// Tensor is the name of one tensor of node prefix: Tensor("l3.conv", TensorWeight) = "l3.conv.weight".
func Tensor(prefix, tensor string) string { return prefix + "." + tensor }

// Weight is Tensor(prefix, TensorWeight).
func Weight(prefix string) string { return Tensor(prefix, TensorWeight) }

// ParamName is a parameter name taken apart. Sub is 0 outside dense blocks.
type ParamName struct {
	Layer, Sub int
	Part       string // "conv", "bn2", ...
	Tensor     string // "weight", "running_var", ...
}

// String puts the name back together.
func (p ParamName) String() string {
	if p.Sub > 0 {
		return Tensor(DenseName(p.Layer, p.Sub, p.Part), p.Tensor)
	}
	return Tensor(LayerName(p.Layer, p.Part), p.Tensor)
}

// ParseParamName takes a parameter name apart; false when it does not follow
// the scheme.
func ParseParamName(name string) (ParamName, bool) {
	rest, ok := strings.CutPrefix(name, "l")
	if !ok {
		return ParamName{}, false
	}
	fields := strings.Split(rest, ".")
	num := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 1 && strconv.Itoa(n) == s
	}
	var p ParamName
	if p.Layer, ok = num(fields[0]); !ok {
		return ParamName{}, false
	}
	switch len(fields) {
	case 3:
		p.Part, p.Tensor = fields[1], fields[2]
	case 4:
		if p.Sub, ok = num(fields[1]); !ok {
			return ParamName{}, false
		}
		p.Part, p.Tensor = fields[2], fields[3]
	default:
		return ParamName{}, false
	}
	if p.Part == "" || p.Tensor == "" {
		return ParamName{}, false
	}
	return p, true
}

// ShiftLayers renumbers a parameter name or node prefix of a written layer
// numbered > after by `by`, as inserting layers after `after` requires;
// other names are returned unchanged.
func ShiftLayers(name string, after, by int) string {
	li, rest, ok := cutNumber(name, "l")
	if !ok || li <= after {
		return name
	}
	return "l" + strconv.Itoa(li+by) + "." + rest
}

// ShiftDense renumbers a parameter name or node prefix of dense layer > after
// of block li by `by`, as inserting dense layers into the block requires;
// other names are returned unchanged.
func ShiftDense(name string, li, after, by int) string {
	l, rest, ok := cutNumber(name, "l")
	if !ok || l != li {
		return name
	}
	sub, rest, ok := cutNumber(rest, "")
	if !ok || sub <= after {
		return name
	}
	return DenseName(li, sub+by, rest)
}

// cutNumber splits prefix+N+"."+rest, N a positive decimal without leading zeros.
func cutNumber(s, prefix string) (n int, rest string, ok bool) {
	s, ok = strings.CutPrefix(s, prefix)
	if !ok {
		return 0, "", false
	}
	num, rest, ok := strings.Cut(s, ".")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strconv.Itoa(n) != num {
		return 0, "", false
	}
	return n, rest, true
}
