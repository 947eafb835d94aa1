package nn

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Options are a Net's engine settings. The zero value is the default: all
// CPUs, fusion on.
type Options struct {
	// Workers is the number of goroutines layers split their work over
	// (0: runtime.NumCPU()). Results depend on it through the order of
	// per-worker partial sums, so a seed reproduces a run only with the same
	// count.
	Workers int
	// NoFusion runs BN and its ReLU as two layers (for comparing both paths).
	NoFusion bool
	// NoWinograd runs 3x3 convolutions through im2col even where the
	// Winograd F(2x2,3x3) path would be chosen (for comparing both paths).
	NoWinograd bool
}

// layer is one node's forward and backward. Layers read the net's current
// batch size and buffers; backward writes (or, for nodes with several
// consumers, adds) the input gradient and sets its parameters' gradients.
type layer interface {
	forward(train bool)
	backward()
}

// Net executes an ir.Graph. It uses the tensors of the params map it was
// built with in place: training updates them, and callers see the updates.
type Net struct {
	G        *ir.Graph
	MaxBatch int
	Classes  int

	// Seed drives dropout masks, together with a step counter.
	Seed int64
	// BN settings (ir.BNEps, ir.BNMomentum unless a test changes them).
	BNEps, BNMomentum float32

	params  tensor.Map
	grads   map[string][]float32
	size    []int       // per-example element count of each node
	act     [][]float32 // activations, MaxBatch*size
	grad    [][]float32 // activation gradients
	layers  []layer
	batch   int
	step    uint64
	train   bool
	labels  []int32
	probs   []float32
	prof    *profile      // per-layer times while profiling (SetProfiling)
	logits  tensor.Tensor // Forward's result, reused so a step allocates nothing
	lshape  [2]int
	opts    Options
	workers int
}

// InitParams returns freshly initialised parameters for g: He-normal
// conv/FC weights (std sqrt(2/fan_in)), final linear layer std sqrt(1/fan_in),
// zero biases, BN gamma 1, beta 0, running mean 0, running variance 1.
func InitParams(g *ir.Graph, seed int64) tensor.Map {
	r := rand.New(rand.NewSource(seed))
	m := tensor.Map{}
	for _, p := range g.Params() {
		t := tensor.New(p.Shape...)
		switch p.Role {
		case ir.RoleWeight:
			std := math.Sqrt(2 / float64(p.FanIn))
			if g.Nodes[p.Node].Op == ir.OpLinear {
				std = math.Sqrt(1 / float64(p.FanIn))
			}
			for i := range t.Data {
				t.Data[i] = float32(r.NormFloat64() * std)
			}
		case ir.RoleGamma, ir.RoleVar:
			for i := range t.Data {
				t.Data[i] = 1
			}
		}
		m[p.Name] = t
	}
	return m
}

// Build prepares g for batches of up to maxBatch examples with the default
// Options. Every parameter of g.Params() must be in params with the right
// shape; the error names the first one that is missing or misshaped.
func Build(g *ir.Graph, params tensor.Map, maxBatch int) (*Net, error) {
	return BuildWith(g, params, maxBatch, Options{})
}

// BuildWith is Build with explicit engine settings.
func BuildWith(g *ir.Graph, params tensor.Map, maxBatch int, o Options) (*Net, error) {
	if maxBatch < 1 {
		return nil, fmt.Errorf("nn: batch size must be positive, got %d", maxBatch)
	}
	if o.Workers < 0 {
		return nil, fmt.Errorf("nn: worker count must not be negative, got %d", o.Workers)
	}
	for _, p := range g.Params() {
		t, ok := params[p.Name]
		if !ok {
			return nil, fmt.Errorf("nn: parameter %s (%v) is missing", p.Name, p.Shape)
		}
		if !t.SameShape(p.Shape) || len(t.Data) != p.Size() {
			return nil, fmt.Errorf("nn: parameter %s has shape %v, the architecture needs %v", p.Name, t.Shape, p.Shape)
		}
	}
	n := &Net{G: g, MaxBatch: maxBatch, params: params, grads: map[string][]float32{},
		BNEps: ir.BNEps, BNMomentum: ir.BNMomentum, opts: o, workers: o.Workers}
	if n.workers == 0 {
		n.workers = runtime.NumCPU()
	}
	n.Classes = g.Nodes[g.Output()].Out.C
	n.size = make([]int, len(g.Nodes))
	n.act = make([][]float32, len(g.Nodes))
	n.grad = make([][]float32, len(g.Nodes))
	for i, nd := range g.Nodes {
		n.size[i] = nd.Out.Size()
		n.act[i] = make([]float32, maxBatch*n.size[i])
		// The input's gradient is not needed, but cheap layers reading the
		// input write it anyway (conv and FC skip it); it keeps them simple.
		n.grad[i] = make([]float32, maxBatch*n.size[i])
	}
	for _, p := range g.Params() {
		if p.Trainable() {
			n.grads[p.Name] = make([]float32, p.Size())
		}
	}
	n.probs = make([]float32, maxBatch*n.Classes)
	n.labels = make([]int32, maxBatch)
	// For each node input, decide whether backward writes or adds: the
	// consumer that runs first in backward (highest ID) writes.
	written := make([]bool, len(g.Nodes))
	add := make([][]bool, len(g.Nodes))
	for i := len(g.Nodes) - 1; i > 0; i-- {
		nd := g.Nodes[i]
		add[i] = make([]bool, len(nd.Inputs))
		for j, in := range nd.Inputs {
			add[i][j] = written[in]
			written[in] = true
		}
	}
	consumers := make([]int, len(g.Nodes))
	for _, nd := range g.Nodes {
		for _, in := range nd.Inputs {
			consumers[in]++
		}
	}
	n.layers = make([]layer, len(g.Nodes))
	for i, nd := range g.Nodes {
		if i == 0 || n.layers[i] != nil {
			continue
		}
		l, err := n.newLayer(nd, add[i])
		if err != nil {
			return nil, err
		}
		// BN whose only consumer is the next node, a ReLU: fuse them.
		if nd.Op == ir.OpBN && !o.NoFusion && consumers[i] == 1 && i+1 < len(g.Nodes) &&
			g.Nodes[i+1].Op == ir.OpReLU && g.Nodes[i+1].Inputs[0] == i {
			l = newBNRelu(l.(*bnLayer), i+1)
			n.layers[i+1] = nopLayer{}
			n.act[i], n.grad[i] = nil, nil // never read
		}
		n.layers[i] = l
	}
	return n, nil
}

func (n *Net) newLayer(nd ir.Node, add []bool) (layer, error) {
	in := n.G.Nodes[nd.Inputs[0]]
	switch nd.Op {
	case ir.OpConv:
		return newConv(n, nd, in.Out, add[0]), nil
	case ir.OpBN:
		return newBN(n, nd, add[0]), nil
	case ir.OpReLU:
		return newReLU(n, nd.ID, nd.Inputs[0], add[0]), nil
	case ir.OpDropout:
		return newDropout(n, nd.ID, nd.Inputs[0], add[0], float32(nd.Rate)), nil
	case ir.OpMaxPool, ir.OpAvgPool:
		return newPool(n, nd, in.Out, add[0]), nil
	case ir.OpGAP:
		return newGAP(n, nd.ID, nd.Inputs[0], add[0], in.Out.C, in.Out.H*in.Out.W), nil
	case ir.OpFC, ir.OpLinear:
		return newFC(n, nd, in.Out.Size(), add[0]), nil
	case ir.OpConcat:
		return newConcat(n, nd, add), nil
	case ir.OpAdd:
		return newAdd(n, nd, add), nil
	}
	return nil, fmt.Errorf("nn: node %d: unsupported op %s", nd.ID, nd.Op)
}

// Params returns the live parameter map (the one given to Build).
func (n *Net) Params() tensor.Map { return n.params }

// Grads returns the gradients of the last Backward, by parameter name.
func (n *Net) Grads() map[string][]float32 { return n.grads }

// Workers is the number of goroutines the net splits its layers over.
func (n *Net) Workers() int { return n.workers }

// Batch is the size of the current batch.
func (n *Net) Batch() int { return n.batch }

// Forward runs the network on x ([B,C,H,W], B <= MaxBatch) and returns the
// logits [B, classes]; the returned tensor, header and data, is reused by the
// next call (so a step allocates nothing).
// In training mode BN uses batch statistics (and updates running averages)
// and dropout is active.
func (n *Net) Forward(x *tensor.Tensor, train bool) *tensor.Tensor {
	in := n.G.Input
	b := len(x.Data) / in.Size()
	if b < 1 || b > n.MaxBatch || b*in.Size() != len(x.Data) {
		panic(fmt.Sprintf("nn: input of %d values is not 1..%d images of %v", len(x.Data), n.MaxBatch, in))
	}
	n.batch, n.train = b, train
	copy(n.act[0], x.Data)
	if train {
		n.step++
	}
	if n.prof != nil {
		n.profForward(train)
	} else {
		for _, l := range n.layers[1:] {
			l.forward(train)
		}
	}
	n.lshape = [2]int{b, n.Classes}
	n.logits = tensor.Tensor{Shape: n.lshape[:], Data: n.act[n.G.Output()][:b*n.Classes]}
	return &n.logits
}

// Loss computes the mean softmax cross-entropy of the last Forward against
// labels, the number of correct predictions, and seeds the backward pass
// with d(loss)/d(logits). A label outside [0, classes) panics: data loaders
// validate labels.
func (n *Net) Loss(labels []int32) (loss float64, correct int) {
	out := n.G.Output()
	copy(n.labels, labels)
	return softmaxCrossEntropy(n.act[out][:n.batch*n.Classes], labels[:n.batch], n.Classes, n.probs, n.grad[out])
}

// Backward propagates the gradient set by Loss and fills Grads.
func (n *Net) Backward() {
	if n.prof != nil {
		n.profBackward()
		return
	}
	for i := len(n.layers) - 1; i > 0; i-- {
		n.layers[i].backward()
	}
}

// Output returns the activations of node id for the current batch (a view);
// nil for a BN node fused with its ReLU (read the ReLU's output instead).
func (n *Net) Output(id int) []float32 {
	if n.act[id] == nil {
		return nil
	}
	return n.act[id][:n.batch*n.size[id]]
}

func (n *Net) param(name string) []float32 { return n.params[name].Data }
