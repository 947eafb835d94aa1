package reinforce

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/eas-go/eas/controllers/internal/actspace"
	"github.com/eas-go/eas/controllers/internal/rng"
)

// Sizes of the policy network (paper: embedding 16, 50 per encoder
// direction, deeper LSTM 100 = both directions' final states).
type Sizes struct {
	Vocab, Embed, Hidden int
	Options              int // option head: one per kernel size of the space
}

// policy holds the parameters as float64 arrays, in a fixed order; machines
// (machine.go) compile one gorgonia graph per decision shape over them.
type policy struct {
	sz     Sizes
	names  []string
	shapes map[string][]int
	vals   map[string][]float64
}

func newPolicy(sz Sizes, r *rng.R) *policy {
	h, e, d := sz.Hidden, sz.Embed, 2*sz.Hidden
	p := &policy{sz: sz, shapes: map[string][]int{}, vals: map[string][]float64{}}
	add := func(name string, scale float64, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = r.Norm() * scale
		}
		p.names = append(p.names, name)
		p.shapes[name] = shape
		p.vals[name] = v
	}
	add("embed", 0.1, e, sz.Vocab)
	for _, dir := range []string{"fw", "bw"} {
		add(dir+".wx", 1/math.Sqrt(float64(e)), 4*h, e)
		add(dir+".wh", 1/math.Sqrt(float64(h)), 4*h, h)
		add(dir+".b", 0, 4*h)
	}
	add("wider.w", 1/math.Sqrt(float64(d)), 1, d)
	add("wider.b", 0, 1)
	add("deep.wx", 1/math.Sqrt(float64(e)), 4*d, e)
	add("deep.wh", 1/math.Sqrt(float64(d)), 4*d, d)
	add("deep.b", 0, 4*d)
	add("deep.start", 0.1, e)
	add("deep.blockemb", 0.1, e, actspace.MaxBlocks)
	add("deep.posemb", 0.1, e, actspace.MaxPositions)
	add("head.block.w", 1/math.Sqrt(float64(d)), actspace.MaxBlocks, d)
	add("head.block.b", 0, actspace.MaxBlocks)
	add("head.pos.w", 1/math.Sqrt(float64(d)), actspace.MaxPositions, d)
	add("head.pos.b", 0, actspace.MaxPositions)
	add("head.opt.w", 1/math.Sqrt(float64(d)), sz.Options, d)
	add("head.opt.b", 0, sz.Options)
	// LSTM forget-gate biases start at 1, a common stabiliser.
	for _, n := range []string{"fw.b", "bw.b", "deep.b"} {
		v := p.vals[n]
		q := len(v) / 4
		for i := q; i < 2*q; i++ {
			v[i] = 1
		}
	}
	return p
}

// net is one gorgonia graph over the policy's parameters.
type net struct {
	p     *policy
	g     *G.ExprGraph
	nodes map[string]*G.Node
	list  []*G.Node // in p.names order
}

func (p *policy) graph() *net {
	// parameter nodes are variables, bound with Let before each run
	n := &net{p: p, g: G.NewGraph(), nodes: map[string]*G.Node{}}
	for _, name := range p.names {
		shape := p.shapes[name]
		t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), p.vals[name]...)))
		var node *G.Node
		if len(shape) == 1 {
			node = G.NewVector(n.g, G.Float64, G.WithShape(shape...), G.WithName(name), G.WithValue(t))
		} else {
			node = G.NewMatrix(n.g, G.Float64, G.WithShape(shape...), G.WithName(name), G.WithValue(t))
		}
		n.nodes[name] = node
		n.list = append(n.list, node)
	}
	return n
}

func (n *net) lstm(prefix string, x, h, c *G.Node, hidden int) (*G.Node, *G.Node) {
	gates := G.Must(G.Add(G.Must(G.Add(G.Must(G.Mul(n.nodes[prefix+".wx"], x)), G.Must(G.Mul(n.nodes[prefix+".wh"], h)))), n.nodes[prefix+".b"]))
	i := G.Must(G.Sigmoid(G.Must(G.Slice(gates, G.S(0, hidden)))))
	f := G.Must(G.Sigmoid(G.Must(G.Slice(gates, G.S(hidden, 2*hidden)))))
	o := G.Must(G.Sigmoid(G.Must(G.Slice(gates, G.S(2*hidden, 3*hidden)))))
	gg := G.Must(G.Tanh(G.Must(G.Slice(gates, G.S(3*hidden, 4*hidden)))))
	c2 := G.Must(G.Add(G.Must(G.HadamardProd(f, c)), G.Must(G.HadamardProd(i, gg))))
	h2 := G.Must(G.HadamardProd(o, G.Must(G.Tanh(c2))))
	return h2, c2
}

// encodeOneHot runs the bidirectional LSTM over one-hot token inputs; it
// returns each position's state [fw; bw] and the final state [fw last; bw first].
func (n *net) encodeOneHot(tokens []*G.Node) ([]*G.Node, *G.Node) {
	h := n.p.sz.Hidden
	T := len(tokens)
	emb := make([]*G.Node, T)
	for t, tok := range tokens {
		emb[t] = G.Must(G.Mul(n.nodes["embed"], tok))
	}
	fw, bw := make([]*G.Node, T), make([]*G.Node, T)
	hf, cf := n.p.input(n, h, "hf0"), n.p.input(n, h, "cf0")
	for t := 0; t < T; t++ {
		hf, cf = n.lstm("fw", emb[t], hf, cf, h)
		fw[t] = hf
	}
	hb, cb := n.p.input(n, h, "hb0"), n.p.input(n, h, "cb0")
	for t := T - 1; t >= 0; t-- {
		hb, cb = n.lstm("bw", emb[t], hb, cb, h)
		bw[t] = hb
	}
	states := make([]*G.Node, T)
	for t := range states {
		states[t] = G.Must(G.Concat(0, fw[t], bw[t]))
	}
	return states, G.Must(G.Concat(0, fw[T-1], bw[0]))
}

// wider returns the sigmoid logit of widening position t.
func (n *net) widerLogit(state *G.Node) *G.Node {
	return G.Must(G.Add(G.Must(G.Mul(n.nodes["wider.w"], state)), n.nodes["wider.b"]))
}

func values(v G.Value) []float64 {
	switch t := v.(type) {
	case *tensor.Dense:
		return append([]float64(nil), t.Float64s()...)
	case *G.F64:
		return []float64{float64(*t)}
	}
	panic(fmt.Sprintf("unexpected value %T", v))
}

// catch turns gorgonia's Must panics into errors.
func catch(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("policy graph: %v", r)
	}
}
