package verify

import (
	"context"
	"fmt"
	"math"
	"math/rand"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/refnet"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/plugins/sdk"
)

// SmallSpace keeps random networks small enough for the float64 reference.
func SmallSpace() ir.Space {
	return ir.Space{Kernels: []int{1, 3, 5}, Filters: []int{2, 3, 4, 6, 8, 12, 16}, Units: []int{3, 5, 8, 12, 16}, Growth: []int{2, 3, 4, 5, 6}}
}

// RandomArch returns a random valid architecture of a family for input in,
// with widths drawn from SmallSpace.
func RandomArch(r *rand.Rand, family ir.Family, in ir.Shape) ir.Arch {
	s := SmallSpace()
	pick := func(l []int) int { return l[r.Intn(len(l)-2)] } // leave room to widen
	for {
		var a ir.Arch
		if family == ir.FamilyDenseNet {
			a.Layers = append(a.Layers, ir.Layer{Kind: ir.Conv, Filters: pick(s.Filters), Kernel: 3, Stride: 1})
			blocks := 1 + r.Intn(2)
			for b := 0; b < blocks; b++ {
				db := ir.Layer{Kind: ir.DenseBlock}
				for j := 0; j < 1+r.Intn(3); j++ {
					g := pick(s.Growth)
					bn := ir.DefaultBottleneck(g)
					if r.Intn(3) == 0 {
						bn = 0
					}
					db.Dense = append(db.Dense, ir.DenseLayer{Growth: g, Bottleneck: bn})
				}
				a.Layers = append(a.Layers, db)
				if b < blocks-1 {
					a.Layers = append(a.Layers, ir.Layer{Kind: ir.Transition, Compression: 0.5})
				}
			}
			a.Layers = append(a.Layers, ir.Layer{Kind: ir.GAP})
		} else {
			for i := 0; i < 1+r.Intn(4); i++ {
				switch r.Intn(5) {
				case 0, 1, 2:
					a.Layers = append(a.Layers, ir.Layer{Kind: ir.Conv, Filters: pick(s.Filters), Kernel: s.Kernels[r.Intn(len(s.Kernels))], Stride: 1})
				case 3:
					a.Layers = append(a.Layers, ir.Layer{Kind: ir.Pool, Kernel: 2, Stride: 2, Op: ir.PoolOp(1 + r.Intn(2))})
				case 4:
					a.Layers = append(a.Layers, ir.Layer{Kind: ir.Dropout, Rate: 0.2})
				}
			}
			if r.Intn(2) == 0 {
				a.Layers = append(a.Layers, ir.Layer{Kind: ir.Conv, Filters: pick(s.Filters), Kernel: 3, Stride: 1})
			}
			if r.Intn(3) == 0 {
				a.Layers = append(a.Layers, ir.Layer{Kind: ir.GAP})
			}
			for i := 0; i < r.Intn(3); i++ {
				a.Layers = append(a.Layers, ir.Layer{Kind: ir.FC, Units: pick(s.Units)})
			}
		}
		a.Layers = append(a.Layers, ir.Layer{Kind: ir.Softmax, Units: 2 + r.Intn(4)})
		if a.Validate(in) == nil {
			return a
		}
	}
}

// RandomParams returns trained-looking weights: He-scaled weights, BN gamma
// in [0.5, 1.5), beta ~ N(0, 0.1), running mean ~ N(0, 0.2), variance in [0.5, 2).
func RandomParams(g *ir.Graph, r *rand.Rand) tensor.Map {
	m := tensor.Map{}
	for _, p := range g.Params() {
		t := tensor.New(p.Shape...)
		for i := range t.Data {
			var v float64
			switch p.Role {
			case ir.RoleWeight:
				v = r.NormFloat64() * math.Sqrt(2/float64(p.FanIn))
			case ir.RoleBias:
				v = r.NormFloat64() * 0.1
			case ir.RoleGamma:
				v = 0.5 + r.Float64()
			case ir.RoleBeta:
				v = r.NormFloat64() * 0.1
			case ir.RoleMean:
				v = r.NormFloat64() * 0.2
			case ir.RoleVar:
				v = 0.5 + 1.5*r.Float64()
			}
			t.Data[i] = float32(v)
		}
		m[p.Name] = t
	}
	return m
}

// Host serves seeded standard-normal batches.
type Host struct {
	Shape ir.Shape
	Seed  int64
}

// Batch returns n images; the same Host gives the same images.
func (h Host) Batch(_ context.Context, n int) (*tensor.Tensor, error) {
	r := rand.New(rand.NewSource(h.Seed))
	t := tensor.New(n, h.Shape.C, h.Shape.H, h.Shape.W)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t, nil
}

// HostBatch is the batch size transforms are expected to ask the host for.
const HostBatch = 64

// Report summarises a preservation check.
type Report struct {
	Cases      int     // networks tried
	Applied    int     // transforms applied (cases with at least one valid action)
	MaxRelDiff float64 // worst max|a-b|/max|a| over all cases
	Worst      string  // the case with the worst difference
	Failures   []string
}

// Options of a preservation check.
type Options struct {
	Family ir.Family
	Cases  int
	Seed   int64
	Noise  float64 // 0 for exact copies; negative for the transform's default
	Steps  int     // actions applied in a chain per case (default 1)
	Tol    float64 // failures are cases above this relative difference (0: record none)
	Train  bool    // compare in training mode (batch statistics) on the host batch
	Graphs bool    // random graphs (RandomGraph) instead of chains of Family
}

// Preservation applies random valid actions of t to random networks and
// compares logits before and after with the float64 reference.
func Preservation(ctx context.Context, t sdk.Transform, o Options) (Report, error) {
	in := ir.Shape{C: 3, H: 8, W: 8}
	r := rand.New(rand.NewSource(o.Seed))
	rep := Report{}
	steps := max(1, o.Steps)
	for c := 0; c < o.Cases; c++ {
		a := RandomArch(r, o.Family, in)
		if o.Graphs {
			a = RandomGraph(r, in)
		}
		g, err := ir.Lower(a, in)
		if err != nil {
			return rep, err
		}
		net := sdk.Network{Arch: a, Input: in, Weights: RandomParams(g, r)}
		host := Host{Shape: in, Seed: r.Int63()}
		// Training mode compares on the host batch itself (HostBatch images, the
		// batch transforms take their statistics from), as a first training step would.
		x, err := host.Batch(ctx, HostBatch)
		if !o.Train && err == nil {
			x, err = Host{Shape: in, Seed: r.Int63()}.Batch(ctx, 8)
		}
		if err != nil {
			return rep, err
		}
		before, err := refnet.Logits(g, net.Weights, x, refnet.Options{Train: o.Train})
		if err != nil {
			return rep, err
		}
		rep.Cases++
		var trail []string
		cur := net
		for s := 0; s < steps; s++ {
			listed, err := t.Actions(ctx, sdk.ActionsRequest{Net: cur, Space: SmallSpace()})
			acts := listed.Actions
			if err != nil {
				return rep, fmt.Errorf("actions on %s: %w", cur.Arch, err)
			}
			if len(acts) == 0 {
				break
			}
			act := acts[r.Intn(len(acts))]
			res, err := t.Apply(ctx, sdk.ApplyRequest{Net: cur, Action: act, Space: SmallSpace(), Seed: r.Int63(), Noise: o.Noise}, host)
			if err != nil {
				return rep, fmt.Errorf("%s on %s: %w", act, cur.Arch, err)
			}
			trail = append(trail, act.String())
			cur = res.Net
		}
		if len(trail) == 0 {
			continue
		}
		rep.Applied++
		g2, err := ir.Lower(cur.Arch, cur.Input)
		if err != nil {
			return rep, fmt.Errorf("%v on %s gave an invalid network: %w", trail, a, err)
		}
		after, err := refnet.Logits(g2, cur.Weights, x, refnet.Options{Train: o.Train})
		if err != nil {
			return rep, fmt.Errorf("%v on %s: %w", trail, a, err)
		}
		d := relDiff(before, after)
		desc := fmt.Sprintf("%s + %v -> %s: %.3g", a, trail, cur.Arch, d)
		if d > rep.MaxRelDiff || math.IsNaN(d) {
			rep.MaxRelDiff, rep.Worst = d, desc
		}
		if o.Tol > 0 && !(d <= o.Tol) {
			rep.Failures = append(rep.Failures, desc)
		}
	}
	return rep, nil
}

func relDiff(a, b []float64) float64 {
	var num, den float64
	for i := range a {
		num = math.Max(num, math.Abs(a[i]-b[i]))
		den = math.Max(den, math.Abs(a[i]))
	}
	if den == 0 {
		return num
	}
	return num / den
}

// Loss is the mean softmax cross-entropy of logits [b, k] for labels.
func Loss(logits []float64, labels []int) float64 { return refnet.CrossEntropy(logits, labels) }
