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
)

var opNames = map[Op]string{OpInput: "input", OpConv: "conv", OpBN: "bn", OpReLU: "relu", OpDropout: "dropout",
	OpMaxPool: "maxpool", OpAvgPool: "avgpool", OpGAP: "gap", OpFC: "fc", OpConcat: "concat", OpLinear: "linear"}

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
// BN -> ReLU before the final GAP).
func Lower(a Arch, in Shape) (*Graph, error) {
	if err := a.Validate(in); err != nil {
		return nil, err
	}
	g := &Graph{Arch: a.Clone(), Input: in}
	g.Nodes = append(g.Nodes, Node{ID: 0, Op: OpInput, Out: in})
	dense := a.Family() == FamilyDenseNet
	add := g.Add
	cur := 0
	for i, l := range a.Layers {
		li := i + 1
		p := fmt.Sprintf("l%d", li)
		switch l.Kind {
		case Conv:
			cur = add(Node{Op: OpConv, Name: p + ".conv", Layer: li, Filters: l.Filters, Kernel: l.Kernel, Stride: l.Stride, Pad: (l.Kernel - 1) / 2}, cur)
			if !dense {
				cur = add(Node{Op: OpBN, Name: p + ".bn", Layer: li}, cur)
				cur = add(Node{Op: OpReLU, Layer: li}, cur)
			}
		case Pool:
			op := OpMaxPool
			if l.Op == Avg {
				op = OpAvgPool
			}
			cur = add(Node{Op: op, Layer: li, Kernel: l.Kernel, Stride: l.Stride}, cur)
		case FC:
			cur = add(Node{Op: OpFC, Name: p + ".fc", Layer: li, Units: l.Units}, cur)
			cur = add(Node{Op: OpBN, Name: p + ".bn", Layer: li}, cur)
			cur = add(Node{Op: OpReLU, Layer: li}, cur)
		case Dropout:
			cur = add(Node{Op: OpDropout, Layer: li, Rate: l.Rate}, cur)
		case GAP:
			if dense {
				cur = add(Node{Op: OpBN, Name: p + ".bn", Layer: li}, cur)
				cur = add(Node{Op: OpReLU, Layer: li}, cur)
			}
			cur = add(Node{Op: OpGAP, Layer: li}, cur)
		case DenseBlock:
			for j, d := range l.Dense {
				q := fmt.Sprintf("%s.%d", p, j+1)
				h := cur
				if d.Bottleneck > 0 {
					h = add(Node{Op: OpBN, Name: q + ".bn1", Layer: li, Sub: j + 1}, h)
					h = add(Node{Op: OpReLU, Layer: li, Sub: j + 1}, h)
					h = add(Node{Op: OpConv, Name: q + ".conv1", Layer: li, Sub: j + 1, Filters: d.Bottleneck, Kernel: 1, Stride: 1}, h)
				}
				h = add(Node{Op: OpBN, Name: q + ".bn2", Layer: li, Sub: j + 1}, h)
				h = add(Node{Op: OpReLU, Layer: li, Sub: j + 1}, h)
				h = add(Node{Op: OpConv, Name: q + ".conv2", Layer: li, Sub: j + 1, Filters: d.Growth, Kernel: 3, Stride: 1, Pad: 1}, h)
				cur = add(Node{Op: OpConcat, Layer: li, Sub: j + 1}, cur, h)
			}
		case Transition:
			c := l.TransitionWidth(g.Nodes[cur].Out.C)
			cur = add(Node{Op: OpBN, Name: p + ".bn", Layer: li}, cur)
			cur = add(Node{Op: OpReLU, Layer: li}, cur)
			cur = add(Node{Op: OpConv, Name: p + ".conv", Layer: li, Filters: c, Kernel: 1, Stride: 1}, cur)
			cur = add(Node{Op: OpAvgPool, Layer: li, Kernel: 2, Stride: 2}, cur)
		case Softmax:
			cur = add(Node{Op: OpLinear, Name: p + ".sm", Layer: li, Units: l.Units, Bias: true}, cur)
		}
	}
	return g, nil
}

func (g *Graph) infer(n Node) Shape {
	in := g.Nodes[n.Inputs[0]].Out
	switch n.Op {
	case OpConv:
		return Shape{n.Filters, ceilDiv(in.H, n.Stride), ceilDiv(in.W, n.Stride)}
	case OpMaxPool, OpAvgPool:
		return Shape{in.C, (in.H-n.Kernel)/n.Stride + 1, (in.W-n.Kernel)/n.Stride + 1}
	case OpGAP:
		return Shape{in.C, 1, 1}
	case OpFC, OpLinear:
		return Shape{n.Units, 1, 1}
	case OpConcat:
		c := 0
		for _, id := range n.Inputs {
			c += g.Nodes[id].Out.C
		}
		return Shape{c, in.H, in.W}
	}
	return in
}

// Params lists every parameter tensor in graph order. Names are stable and
// documented: they are the checkpoint's tensor names.
func (g *Graph) Params() []Param {
	var ps []Param
	for _, n := range g.Nodes {
		in := Shape{}
		if len(n.Inputs) > 0 {
			in = g.Nodes[n.Inputs[0]].Out
		}
		switch n.Op {
		case OpConv:
			ps = append(ps, Param{Name: n.Name + ".weight", Shape: []int{n.Filters, in.C, n.Kernel, n.Kernel}, Role: RoleWeight, Node: n.ID, FanIn: in.C * n.Kernel * n.Kernel})
			if n.Bias {
				ps = append(ps, Param{Name: n.Name + ".bias", Shape: []int{n.Filters}, Role: RoleBias, Node: n.ID})
			}
		case OpFC, OpLinear:
			ps = append(ps, Param{Name: n.Name + ".weight", Shape: []int{n.Units, in.Size()}, Role: RoleWeight, Node: n.ID, FanIn: in.Size()})
			if n.Bias {
				ps = append(ps, Param{Name: n.Name + ".bias", Shape: []int{n.Units}, Role: RoleBias, Node: n.ID})
			}
		case OpBN:
			c := in.C
			ps = append(ps,
				Param{Name: n.Name + ".weight", Shape: []int{c}, Role: RoleGamma, Node: n.ID},
				Param{Name: n.Name + ".bias", Shape: []int{c}, Role: RoleBeta, Node: n.ID},
				Param{Name: n.Name + ".running_mean", Shape: []int{c}, Role: RoleMean, Node: n.ID},
				Param{Name: n.Name + ".running_var", Shape: []int{c}, Role: RoleVar, Node: n.ID})
		}
	}
	return ps
}

// NodeCost is the parameter count and multiply-adds of one node.
func (g *Graph) NodeCost(id int) (params, madds int64) {
	n := g.Nodes[id]
	for _, p := range g.Params() {
		if p.Node == id && p.Trainable() {
			params += int64(p.Size())
		}
	}
	if len(n.Inputs) == 0 {
		return
	}
	in := g.Nodes[n.Inputs[0]].Out
	switch n.Op {
	case OpConv:
		madds = int64(n.Out.H*n.Out.W*n.Filters) * int64(in.C*n.Kernel*n.Kernel)
	case OpFC, OpLinear:
		madds = int64(n.Units) * int64(in.Size())
	}
	return
}

// Cost is the total trainable parameter count and forward multiply-adds
// (convolutions and fully-connected layers; BN, ReLU and pooling not counted).
func (g *Graph) Cost() (params, madds int64) {
	for _, p := range g.Params() {
		if p.Trainable() {
			params += int64(p.Size())
		}
	}
	for id := range g.Nodes {
		_, m := g.NodeCost(id)
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
