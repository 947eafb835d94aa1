package refnet

import (
	"fmt"
	"math"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Options of a forward pass.
type Options struct {
	// Train uses batch statistics in BatchNorm (biased variance) instead of
	// running statistics.
	Train bool
	// Keep decides dropout in training mode: unit i of node id is kept (and
	// scaled by 1/(1-rate)) when Keep(id, i). Nil means dropout is the
	// identity, as in evaluation.
	Keep func(id, i int) bool
}

// Params converts float32 parameters to float64.
func Params(m tensor.Map) map[string][]float64 {
	out := map[string][]float64{}
	for k, t := range m {
		v := make([]float64, len(t.Data))
		for i, x := range t.Data {
			v[i] = float64(x)
		}
		out[k] = v
	}
	return out
}

// Forward runs g on b examples x (b*C*H*W values) and returns every node's
// activations; the logits are act[g.Output()]. A missing or misshaped
// parameter is an error.
func Forward(g *ir.Graph, p map[string][]float64, x []float64, b int, o Options) ([][]float64, error) {
	for _, q := range g.Params() {
		if len(p[q.Name]) != q.Size() {
			return nil, fmt.Errorf("refnet: parameter %s has %d values, want %d", q.Name, len(p[q.Name]), q.Size())
		}
	}
	if len(x) != b*g.Input.Size() {
		return nil, fmt.Errorf("refnet: %d input values for %d images of %v", len(x), b, g.Input)
	}
	act := make([][]float64, len(g.Nodes))
	act[0] = x
	for _, nd := range g.Nodes[1:] {
		in := g.Nodes[nd.Inputs[0]].Out
		src := act[nd.Inputs[0]]
		out := make([]float64, b*nd.Out.Size())
		switch nd.Op {
		case ir.OpConv:
			conv(nd, in, src, p[nd.Name+".weight"], p[nd.Name+".bias"], out, b)
		case ir.OpBN:
			bn(nd, in, src, p, out, b, o.Train)
		case ir.OpReLU:
			for k, v := range src {
				out[k] = math.Max(v, 0)
			}
		case ir.OpDropout:
			for k, v := range src {
				switch {
				case !o.Train || o.Keep == nil || nd.Rate == 0:
					out[k] = v
				case o.Keep(nd.ID, k):
					out[k] = v / (1 - nd.Rate)
				}
			}
		case ir.OpMaxPool, ir.OpAvgPool:
			pool(nd, in, src, out, b)
		case ir.OpGAP:
			hw := in.H * in.W
			for pl := 0; pl < b*in.C; pl++ {
				for j := 0; j < hw; j++ {
					out[pl] += src[pl*hw+j] / float64(hw)
				}
			}
		case ir.OpFC, ir.OpLinear:
			w, bias := p[nd.Name+".weight"], p[nd.Name+".bias"]
			d := in.Size()
			for i := 0; i < b; i++ {
				for u := 0; u < nd.Units; u++ {
					var s float64
					if bias != nil {
						s = bias[u]
					}
					for j := 0; j < d; j++ {
						s += w[u*d+j] * src[i*d+j]
					}
					out[i*nd.Units+u] = s
				}
			}
		case ir.OpConcat:
			o := 0
			for i := 0; i < b; i++ {
				for _, id := range nd.Inputs {
					sz := g.Nodes[id].Out.Size()
					copy(out[o:o+sz], act[id][i*sz:(i+1)*sz])
					o += sz
				}
			}
		case ir.OpAdd:
			for _, id := range nd.Inputs {
				for k, v := range act[id] {
					out[k] += v
				}
			}
		default:
			return nil, fmt.Errorf("refnet: unsupported op %s", nd.Op)
		}
		act[nd.ID] = out
	}
	return act, nil
}

// Logits is Forward's last activation, for float32 inputs and parameters.
func Logits(g *ir.Graph, params tensor.Map, x *tensor.Tensor, o Options) ([]float64, error) {
	xs := make([]float64, len(x.Data))
	for i, v := range x.Data {
		xs[i] = float64(v)
	}
	act, err := Forward(g, Params(params), xs, len(x.Data)/g.Input.Size(), o)
	if err != nil {
		return nil, err
	}
	return act[g.Output()], nil
}

func conv(nd ir.Node, in ir.Shape, src, w, bias, out []float64, b int) {
	for i := 0; i < b; i++ {
		for f := 0; f < nd.Filters; f++ {
			for oy := 0; oy < nd.Out.H; oy++ {
				for ox := 0; ox < nd.Out.W; ox++ {
					var s float64
					if bias != nil {
						s = bias[f]
					}
					for c := 0; c < in.C; c++ {
						for ki := 0; ki < nd.Kernel; ki++ {
							iy := oy*nd.Stride - nd.Pad + ki
							if iy < 0 || iy >= in.H {
								continue
							}
							for kj := 0; kj < nd.Kernel; kj++ {
								ix := ox*nd.Stride - nd.Pad + kj
								if ix < 0 || ix >= in.W {
									continue
								}
								s += w[((f*in.C+c)*nd.Kernel+ki)*nd.Kernel+kj] * src[((i*in.C+c)*in.H+iy)*in.W+ix]
							}
						}
					}
					out[((i*nd.Filters+f)*nd.Out.H+oy)*nd.Out.W+ox] = s
				}
			}
		}
	}
}

func bn(nd ir.Node, in ir.Shape, src []float64, p map[string][]float64, out []float64, b int, train bool) {
	gm, bt := p[nd.Name+".weight"], p[nd.Name+".bias"]
	rm, rv := p[nd.Name+".running_mean"], p[nd.Name+".running_var"]
	hw := in.H * in.W
	for c := 0; c < in.C; c++ {
		mean, vr := rm[c], rv[c]
		if train {
			mean, vr = 0, 0
			for i := 0; i < b; i++ {
				for j := 0; j < hw; j++ {
					mean += src[(i*in.C+c)*hw+j]
				}
			}
			mean /= float64(b * hw)
			for i := 0; i < b; i++ {
				for j := 0; j < hw; j++ {
					d := src[(i*in.C+c)*hw+j] - mean
					vr += d * d
				}
			}
			vr /= float64(b * hw)
		}
		for i := 0; i < b; i++ {
			for j := 0; j < hw; j++ {
				k := (i*in.C+c)*hw + j
				out[k] = (src[k]-mean)/math.Sqrt(vr+ir.BNEps)*gm[c] + bt[c]
			}
		}
	}
}

func pool(nd ir.Node, in ir.Shape, src, out []float64, b int) {
	for pl := 0; pl < b*in.C; pl++ {
		for oy := 0; oy < nd.Out.H; oy++ {
			for ox := 0; ox < nd.Out.W; ox++ {
				best, sum := math.Inf(-1), 0.0
				for ki := 0; ki < nd.Kernel; ki++ {
					for kj := 0; kj < nd.Kernel; kj++ {
						v := src[pl*in.H*in.W+(oy*nd.Stride+ki)*in.W+ox*nd.Stride+kj]
						best = math.Max(best, v)
						sum += v
					}
				}
				o := &out[pl*nd.Out.H*nd.Out.W+oy*nd.Out.W+ox]
				if nd.Op == ir.OpMaxPool {
					*o = best
				} else {
					*o = sum / float64(nd.Kernel*nd.Kernel)
				}
			}
		}
	}
}
