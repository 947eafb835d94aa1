package gorgoniabench

import (
	"fmt"
	"math"
	"math/rand"

	_ "go4.org/unsafe/assume-no-moving-gc" // gorgonia's deps panic at init on new Go releases without it
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Trainer is the Table 1 network as one gorgonia graph with its backward pass,
// a tape machine that runs both, and a momentum SGD solver. The input batch
// and labels are fixed random values bound once: only the speed of a step is
// of interest.
type Trainer struct {
	Batch int

	g          *G.ExprGraph
	vm         G.VM
	solver     G.Solver
	learnables G.Nodes
	cost       G.Value
	bnOps      []*G.BatchNormOp
}

// Classes is the number of output classes of the Table 1 network.
const Classes = 10

// BuildTable1 builds the Table 1 network for batches of batch 3x32x32 images:
// conv16-BN-ReLU-max2, conv32-BN-ReLU-max2, conv64-BN-ReLU-max2,
// conv128-BN-ReLU-avg4, FC256 (no bias)-BN-ReLU, FC10 with bias, softmax
// cross-entropy. Convolutions are 3x3, stride 1, same padding, no bias.
func BuildTable1(batch int) (t *Trainer, err error) {
	if batch < 1 {
		return nil, fmt.Errorf("gorgoniabench: batch must be positive, got %d", batch)
	}
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("gorgoniabench: building the graph: %v", r)
		}
	}()
	r := rand.New(rand.NewSource(1))
	t = &Trainer{Batch: batch, g: G.NewGraph()}
	g := t.g

	randn := func(scale float64, shape ...int) *tensor.Dense {
		n := 1
		for _, s := range shape {
			n *= s
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(r.NormFloat64() * scale)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	}
	fill := func(v float32, shape ...int) *tensor.Dense {
		n := 1
		for _, s := range shape {
			n *= s
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = v
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	}
	param := func(name string, v *tensor.Dense) *G.Node {
		n := G.NewTensor(g, G.Float32, v.Dims(), G.WithShape(v.Shape().Clone()...), G.WithName(name), G.WithValue(v))
		t.learnables = append(t.learnables, n)
		return n
	}
	// bn is gorgonia's BatchNorm (training mode: batch statistics) with a
	// per-channel scale and shift broadcast over the other axes.
	bn := func(name string, x *G.Node) *G.Node {
		c := x.Shape()[1]
		shape := []int{1, c}
		if x.Dims() == 4 {
			shape = []int{1, c, 1, 1}
		}
		gamma := param(name+".gamma", fill(1, shape...))
		beta := param(name+".beta", fill(0, shape...))
		y, _, _, op, err := G.BatchNorm(x, gamma, beta, 0.9, 1e-5)
		if err != nil {
			panic(err)
		}
		t.bnOps = append(t.bnOps, op)
		return y
	}
	xv := randn(1, batch, 3, 32, 32)
	x := G.NewTensor(g, G.Float32, 4, G.WithShape(batch, 3, 32, 32), G.WithName("x"), G.WithValue(xv))
	h := x
	in := 3
	for i, out := range []int{16, 32, 64, 128} {
		name := fmt.Sprintf("conv%d", i)
		w := param(name+".w", randn(math.Sqrt(2/float64(9*in)), out, in, 3, 3))
		h = G.Must(G.Conv2d(h, w, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
		h = G.Must(G.Rectify(bn(name+".bn", h)))
		if i < 3 {
			h = G.Must(G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
		} else {
			h = G.Must(G.AveragePool2D(h, tensor.Shape{4, 4}, []int{0, 0}, []int{4, 4}))
		}
		in = out
	}
	h = G.Must(G.Reshape(h, tensor.Shape{batch, 128}))
	w := param("fc.w", randn(math.Sqrt(2/128.0), 128, 256))
	h = G.Must(G.Mul(h, w))
	h = G.Must(G.Rectify(bn("fc.bn", h)))
	w = param("out.w", randn(math.Sqrt(1/256.0), 256, Classes))
	b := param("out.b", fill(0, 1, Classes))
	logits := G.Must(G.BroadcastAdd(G.Must(G.Mul(h, w)), b, nil, []byte{0}))

	labels := make([]float32, batch*Classes)
	for i := 0; i < batch; i++ {
		labels[i*Classes+r.Intn(Classes)] = 1
	}
	y := G.NewMatrix(g, G.Float32, G.WithShape(batch, Classes), G.WithName("y"),
		G.WithValue(tensor.New(tensor.WithShape(batch, Classes), tensor.WithBacking(labels))))
	logp := G.Must(G.LogSoftMax(logits, 1))
	cost := G.Must(G.Neg(G.Must(G.Mean(G.Must(G.Sum(G.Must(G.HadamardProd(logp, y)), 1))))))
	G.Read(cost, &t.cost)

	if _, err := G.Grad(cost, t.learnables...); err != nil {
		return nil, fmt.Errorf("gorgoniabench: gradient: %w", err)
	}
	t.vm = G.NewTapeMachine(g, G.BindDualValues(t.learnables...))
	t.solver = G.NewMomentum(G.WithLearnRate(0.01), G.WithMomentum(0.9), G.WithL2Reg(1e-4))
	return t, nil
}

// Step runs one training step: forward, backward and a momentum SGD update.
func (t *Trainer) Step() error {
	defer t.vm.Reset()
	if err := t.vm.RunAll(); err != nil {
		return fmt.Errorf("gorgoniabench: run: %w", err)
	}
	if err := t.solver.Step(G.NodesToValueGrads(t.learnables)); err != nil {
		return fmt.Errorf("gorgoniabench: solver: %w", err)
	}
	return nil
}

// Loss is the cross-entropy of the last Step, before its update.
func (t *Trainer) Loss() float64 {
	switch v := t.cost.(type) {
	case *G.F32:
		return float64(*v)
	case *G.F64:
		return float64(*v)
	case tensor.Tensor:
		if d, ok := v.Data().(float32); ok {
			return float64(d)
		}
	}
	return math.NaN()
}

// Close releases the tape machine.
func (t *Trainer) Close() error { return t.vm.Close() }
