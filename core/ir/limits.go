package ir

import (
	"fmt"
	"math"
)

// Limits on what an architecture may ask for. They are far beyond any
// network that trains on one machine; they exist so that checking,
// costing and memory estimates stay fast and free of integer overflow on
// hostile input. Whether a network fits in memory is Memory's business.
const (
	MaxLayers    = 10000   // written layers, and dense layers over all blocks
	MaxWidth     = 1 << 24 // filters, units, classes, growth, bottleneck, input channels
	MaxKernel    = 1 << 10 // kernel sizes and strides
	MaxInputSide = 1 << 14 // input height and width
	MaxParams    = 1 << 36 // parameters of the whole network (~69 billion)
	MaxMAdds     = 1 << 52 // forward multiply-adds per example
	MaxElements  = 1 << 40 // values of one node's output per example
)

// atMost appends "K: what must be at most max, got v" for argument i when v > max.
func atMost(ps []ArgProblem, kind string, i int, what string, v, max int) []ArgProblem {
	if v > max {
		ps = append(ps, ArgProblem{Arg: i, Msg: fmt.Sprintf("%s: %s must be at most %d, got %d", kind, what, max, v)})
	}
	return ps
}

// inRange is atLeast then atMost.
func inRange(ps []ArgProblem, kind string, i int, what string, v, min, max int) []ArgProblem {
	if v < min {
		return atLeast(ps, kind, i, what, v, min)
	}
	return atMost(ps, kind, i, what, v, max)
}

// budget accumulates a network's size while it is built, in float64 so that
// hostile sizes cannot overflow before they are refused.
type budget struct{ params, madds float64 }

// add counts the nodes from id on; a non-empty string says which limit the
// network passes.
func (b *budget) add(g *Graph, from int) string {
	for _, n := range g.Nodes[from:] {
		out := float64(n.Out.C) * float64(n.Out.H) * float64(n.Out.W)
		if out > MaxElements {
			return fmt.Sprintf("a %s node's output would have %.3g values per example; the limit is %.3g", n.Op, out, float64(MaxElements))
		}
		in := g.in(n)
		info := ops[n.Op]
		if info.params != nil {
			info.params(n, in, func(p Param) {
				if p.Trainable() {
					v := 1.0
					for _, d := range p.Shape {
						v *= float64(d)
					}
					b.params += v
				}
			})
		}
		if info.madds != nil {
			b.madds += info.madds(n, in)
		}
	}
	switch {
	case b.params > MaxParams:
		return fmt.Sprintf("the network would have %.3g parameters; the limit is %.3g", b.params, float64(MaxParams))
	case b.madds > MaxMAdds:
		return fmt.Sprintf("the network would need %.3g multiply-adds per example; the limit is %.3g", b.madds, float64(MaxMAdds))
	}
	return ""
}

// Memory estimates, in bytes, what training a graph on the CPU engine
// allocates: float32 weights, one gradient and one momentum buffer per
// trainable weight, every node's output and its gradient for a batch, and
// the convolutions' im2col buffers. It is an estimate for refusing what
// cannot fit before anything is allocated, not an accounting.
type Memory struct {
	Params      int64 // weights and BatchNorm statistics
	Grads       int64 // one gradient per trainable weight
	Optimizer   int64 // SGD momentum, one per trainable weight
	Activations int64 // node outputs and their gradients for the batch
	Workspace   int64 // im2col patch matrices of the convolutions
}

// Total is the sum of the parts (saturating).
func (m Memory) Total() int64 {
	return sat(float64(m.Params) + float64(m.Grads) + float64(m.Optimizer) + float64(m.Activations) + float64(m.Workspace))
}

// The CPU engine's im2col bounds, in floats (core/nn's colBudget and
// bandBudget; core/nn's TestMemoryEstimate checks the estimate against
// what the engine allocates).
const (
	colChunk = 1 << 15 // one worker's patches of several images per GEMM
	colBand  = 1 << 17 // one band of output rows, for larger images
	minCols  = 128     // tiny maps gather images up to this many columns
)

// Memory estimates training memory for batches of batch examples on an
// engine with workers worker goroutines (each has its own im2col buffers).
func (g *Graph) Memory(batch, workers int) Memory {
	const f32 = 4
	var params, trainable, act, work float64
	bf, wf := float64(batch), float64(max(workers, 1))
	for _, n := range g.Nodes {
		in := g.in(n)
		act += 2 * bf * float64(n.Out.C) * float64(n.Out.H) * float64(n.Out.W)
		if info := ops[n.Op]; info.params != nil {
			info.params(n, in, func(p Param) {
				v := 1.0
				for _, d := range p.Shape {
					v *= float64(d)
				}
				params += v
				if p.Trainable() {
					trainable += v
				}
			})
		}
		if n.Op == OpConv {
			work += convWorkspace(n, in, bf, wf)
		}
	}
	return Memory{Params: sat(params * f32), Grads: sat(trainable * f32), Optimizer: sat(trainable * f32),
		Activations: sat(act * f32), Workspace: sat(work * f32)}
}

// convWorkspace mirrors the engine's convolution buffers (floats): per
// worker patch, patch gradient, output and weight-gradient buffers for a
// chunk of images or a band of output rows of one image.
func convWorkspace(n Node, in Shape, batch, workers float64) float64 {
	if winograd(n, in, batch, workers) {
		return winoWorkspace(n, in, batch, workers)
	}
	ckk := float64(in.C) * float64(n.Kernel) * float64(n.Kernel)
	ho, wo := float64(n.Out.H), float64(n.Out.W)
	hw := ho * wo
	direct := n.Kernel == 1 && n.Stride == 1 && n.Pad == 0
	chunk := math.Floor(colChunk / (ckk * hw))
	if hw < minCols {
		chunk = math.Max(chunk, math.Min(math.Ceil(minCols/hw), math.Floor(colBand/(ckk*hw))))
	}
	chunk = math.Min(chunk, batch)
	var cols float64
	switch {
	case direct:
		chunk, cols = 1, hw
	case chunk >= 2:
		cols = chunk * hw
	default:
		chunk = 1
		rb := math.Max(1, math.Min(ho, math.Floor(colBand/(ckk*wo))))
		nb := math.Ceil(ho / rb)
		cols = math.Ceil(ho/nb) * wo
	}
	var per float64
	if !direct {
		per += 2 * ckk * cols // the patches and their gradient
	}
	if chunk > 1 {
		per += float64(n.Filters) * cols
	}
	per += float64(n.Filters) * ckk
	return workers * per
}

// sat converts to int64, saturating at MaxInt64.
func sat(v float64) int64 {
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// Bytes formats a byte count for people: "1.5 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 6 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i-1])
}
