package reinforce

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/eas-go/eas/controllers/internal/actspace"
)

// A machine is a compiled gorgonia graph for one shape of decision: a token
// sequence of length T and either the wider actor or the deeper actor up to
// a level. Everything that varies between decisions of that shape (the
// parameters, one-hot tokens and choices, masks, weights) is an input bound
// with Let, so each shape is compiled once: gorgonia's compile time grows
// much faster than linearly with graph size and dominated otherwise.
type machine struct {
	n      *net
	vm     G.VM
	used   []string
	tokens []*G.Node
	// multi: candidate and chosen indicators over positions
	cand, chosen *G.Node
	// tree: additive masks and one-hot choices per level
	mask, one []*G.Node
	eps       []*G.Node
	wLogp     *G.Node
	wEnt      *G.Node
	probs     []G.Value // multi: sigmoid per position; tree: each level's distribution
	total     G.Value
	// params are the machine's own copies of the policy's parameters,
	// refreshed in place on each run: allocating fresh ones per run made
	// the garbage collector a large share of the controller's time.
	params map[string]*tensor.Dense
	final  *G.Node // head machines: the encoder's final state, an input
}

type shape struct {
	T     int
	multi bool
	level int
	// fwd machines compute probabilities only (sampling): no gradient ops,
	// which cost several times the forward pass.
	fwd bool
	// encoder machines (forward only) compute the encoder's final state
	// (probs[0]); head machines (forward only, tree) take it as an input.
	encoder, head bool
}

func (p *policy) input(n *net, size int, name string) *G.Node {
	return G.NewVector(n.g, G.Float64, G.WithShape(size), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(size), tensor.WithBacking(make([]float64, size)))))
}

// compile builds the machine for a decision shape.
func (p *policy) compile(s shape) (m *machine, err error) {
	defer catch(&err)
	n := p.graph()
	m = &machine{n: n, params: map[string]*tensor.Dense{}}
	for t := 0; t < s.T; t++ {
		m.tokens = append(m.tokens, p.input(n, p.sz.Vocab, fmt.Sprintf("tok%d", t)))
	}
	m.wLogp = G.NewScalar(n.g, G.Float64, G.WithName("wlogp"), G.WithValue(0.0))
	m.wEnt = G.NewScalar(n.g, G.Float64, G.WithName("went"), G.WithValue(0.0))
	var states []*G.Node
	var final *G.Node
	if s.head {
		// the encoder's final state is an input: sampling computes it once
		// per decision (an encoder machine) for all levels of the tree
		m.tokens = nil
		final = p.input(n, 2*p.sz.Hidden, "final")
		m.final = final
	} else {
		states, final = n.encodeOneHot(m.tokens)
		m.used = []string{"embed", "fw.wx", "fw.wh", "fw.b", "bw.wx", "bw.wh", "bw.b"}
	}
	var logp, ent *G.Node
	if s.encoder {
		m.probs = make([]G.Value, 1)
		G.Read(final, &m.probs[0])
		for _, name := range m.used {
			m.params[name] = tensor.New(tensor.WithShape(p.shapes[name]...), tensor.WithBacking(make([]float64, len(p.vals[name]))))
		}
		m.vm = G.NewTapeMachine(n.g)
		return m, nil
	}
	if s.multi {
		m.cand, m.chosen = p.input(n, s.T, "cand"), p.input(n, s.T, "chosen")
		zs := make([]*G.Node, s.T)
		for t := range zs {
			zs[t] = n.widerLogit(states[t])
		}
		z := zs[0]
		if s.T > 1 {
			z = G.Must(G.Concat(0, zs...))
		}
		pp, qq := G.Must(G.Sigmoid(z)), G.Must(G.Sigmoid(G.Must(G.Neg(z))))
		lp, lq := G.Must(G.Log(pp)), G.Must(G.Log(qq))
		notChosen := G.Must(G.Sub(m.cand, m.chosen))
		logp = G.Must(G.Sum(G.Must(G.Add(G.Must(G.HadamardProd(m.chosen, lp)), G.Must(G.HadamardProd(notChosen, lq))))))
		h := G.Must(G.Add(G.Must(G.HadamardProd(pp, lp)), G.Must(G.HadamardProd(qq, lq))))
		ent = G.Must(G.Neg(G.Must(G.Sum(G.Must(G.HadamardProd(m.cand, h))))))
		m.probs = make([]G.Value, 1)
		G.Read(pp, &m.probs[0])
		m.used = append(m.used, "wider.w", "wider.b")
	} else {
		dh := 2 * p.sz.Hidden
		h, cc := final, p.input(n, dh, "c0")
		sizes := []int{actspace.MaxBlocks, actspace.MaxPositions, p.sz.Options}
		heads := []string{"head.block", "head.pos", "head.opt"}
		prev := n.nodes["deep.start"]
		m.used = append(m.used, "deep.wx", "deep.wh", "deep.b", "deep.start")
		m.probs = make([]G.Value, s.level+1)
		for l := 0; l <= s.level; l++ {
			h, cc = n.lstm("deep", prev, h, cc, dh)
			mask := p.input(n, sizes[l], fmt.Sprintf("mask%d", l))
			one := p.input(n, sizes[l], fmt.Sprintf("one%d", l))
			eps := p.input(n, sizes[l], fmt.Sprintf("eps%d", l))
			logits := G.Must(G.Add(G.Must(G.Add(G.Must(G.Mul(n.nodes[heads[l]+".w"], h)), n.nodes[heads[l]+".b"])), mask))
			probs := G.Must(G.SoftMax(logits))
			G.Read(probs, &m.probs[l])
			logs := G.Must(G.Log(G.Must(G.Add(probs, eps))))
			acc(&logp, G.Must(G.Sum(G.Must(G.HadamardProd(one, logs)))))
			acc(&ent, G.Must(G.Neg(G.Must(G.Sum(G.Must(G.HadamardProd(probs, logs)))))))
			m.mask, m.one, m.eps = append(m.mask, mask), append(m.one, one), append(m.eps, eps)
			m.used = append(m.used, heads[l]+".w", heads[l]+".b")
			if l < s.level {
				emb := []string{"deep.blockemb", "deep.posemb"}[l]
				prev = G.Must(G.Mul(n.nodes[emb], one))
				m.used = append(m.used, emb)
			}
		}
	}
	total := G.Must(G.Add(G.Must(G.Mul(m.wLogp, logp)), G.Must(G.Mul(m.wEnt, ent))))
	G.Read(total, &m.total)
	for _, name := range m.used {
		m.params[name] = tensor.New(tensor.WithShape(p.shapes[name]...), tensor.WithBacking(make([]float64, len(p.vals[name]))))
	}
	if s.fwd {
		m.vm = G.NewTapeMachine(n.g)
		return m, nil
	}
	wrt := make([]*G.Node, len(m.used))
	for k, name := range m.used {
		wrt[k] = n.nodes[name]
	}
	if _, err := G.Grad(G.Must(G.Neg(total)), wrt...); err != nil {
		return nil, err
	}
	m.vm = G.NewTapeMachine(n.g)
	return m, nil
}

func acc(dst **G.Node, x *G.Node) {
	if *dst == nil {
		*dst = x
	} else {
		*dst = G.Must(G.Add(*dst, x))
	}
}

func dense(v []float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))
}

func (m *machine) let(node *G.Node, v []float64) error {
	return G.Let(node, dense(v))
}

// run binds the current parameters and the decision's inputs, executes the
// machine, and returns the objective term; gradients are then in the nodes.
func (m *machine) run(p *policy, d decision, wLogp, wEnt float64) (float64, error) {
	return m.runWith(p, d, wLogp, wEnt, nil)
}

// runWith is run for head machines, which also take the encoder's final state.
func (m *machine) runWith(p *policy, d decision, wLogp, wEnt float64, final []float64) (float64, error) {
	m.vm.Reset()
	if m.final != nil {
		if err := m.let(m.final, final); err != nil {
			return 0, err
		}
	}
	for name, t := range m.params {
		copy(t.Float64s(), p.vals[name])
		if err := G.Let(m.n.nodes[name], t); err != nil {
			return 0, err
		}
	}
	for t := 0; t < len(m.tokens); t++ {
		tok := d.Tokens[t]
		v := make([]float64, p.sz.Vocab)
		v[tok] = 1
		if err := m.let(m.tokens[t], v); err != nil {
			return 0, err
		}
	}
	G.Let(m.wLogp, wLogp)
	G.Let(m.wEnt, wEnt)
	switch {
	case m.cand != nil:
		cand, chosen := make([]float64, len(d.Tokens)), make([]float64, len(d.Tokens))
		for k, pos := range d.Positions {
			cand[pos] = 1
			if k < len(d.Chosen) && d.Chosen[k] {
				chosen[pos] = 1
			}
		}
		m.let(m.cand, cand)
		m.let(m.chosen, chosen)
	case m.mask != nil:
		valid := [][]bool{d.BlockValid, d.PosValid, d.OptValid}
		choice := []int{d.Block, d.Pos, d.Opt}
		for l := range m.mask {
			size := []int{actspace.MaxBlocks, actspace.MaxPositions, p.sz.Options}[l]
			mask, one, eps := make([]float64, size), make([]float64, size), make([]float64, size)
			for i := range mask {
				eps[i] = 1e-12
				if valid[l] == nil || i >= len(valid[l]) || !valid[l][i] {
					mask[i] = -1e9
				}
			}
			if choice[l] >= 0 {
				one[choice[l]] = 1
			}
			m.let(m.mask[l], mask)
			m.let(m.one[l], one)
			m.let(m.eps[l], eps)
		}
	}
	if err := m.vm.RunAll(); err != nil {
		return 0, err
	}
	if m.total == nil { // encoder machine
		return 0, nil
	}
	return values(m.total)[0], nil
}

// grads reads dJ/dparam after run (the graph differentiates -J).
func (m *machine) grads() (map[string][]float64, error) {
	out := map[string][]float64{}
	for _, name := range m.used {
		gv, err := m.n.nodes[name].Grad()
		if err != nil {
			return nil, err
		}
		g := values(gv)
		for i := range g {
			g[i] = -g[i]
		}
		out[name] = g
	}
	return out, nil
}
