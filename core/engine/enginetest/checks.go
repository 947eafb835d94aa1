package enginetest

import (
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/refnet"
	"github.com/eas-go/eas/core/tensor"
)

// checkGradients compares the backend's gradient of the mean cross-entropy
// (training mode: batch statistics, dropout active) with central differences
// of the reference loss under the same dropout mask, for FDCoords random
// coordinates of every trainable parameter.
func checkGradients(tb testing.TB, b engine.Backend, c netCase) {
	g := c.graph()
	params := randomParams(g, 3)
	x, labels := batchOf(g, c.batch, 4)
	p64 := refnet.Params(params)
	m := build(tb, b, g, params.Clone(), engine.ModelConfig{MaxBatch: c.batch, Seed: 11})
	forward(tb, m, x, true)
	keep, err := keepOf(m, g)
	if err != nil {
		tb.Fatal(err)
	}
	x64 := f64(x.Data)
	lossAt := func() float64 {
		return refnet.CrossEntropy(refActs(tb, g, p64, x64, c.batch, true, keep)[g.Output()], labels)
	}
	loss := checkedLoss(tb, m, labels)
	if ref := lossAt(); !near(loss, ref, LossTol, LossTol) {
		tb.Fatalf("loss %.8g, reference %.8g", loss, ref)
	}
	backward(tb, m)
	grads := m.Grads()
	r := rand.New(rand.NewSource(5))
	checked := 0
	for _, p := range g.Params() {
		if !p.Trainable() {
			continue
		}
		an := grads[p.Name]
		if len(an) != p.Size() {
			tb.Errorf("gradient of %s has %d values, want %d", p.Name, len(an), p.Size())
			continue
		}
		vals := p64[p.Name]
		idx := r.Perm(len(vals))
		for _, i := range idx[:min(len(idx), FDCoords)] {
			old := vals[i]
			vals[i] = old + FDStep
			up := lossAt()
			vals[i] = old - FDStep
			down := lossAt()
			vals[i] = old
			num := (up - down) / (2 * FDStep)
			if !near(float64(an[i]), num, GradAtol, GradRtol) {
				tb.Errorf("d loss / d %s[%d]: backend %.6g, finite difference %.6g", p.Name, i, an[i], num)
			}
			checked++
		}
	}
	if checked == 0 {
		tb.Errorf("no trainable parameter to check") // a suite bug: every case has some
	}
}

// checkForward compares logits, loss and the count of correct predictions
// with the reference, in training mode (batch statistics, the backend's
// dropout mask) or evaluation mode (running statistics, no dropout), on a
// batch smaller than the model's MaxBatch.
func checkForward(tb testing.TB, b engine.Backend, c netCase, train bool) {
	g := c.graph()
	params := randomParams(g, 6)
	x, labels := batchOf(g, c.batch, 7)
	p64 := refnet.Params(params)
	m := build(tb, b, g, params.Clone(), engine.ModelConfig{MaxBatch: c.batch + 2, Seed: 13})
	if m.MaxBatch() != c.batch+2 {
		tb.Errorf("MaxBatch() = %d, built with %d", m.MaxBatch(), c.batch+2)
	}
	out := logitsOf(tb, m, x, train)
	if len(out.Shape) != 2 || out.Shape[0] != c.batch || out.Shape[1] != Classes || len(out.Data) != c.batch*Classes {
		tb.Fatalf("logits have shape %v and %d values, want [%d %d]", out.Shape, len(out.Data), c.batch, Classes)
	}
	logits := append([]float32(nil), out.Data...)
	var keep func(id, i int) bool
	if train {
		var err error
		if keep, err = keepOf(m, g); err != nil {
			tb.Fatal(err)
		}
	}
	ref := refActs(tb, g, p64, f64(x.Data), c.batch, train, keep)[g.Output()]
	for i, v := range ref {
		if !near(float64(logits[i]), v, FwdTol, FwdTol) {
			tb.Errorf("logit %d: backend %.7g, reference %.7g", i, logits[i], v)
		}
	}
	loss, correct, err := m.Loss(labels)
	if err != nil {
		tb.Fatalf("Loss: %v", err)
	}
	if want := refnet.CrossEntropy(ref, labels); !near(loss, want, LossTol, LossTol) {
		tb.Errorf("loss %.8g, reference %.8g", loss, want)
	}
	// Count correct predictions; rows whose top two logits are within
	// FwdTol may go either way.
	want, unsure := 0, 0
	for i, y := range labels {
		row := ref[i*Classes : (i+1)*Classes]
		best, second := 0, -1
		for k := 1; k < Classes; k++ {
			if row[k] > row[best] {
				best = k
			}
		}
		for k := range row {
			if k != best && (second < 0 || row[k] > row[second]) {
				second = k
			}
		}
		if row[best]-row[second] < 2*FwdTol*(1+math.Abs(row[best])) {
			unsure++
		} else if best == int(y) {
			want++
		}
	}
	if correct < want || correct > want+unsure {
		tb.Errorf("Loss counted %d correct, the reference %d (%d rows undecided)", correct, want, unsure)
	}
}

// checkRunningStats runs two training forwards and checks every BN's running
// mean and variance against the reference's batch statistics of the BN's
// input (running = (1-BNMomentum)*running + BNMomentum*batch, unbiased
// variance), that forwards change no trainable parameter, and that an
// evaluation forward changes nothing.
func checkRunningStats(tb testing.TB, b engine.Backend, c netCase) {
	g := c.graph()
	m := build(tb, b, g, randomParams(g, 8), engine.ModelConfig{MaxBatch: c.batch, Seed: 17})
	bns := 0
	for step := int64(0); step < 2; step++ {
		before := readParams(tb, m, g)
		x, _ := batchOf(g, c.batch, 20+step)
		forward(tb, m, x, true)
		keep, err := keepOf(m, g)
		if err != nil {
			tb.Fatal(err)
		}
		act := refActs(tb, g, refnet.Params(before), f64(x.Data), c.batch, true, keep)
		after := readParams(tb, m, g)
		for _, nd := range g.Nodes {
			if nd.Op != ir.OpBN {
				continue
			}
			bns++
			in := act[nd.Inputs[0]]
			ch, hw := nd.Out.C, nd.Out.H*nd.Out.W
			cnt := float64(c.batch * hw)
			for k := 0; k < ch; k++ {
				var s, ss float64
				for i := 0; i < c.batch; i++ {
					for _, v := range in[(i*ch+k)*hw : (i*ch+k+1)*hw] {
						s += v
					}
				}
				mean := s / cnt
				for i := 0; i < c.batch; i++ {
					for _, v := range in[(i*ch+k)*hw : (i*ch+k+1)*hw] {
						ss += (v - mean) * (v - mean)
					}
				}
				vr := ss / (cnt - 1)
				for _, q := range []struct {
					suffix string
					batch  float64
				}{{".running_mean", mean}, {".running_var", vr}} {
					old := float64(before[nd.Name+q.suffix].Data[k])
					want := (1-BNMomentum)*old + BNMomentum*q.batch
					if got := float64(after[nd.Name+q.suffix].Data[k]); !near(got, want, StatTol, StatTol) {
						tb.Errorf("forward %d: %s%s[%d] = %.7g, want %.7g", step+1, nd.Name, q.suffix, k, got, want)
					}
				}
			}
		}
		for _, p := range g.Params() {
			if p.Trainable() && !equal(before[p.Name].Data, after[p.Name].Data) {
				tb.Errorf("a training forward changed trainable parameter %s", p.Name)
			}
		}
	}
	if bns == 0 {
		tb.Fatalf("network %s has no BN", c.name) // a suite bug
	}
	before := readParams(tb, m, g)
	x, _ := batchOf(g, c.batch, 30)
	forward(tb, m, x, false)
	after := readParams(tb, m, g)
	for _, p := range g.Params() {
		if !equal(before[p.Name].Data, after[p.Name].Data) {
			tb.Errorf("an evaluation forward changed %s", p.Name)
		}
	}
}

// checkSGD takes three steps (momentum 0.9, weight decay 0.01, learning rate
// 0.05) and checks each against the update computed in float64 from the
// backend's own gradients and the previous parameters: decay on weights
// only, running statistics untouched, and the momentum buffers in OptState.
func checkSGD(tb testing.TB, b engine.Backend, nesterov bool) {
	c := netCase1("plain")
	g := c.graph()
	opt := engine.Optimizer{Momentum: 0.9, Nesterov: nesterov, WeightDecay: 0.01}
	const lr = 0.05
	m := build(tb, b, g, randomParams(g, 9), engine.ModelConfig{MaxBatch: c.batch, Seed: 19, Optimizer: opt})
	vel := map[string][]float64{}
	for step := int64(0); step < 3; step++ {
		x, labels := batchOf(g, c.batch, 40+step)
		forward(tb, m, x, true)
		checkedLoss(tb, m, labels)
		backward(tb, m)
		grads := map[string][]float32{}
		for name, gr := range m.Grads() {
			grads[name] = append([]float32(nil), gr...)
		}
		before := readParams(tb, m, g)
		stepLR(tb, m, lr)
		after := readParams(tb, m, g)
		for _, p := range g.Params() {
			w0, w1 := before[p.Name].Data, after[p.Name].Data
			if !p.Trainable() {
				if !equal(w0, w1) {
					tb.Errorf("step %d changed %s, which is not trainable", step+1, p.Name)
				}
				continue
			}
			gr := grads[p.Name]
			if len(gr) != len(w0) {
				tb.Fatalf("gradient of %s has %d values, want %d", p.Name, len(gr), len(w0))
			}
			wd := 0.0
			if p.Role == ir.RoleWeight {
				wd = float64(opt.WeightDecay)
			}
			v := vel[p.Name]
			if v == nil {
				v = make([]float64, len(w0))
				vel[p.Name] = v
			}
			bad := 0
			for i := range w0 {
				gi := float64(gr[i]) + wd*float64(w0[i])
				v[i] = float64(opt.Momentum)*v[i] + gi
				d := v[i]
				if nesterov {
					d = gi + float64(opt.Momentum)*v[i]
				}
				want := float64(w0[i]) - lr*d
				if !near(float64(w1[i]), want, SGDTol, SGDTol) && bad < 3 {
					tb.Errorf("step %d: %s[%d] = %.9g, want %.9g (from %.9g, gradient %.6g)", step+1, p.Name, i, w1[i], want, w0[i], gr[i])
					bad++
				}
			}
		}
	}
	state := m.OptState()
	for name, v := range vel {
		t, ok := state["momentum."+name]
		if !ok || len(t.Data) != len(v) {
			tb.Errorf("OptState lacks momentum.%s with %d values", name, len(v))
			continue
		}
		for i := range v {
			if !near(float64(t.Data[i]), v[i], SGDTol, SGDTol) {
				tb.Errorf("momentum.%s[%d] = %.9g, want %.9g", name, i, t.Data[i], v[i])
				break
			}
		}
	}
}

// trainSteps runs n training steps (batches seeded from seed) at lr 0.05.
func trainSteps(tb testing.TB, m engine.Model, g *ir.Graph, batch, n int, seed int64) {
	tb.Helper()
	for s := 0; s < n; s++ {
		x, labels := batchOf(g, batch, seed+int64(s))
		forward(tb, m, x, true)
		checkedLoss(tb, m, labels)
		backward(tb, m)
		stepLR(tb, m, 0.05)
	}
}

// checkedLoss is Model.Loss, failing on a loss that is not finite or a
// correct count outside [0, len(labels)]: the steps after it would only
// report the consequence.
func checkedLoss(tb testing.TB, m engine.Model, labels []int32) float64 {
	tb.Helper()
	loss, correct, err := m.Loss(labels)
	if err != nil {
		tb.Fatalf("Loss: %v", err)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) || correct < 0 || correct > len(labels) {
		tb.Fatalf("Loss = %v with %d of %d correct", loss, correct, len(labels))
	}
	return loss
}

var paperOpt = engine.Optimizer{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4}

// checkDeterminism trains the same network twice with the same seed (three
// steps with dropout) and wants bit-identical parameters and logits; a
// different seed must change the dropout masks and so the result.
func checkDeterminism(tb testing.TB, b engine.Backend) {
	c := netCase1("plain")
	g := c.graph()
	params := randomParams(g, 10)
	x, _ := batchOf(g, c.batch, 50)
	run := func(seed int64) (tensor.Map, []float32) {
		m := build(tb, b, g, params.Clone(), engine.ModelConfig{MaxBatch: c.batch, Seed: seed, Optimizer: paperOpt})
		trainSteps(tb, m, g, c.batch, 3, 60)
		return readParams(tb, m, g), append([]float32(nil), logitsOf(tb, m, x, false).Data...)
	}
	p1, l1 := run(7)
	p2, l2 := run(7)
	for _, p := range g.Params() {
		if !equal(p1[p.Name].Data, p2[p.Name].Data) {
			tb.Errorf("two runs with seed 7 differ in %s", p.Name)
		}
	}
	if !equal(l1, l2) {
		tb.Errorf("two runs with seed 7 give different logits")
	}
	p3, _ := run(8)
	same := true
	for _, p := range g.Params() {
		same = same && equal(p1[p.Name].Data, p3[p.Name].Data)
	}
	if same {
		tb.Errorf("seeds 7 and 8 train identically: ModelConfig.Seed does not drive dropout")
	}
}

// checkRoundTrip trains two steps, writes parameters and optimiser state to
// a checkpoint, builds a second model from it, and wants bit-identical
// parameters, momentum, evaluation logits, and parameters after one more
// identical step on both. (The network has no dropout: where the dropout
// stream resumes is not part of a checkpoint.)
func checkRoundTrip(tb testing.TB, b engine.Backend) {
	c := netCase1("densenet")
	g := c.graph()
	cfg := engine.ModelConfig{MaxBatch: c.batch, Seed: 21, Optimizer: paperOpt}
	m1 := build(tb, b, g, randomParams(g, 11), cfg)
	trainSteps(tb, m1, g, c.batch, 2, 70)
	p1 := readParams(tb, m1, g)
	all := p1.Clone()
	for k, v := range m1.OptState() {
		all[k] = v
	}
	buf, err := checkpoint.Encode(g.Arch, g.Input, all, map[string]string{"suite": "enginetest"})
	if err != nil {
		tb.Fatalf("encoding the checkpoint: %v", err)
	}
	ck, err := checkpoint.Parse(bytes.Clone(buf))
	if err != nil {
		tb.Fatalf("reading the checkpoint back: %v", err)
	}
	if err := ck.Verify(g); err != nil {
		tb.Fatalf("checkpoint: %v", err)
	}
	m2 := build(tb, b, g, ck.Weights(), cfg)
	m2.SetOptState(ck.Params)
	p2 := readParams(tb, m2, g)
	for _, p := range g.Params() {
		if !equal(p1[p.Name].Data, p2[p.Name].Data) {
			tb.Errorf("%s differs after the round trip", p.Name)
		}
	}
	s1, s2 := m1.OptState(), m2.OptState()
	for k, v := range s1 {
		if w, ok := s2[k]; !ok || !equal(v.Data, w.Data) {
			tb.Errorf("optimiser state %s differs after the round trip", k)
		}
	}
	x, _ := batchOf(g, c.batch, 80)
	l1 := append([]float32(nil), logitsOf(tb, m1, x, false).Data...)
	if !equal(l1, logitsOf(tb, m2, x, false).Data) {
		tb.Errorf("evaluation logits differ after the round trip")
	}
	trainSteps(tb, m1, g, c.batch, 1, 90)
	trainSteps(tb, m2, g, c.batch, 1, 90)
	q1, q2 := readParams(tb, m1, g), readParams(tb, m2, g)
	for _, p := range g.Params() {
		if !equal(q1[p.Name].Data, q2[p.Name].Data) {
			tb.Errorf("%s differs after one more step from the restored state", p.Name)
		}
	}
}

// checkBuildErrors wants errors, naming the tensor, for a missing or a
// misshaped parameter, and an error for a batch size below 1.
func checkBuildErrors(tb testing.TB, b engine.Backend) {
	g := netCase1("plain").graph()
	for _, tc := range []struct {
		what string
		edit func(tensor.Map) string
	}{
		{"missing", func(p tensor.Map) string { delete(p, "l1.bn.running_var"); return "l1.bn.running_var" }},
		{"misshaped", func(p tensor.Map) string { p["l1.conv.weight"] = tensor.New(4, 3, 5, 5); return "l1.conv.weight" }},
	} {
		p := randomParams(g, 12)
		name := tc.edit(p)
		m, err := b.Build(g, p, engine.ModelConfig{MaxBatch: 2})
		if err == nil {
			m.Close()
			tb.Errorf("%s parameter %s: Build succeeded", tc.what, name)
		} else if !strings.Contains(err.Error(), name) {
			tb.Errorf("%s parameter: the error %q does not name %s", tc.what, err, name)
		}
	}
	if m, err := b.Build(g, randomParams(g, 12), engine.ModelConfig{MaxBatch: 0}); err == nil {
		m.Close()
		tb.Errorf("MaxBatch 0: Build succeeded")
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
