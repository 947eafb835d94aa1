package netedit

import (
	"context"
	"fmt"
	"math"
	"math/rand"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	_ "github.com/eas-go/eas/core/nn" // the CPU engine, engine.Default
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
)

// Remap is Net2Net's mapping G from new units to old: G(j) = j for j < old,
// random in [0, old) beyond.
func Remap(old, new int, r *rand.Rand) []int {
	g := make([]int, new)
	for j := range g {
		if j < old {
			g[j] = j
		} else {
			g[j] = r.Intn(old)
		}
	}
	return g
}

// Counts is the number of new units mapped to each old unit.
func Counts(g []int, old int) []int {
	c := make([]int, old)
	for _, s := range g {
		c[s]++
	}
	return c
}

// NoiseScale resolves a request's noise: negative means def.
func NoiseScale(req float64, def float64) float64 {
	if req < 0 {
		return def
	}
	return req
}

// Std is the standard deviation of v.
func Std(v []float32) float64 {
	var s, sq float64
	for _, x := range v {
		s += float64(x)
		sq += float64(x) * float64(x)
	}
	n := float64(len(v))
	if n == 0 {
		return 0
	}
	m := s / n
	return math.Sqrt(math.Max(sq/n-m*m, 0))
}

// Shift renames parameters of layers numbered > after to number+by, as an
// insertion after layer `after` requires. Tensors are shared, not copied.
func Shift(m tensor.Map, after, by int) tensor.Map {
	out := tensor.Map{}
	for k, v := range m {
		out[ir.ShiftLayers(k, after, by)] = v
	}
	return out
}

// Clone returns a map with the same tensors (shallow): transforms replace the
// tensors they change and never write into the parent's.
func Clone(m tensor.Map) tensor.Map {
	out := tensor.Map{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// CheckWeights verifies that weights fit arch, naming the first problem. A
// network without weights (nil: an architecture-only dry run) passes; the
// transforms then change the architecture alone.
func CheckWeights(net sdk.Network) (*ir.Graph, error) {
	g, err := ir.Lower(net.Arch, net.Input)
	if err != nil {
		return nil, err
	}
	if net.Weights == nil {
		return g, nil
	}
	for _, p := range g.Params() {
		t, ok := net.Weights[p.Name]
		if !ok {
			return nil, fmt.Errorf("weights lack %s", p.Name)
		}
		if !t.SameShape(p.Shape) {
			return nil, fmt.Errorf("weight %s has shape %v, the architecture needs %v", p.Name, t.Shape, p.Shape)
		}
	}
	return g, nil
}

// Activations runs a host batch through net and returns the activations of
// node id, with the batch size. It uses training mode (batch statistics), as
// the first training step on that batch will, so a BatchNorm set from these
// statistics is an identity there as well as in evaluation mode. It runs on
// the training engine (float32; the statistics need no more precision) with
// a copy of the weights, since training mode updates BN running averages.
// It opens engine.Default through the registry (the CPU engine, registered
// by the import below): statistics computed in float32 on the CPU keep
// transforms reproducible whatever engine trains the children.
func Activations(ctx context.Context, host sdk.Host, g *ir.Graph, w tensor.Map, id, n int) ([]float64, int, error) {
	if host == nil {
		return nil, 0, fmt.Errorf("this transform needs a data batch, but no host was given")
	}
	x, err := host.Batch(ctx, n)
	if err != nil {
		return nil, 0, fmt.Errorf("getting a data batch from the host: %w", err)
	}
	if len(x.Data)%g.Input.Size() != 0 || len(x.Data) == 0 {
		return nil, 0, fmt.Errorf("the host's batch has %d values, not whole %v images", len(x.Data), g.Input)
	}
	b := len(x.Data) / g.Input.Size()
	// Dropout off: the statistics are those of the expected activations.
	g = g.Clone()
	for i := range g.Nodes {
		if g.Nodes[i].Op == ir.OpDropout {
			g.Nodes[i].Rate = 0
		}
	}
	be, err := engine.Open(engine.Default, engine.Options{})
	if err != nil {
		return nil, 0, err
	}
	net, err := be.Build(g, w.Clone(), engine.ModelConfig{MaxBatch: b})
	if err != nil {
		return nil, 0, err
	}
	defer net.Close()
	if err := net.Forward(tensor.FromData(x.Data, b, g.Input.C, g.Input.H, g.Input.W), true); err != nil {
		return nil, 0, err
	}
	out := net.Output(id)
	if out == nil {
		return nil, 0, fmt.Errorf("internal: node %d's activations are not kept by the engine", id)
	}
	act := make([]float64, len(out))
	for i, v := range out {
		act[i] = float64(v)
	}
	return act, b, nil
}

// ChannelStats is the per-channel mean, variance and minimum of NCHW activations.
func ChannelStats(a []float64, b int, s ir.Shape) (mean, variance, minimum []float64) {
	hw := s.H * s.W
	mean, variance, minimum = make([]float64, s.C), make([]float64, s.C), make([]float64, s.C)
	for c := 0; c < s.C; c++ {
		var sum, sq float64
		mn := math.Inf(1)
		for i := 0; i < b; i++ {
			for _, v := range a[(i*s.C+c)*hw : (i*s.C+c+1)*hw] {
				sum += v
				sq += v * v
				mn = math.Min(mn, v)
			}
		}
		n := float64(b * hw)
		mean[c] = sum / n
		variance[c] = math.Max(sq/n-mean[c]*mean[c], 0)
		minimum[c] = mn
	}
	return
}

// IdentityBN returns BN parameters that make BatchNorm the identity in
// evaluation mode for inputs with these statistics: running mean/var from
// the batch, gamma = sqrt(var + eps), beta = mean (plus shift).
func IdentityBN(prefix string, mean, variance, shift []float64) tensor.Map {
	c := len(mean)
	m := tensor.Map{}
	g, b, rm, rv := tensor.New(c), tensor.New(c), tensor.New(c), tensor.New(c)
	for i := 0; i < c; i++ {
		rm.Data[i], rv.Data[i] = float32(mean[i]), float32(variance[i])
		// gamma from the float32 variance, so (x-mean)/sqrt(var+eps)*gamma is x.
		g.Data[i] = float32(math.Sqrt(float64(rv.Data[i]) + ir.BNEps))
		b.Data[i] = rm.Data[i]
		if shift != nil {
			b.Data[i] = float32(float64(rm.Data[i]) + shift[i])
		}
	}
	for i, t := range []*tensor.Tensor{g, b, rm, rv} {
		m[ir.Tensor(prefix, ir.BNTensors[i])] = t
	}
	return m
}

// Layer checks a 1-based layer argument.
func Layer(a ir.Arch, args map[string]int, key string) (int, error) {
	l, ok := args[key]
	if !ok {
		return 0, fmt.Errorf("missing argument %q", key)
	}
	if l < 1 || l > len(a.Layers) {
		return 0, fmt.Errorf("%s=%d is out of range: the network has layers 1..%d", key, l, len(a.Layers))
	}
	return l, nil
}
