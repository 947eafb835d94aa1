package ir

import "fmt"

// Op is the operation of one graph node.
type Op int

const (
	OpInput   Op = iota + 1
	OpConv       // Filters, Kernel, Stride, Pad; params Name.weight [F,C,k,k] (+ Name.bias [F] if Bias)
	OpBN         // params Name.weight, Name.bias, Name.running_mean, Name.running_var, all [C]
	OpReLU       //
	OpDropout    // Rate
	OpMaxPool    // Kernel, Stride (no padding)
	OpAvgPool    // Kernel, Stride (no padding, divisor Kernel*Kernel)
	OpGAP        // global average pooling to C x 1 x 1
	OpFC         // Units; params Name.weight [Units, in] (+ Name.bias [Units] if Bias); flattens its input
	OpConcat     // channel concatenation of Inputs in order
	OpLinear     // final SM layer: Units logits; params Name.weight [Units, in], Name.bias [Units]
	OpAdd        // elementwise sum of Inputs (all of one shape)
)

var opNames = map[Op]string{OpInput: "input", OpConv: "conv", OpBN: "bn", OpReLU: "relu", OpDropout: "dropout",
	OpMaxPool: "maxpool", OpAvgPool: "avgpool", OpGAP: "gap", OpFC: "fc", OpConcat: "concat", OpLinear: "linear", OpAdd: "add"}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Node is one operation of the lowered graph.
type Node struct {
	ID     int
	Op     Op
	Inputs []int  // node IDs, all smaller than ID
	Name   string // parameter prefix ("l3.conv"); empty for ops without parameters
	Layer  int    // 1-based written layer this node implements (0 for the input)
	Sub    int    // 1-based layer inside a dense block, 0 elsewhere
	Out    Shape

	Filters, Kernel, Stride, Pad int
	Units                        int
	Rate                         float64
	Bias                         bool
}

// Graph is a lowered architecture: nodes in topological order, node 0 the
// input, the last node the logits.
type Graph struct {
	Arch  Arch
	Input Shape
	Nodes []Node
}

// Output is the ID of the logits node.
func (g *Graph) Output() int { return len(g.Nodes) - 1 }

// Role says what a parameter is, so the engine can initialise it and the
// optimiser can decide about weight decay.
type Role int

const (
	RoleWeight Role = iota + 1 // conv / FC / linear weight; FanIn set
	RoleBias                   // bias of conv / FC / linear
	RoleGamma                  // BN scale
	RoleBeta                   // BN shift
	RoleMean                   // BN running mean (not trainable)
	RoleVar                    // BN running variance (not trainable)
)

// Param describes one named parameter tensor.
type Param struct {
	Name  string
	Shape []int
	Role  Role
	Node  int // owning node
	FanIn int // for RoleWeight: inputs per output unit
}

// Trainable is false for BN running statistics.
func (p Param) Trainable() bool { return p.Role != RoleMean && p.Role != RoleVar }

// Size is the number of elements.
func (p Param) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Lower builds the graph of a for input shape in. Plain networks are
// post-activation (conv -> BN -> ReLU), DenseNets pre-activation
// (BN -> ReLU -> conv inside blocks and transitions, the stem conv bare, and a
// BN -> ReLU before the final GAP). Each kind's nodes come from its entry in
// the kind table.
func Lower(a Arch, in Shape) (*Graph, error) {
	g, ps := build(a, in)
	if err := joinProblems(ps); err != nil {
		return nil, err
	}
	g.Arch = a.Clone()
	return g, nil
}

// opInfo is what the graph knows about one operation: its output shape, its
// parameters and its multiply-adds. The engine implements the operations.
type opInfo struct {
	infer  func(g *Graph, n Node, in Shape) Shape
	params func(n Node, in Shape, add func(Param))
	madds  func(n Node, in Shape) float64 // float64: hostile sizes are refused before they could overflow
	// weighted ops read their input through a weight whose second dimension
	// is the input's channels (or features): conv, FC, linear.
	weighted bool
}

var ops = map[Op]opInfo{
	OpConv: {
		weighted: true,
		infer: func(_ *Graph, n Node, in Shape) Shape {
			return Shape{n.Filters, ceilDiv(in.H, n.Stride), ceilDiv(in.W, n.Stride)}
		},
		params: func(n Node, in Shape, add func(Param)) {
			add(Param{Name: Weight(n.Name), Shape: []int{n.Filters, in.C, n.Kernel, n.Kernel}, Role: RoleWeight, FanIn: in.C * n.Kernel * n.Kernel})
			if n.Bias {
				add(Param{Name: Tensor(n.Name, TensorBias), Shape: []int{n.Filters}, Role: RoleBias})
			}
		},
		madds: func(n Node, in Shape) float64 {
			return float64(n.Out.H) * float64(n.Out.W) * float64(n.Filters) * float64(in.C) * float64(n.Kernel) * float64(n.Kernel)
		},
	},
	OpBN: {
		params: func(n Node, in Shape, add func(Param)) {
			for i, t := range BNTensors {
				add(Param{Name: Tensor(n.Name, t), Shape: []int{in.C}, Role: []Role{RoleGamma, RoleBeta, RoleMean, RoleVar}[i]})
			}
		},
	},
	OpMaxPool: {infer: poolShape},
	OpAvgPool: {infer: poolShape},
	OpGAP:     {infer: func(_ *Graph, _ Node, in Shape) Shape { return Shape{in.C, 1, 1} }},
	OpFC:      {infer: unitsShape, params: linearParams, madds: linearMAdds, weighted: true},
	OpLinear:  {infer: unitsShape, params: linearParams, madds: linearMAdds, weighted: true},
	OpConcat: {
		infer: func(g *Graph, n Node, in Shape) Shape {
			c := 0
			for _, id := range n.Inputs {
				c += g.Nodes[id].Out.C
			}
			return Shape{c, in.H, in.W}
		},
	},
}

func poolShape(_ *Graph, n Node, in Shape) Shape {
	return Shape{in.C, (in.H-n.Kernel)/n.Stride + 1, (in.W-n.Kernel)/n.Stride + 1}
}

func unitsShape(_ *Graph, n Node, _ Shape) Shape { return Shape{n.Units, 1, 1} }

func linearParams(n Node, in Shape, add func(Param)) {
	add(Param{Name: Weight(n.Name), Shape: []int{n.Units, in.Size()}, Role: RoleWeight, FanIn: in.Size()})
	if n.Bias {
		add(Param{Name: Tensor(n.Name, TensorBias), Shape: []int{n.Units}, Role: RoleBias})
	}
}

func linearMAdds(n Node, in Shape) float64 { return float64(n.Units) * float64(in.Size()) }

// in is the shape of a node's first input (zero for the input node).
func (g *Graph) in(n Node) Shape {
	if len(n.Inputs) == 0 {
		return Shape{}
	}
	return g.Nodes[n.Inputs[0]].Out
}

func (g *Graph) infer(n Node) Shape {
	in := g.in(n)
	if f := ops[n.Op].infer; f != nil {
		return f(g, n, in)
	}
	return in // BN, ReLU, dropout: shape-preserving
}

// nodeParams appends node n's parameters to ps.
func (g *Graph) nodeParams(ps []Param, n Node) []Param {
	if f := ops[n.Op].params; f != nil {
		f(n, g.in(n), func(p Param) {
			p.Node = n.ID
			ps = append(ps, p)
		})
	}
	return ps
}

// Params lists every parameter tensor in graph order. Names are stable and
// documented: they are the checkpoint's tensor names.
func (g *Graph) Params() []Param {
	var ps []Param
	for _, n := range g.Nodes {
		ps = g.nodeParams(ps, n)
	}
	return ps
}

// NodeCost is the trainable parameter count and multiply-adds of one node.
// It looks at that node only, so costing every node is linear in the graph.
func (g *Graph) NodeCost(id int) (params, madds int64) {
	n := g.Nodes[id]
	for _, p := range g.nodeParams(nil, n) {
		if p.Trainable() {
			params += int64(p.Size())
		}
	}
	if f := ops[n.Op].madds; f != nil && len(n.Inputs) > 0 {
		madds = int64(f(n, g.in(n)))
	}
	return
}

// Cost is the total trainable parameter count and forward multiply-adds
// (convolutions and fully-connected layers; BN, ReLU and pooling not counted).
func (g *Graph) Cost() (params, madds int64) {
	for id := range g.Nodes {
		p, m := g.NodeCost(id)
		params += p
		madds += m
	}
	return
}

// LayerNodes returns the IDs of the nodes implementing written layer li (1-based).
func (g *Graph) LayerNodes(li int) []int {
	var ids []int
	for _, n := range g.Nodes {
		if n.Layer == li {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

// InputWeight is the weight tensor through which written layer li reads its
// input, when its first node is a convolution, FC or linear layer; false
// otherwise (a layer that starts with BatchNorm, pooling, ...). Transforms
// that change a layer's input channels rewrite this tensor.
func (g *Graph) InputWeight(li int) (string, bool) {
	for _, n := range g.Nodes {
		if n.Layer == li {
			if ops[n.Op].weighted {
				return Weight(n.Name), true
			}
			return "", false
		}
	}
	return "", false
}

// Clone deep-copies the graph.
func (g *Graph) Clone() *Graph {
	c := &Graph{Arch: g.Arch.Clone(), Input: g.Input, Nodes: make([]Node, len(g.Nodes))}
	copy(c.Nodes, g.Nodes)
	for i := range c.Nodes {
		c.Nodes[i].Inputs = append([]int(nil), g.Nodes[i].Inputs...)
	}
	return c
}

// NewGraph starts a graph with only the input node, for building graphs by
// hand (tests, reference implementations); Lower is the normal way.
func NewGraph(in Shape) *Graph {
	return &Graph{Input: in, Nodes: []Node{{ID: 0, Op: OpInput, Out: in}}}
}

// Add appends a node reading inputs, infers its output shape and returns its ID.
func (g *Graph) Add(n Node, inputs ...int) int {
	n.ID = len(g.Nodes)
	n.Inputs = append([]int(nil), inputs...)
	n.Out = g.infer(n)
	g.Nodes = append(g.Nodes, n)
	return n.ID
}
