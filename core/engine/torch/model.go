package torch

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Node kinds of the shim (enum Op in shim/eas_torch.cpp), one per core/ir
// op: the table a new op joins.
var shimOps = map[ir.Op]int32{
	ir.OpInput: 1, ir.OpConv: 2, ir.OpBN: 3, ir.OpReLU: 4, ir.OpDropout: 5, ir.OpMaxPool: 6, ir.OpAvgPool: 7,
	ir.OpGAP: 8, ir.OpFC: 9, ir.OpConcat: 10, ir.OpLinear: 11, ir.OpAdd: 12,
}

// shimOpsByName maps ops by name that core/ir may add later: a depthwise
// convolution (weight [C,1,k,k]) is the shim's convolution with one group
// per input channel.
var shimOpsByName = map[string]int32{"dw": 13, "dwconv": 13, "depthwise": 13}

// slotOf is where a parameter of each role lives in its shim node.
var slotOf = map[ir.Role]int32{
	ir.RoleWeight: 0, ir.RoleBias: 1, ir.RoleGamma: 0, ir.RoleBeta: 1, ir.RoleMean: 2, ir.RoleVar: 3,
}

// What eas_read reads.
const (
	readParam    = 0
	readGrad     = 1
	readMomentum = 2
	readOutput   = 3
)

type model struct {
	b        *Backend
	h        uintptr
	g        *ir.Graph
	maxBatch int
	classes  int
	batch    int
	params   []ir.Param
	logits   tensor.Tensor
	grads    map[string][]float32
	closed   bool
}

func newModel(b *Backend, g *ir.Graph, params tensor.Map, c engine.ModelConfig) (*model, error) {
	if c.MaxBatch < 1 {
		return nil, fmt.Errorf("torch engine: MaxBatch must be at least 1, got %d", c.MaxBatch)
	}
	ps := g.Params()
	for _, p := range ps {
		t, ok := params[p.Name]
		if !ok {
			return nil, fmt.Errorf("torch engine: parameter %s (%v) is missing", p.Name, p.Shape)
		}
		if !t.SameShape(p.Shape) || len(t.Data) != p.Size() {
			return nil, fmt.Errorf("torch engine: parameter %s has shape %v, want %v", p.Name, t.Shape, p.Shape)
		}
	}
	out := g.Nodes[g.Output()].Out
	m := &model{b: b, g: g, maxBatch: c.MaxBatch, classes: out.C, params: ps, grads: map[string][]float32{}}
	in := g.Input
	o := c.Optimizer
	m.h = b.s.modelNew(int32(b.dev), int64(c.MaxBatch), int64(in.C), int64(in.H), int64(in.W), int64(m.classes),
		uint64(c.Seed), o.Momentum, o.WeightDecay, b2i(o.Nesterov), b2i(b.dev >= 0 && !b.set.SharedStream))
	if m.h == 0 {
		return nil, fmt.Errorf("torch engine: %s", b.s.lastError())
	}
	if err := m.describe(params); err != nil {
		m.Close()
		return nil, err
	}
	m.logits = tensor.Tensor{Shape: []int{c.MaxBatch, m.classes}, Data: make([]float32, c.MaxBatch*m.classes)}
	for _, p := range ps {
		if p.Trainable() {
			m.grads[p.Name] = make([]float32, p.Size())
		}
	}
	return m, nil
}

// describe sends the nodes and the parameters to the shim.
func (m *model) describe(params tensor.Map) error {
	for _, nd := range m.g.Nodes[1:] {
		op, ok := shimOps[nd.Op]
		if !ok {
			op, ok = shimOpsByName[nd.Op.String()]
		}
		if !ok {
			return fmt.Errorf("torch engine: op %s (node %d) is not supported yet", nd.Op, nd.ID)
		}
		in := make([]int64, len(nd.Inputs)+1)
		for i, id := range nd.Inputs {
			in[i] = int64(id)
		}
		groups := int64(1)
		if op == 13 {
			groups = int64(m.g.Nodes[nd.Inputs[0]].Out.C)
		}
		attrs := []int64{int64(nd.Filters), int64(nd.Kernel), int64(nd.Stride), int64(nd.Pad), int64(nd.Units), int64(b2i(nd.Bias)), groups}
		if m.b.s.addNode(m.h, op, &in[0], int32(len(nd.Inputs)), &attrs[0], float32(nd.Rate)) != 0 {
			return m.err()
		}
	}
	for _, p := range m.params {
		t := params[p.Name]
		shape := make([]int64, len(p.Shape))
		for i, d := range p.Shape {
			shape[i] = int64(d)
		}
		rc := m.b.s.setParam(m.h, int32(p.Node), slotOf[p.Role], &shape[0], int32(len(shape)), &t.Data[0], b2i(p.Trainable()))
		runtime.KeepAlive(t)
		if rc != 0 {
			return fmt.Errorf("%w (parameter %s)", m.err(), p.Name)
		}
	}
	return nil
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// err is the shim's message for the model's last failed call.
func (m *model) err() error { return errors.New("torch engine: " + m.b.s.modelError(m.h)) }

func (m *model) MaxBatch() int { return m.maxBatch }

func (m *model) Forward(x *tensor.Tensor, train bool) error {
	in := m.g.Input
	b := len(x.Data) / in.Size()
	if b < 1 || b > m.maxBatch || b*in.Size() != len(x.Data) {
		return fmt.Errorf("torch engine: input of %d values is not 1..%d images of %v", len(x.Data), m.maxBatch, in)
	}
	m.batch = b
	if m.b.s.forward(m.h, &x.Data[0], int64(b), b2i(train)) != 0 {
		return m.err()
	}
	return nil
}

func (m *model) Logits() (*tensor.Tensor, error) {
	if m.b.s.logits(m.h, &m.logits.Data[0]) != 0 {
		return nil, m.err()
	}
	return &tensor.Tensor{Shape: []int{m.batch, m.classes}, Data: m.logits.Data[:m.batch*m.classes]}, nil
}

// checkLabels refuses labels the device would fail on less clearly.
func (m *model) checkLabels(labels []int32) error {
	if len(labels) < m.batch {
		return fmt.Errorf("torch engine: %d labels for a batch of %d", len(labels), m.batch)
	}
	for i, y := range labels[:m.batch] {
		if y < 0 || int(y) >= m.classes {
			return fmt.Errorf("torch engine: label %d of example %d is outside [0, %d)", y, i, m.classes)
		}
	}
	return nil
}

func (m *model) Loss(labels []int32) (float64, int, error) {
	if err := m.checkLabels(labels); err != nil {
		return 0, 0, err
	}
	var loss float64
	var correct int64
	if m.b.s.loss(m.h, &labels[0], &loss, &correct) != 0 {
		return 0, 0, m.err()
	}
	return loss, int(correct), nil
}

// AddLoss keeps the loss on the device (engine.LossAccumulator).
func (m *model) AddLoss(labels []int32) error {
	if err := m.checkLabels(labels); err != nil {
		return err
	}
	if m.b.s.addLoss(m.h, &labels[0]) != 0 {
		return m.err()
	}
	return nil
}

func (m *model) TakeLoss() (float64, int, int, error) {
	var sum float64
	var correct, n int64
	if m.b.s.takeLoss(m.h, &sum, &correct, &n) != 0 {
		return 0, 0, 0, m.err()
	}
	return sum, int(correct), int(n), nil
}

func (m *model) Backward() error {
	if m.b.s.backward(m.h) != 0 {
		return m.err()
	}
	return nil
}

func (m *model) Step(lr float32) error {
	if m.b.s.step(m.h, lr) != 0 {
		return m.err()
	}
	return nil
}

// Sync waits for the model's queued device work (for timing).
func (m *model) Sync() error {
	if m.b.s.sync(m.h) != 0 {
		return m.err()
	}
	return nil
}

// readInto copies one tensor of the shim into dst; false when the shim has
// none (or fails).
func (m *model) readInto(p ir.Param, what int32, dst []float32) bool {
	return len(dst) > 0 && m.b.s.read(m.h, int32(p.Node), slotOf[p.Role], what, &dst[0], int64(len(dst))) == int64(len(dst))
}

// Grads copies the gradients of the last Backward to the host.
func (m *model) Grads() map[string][]float32 {
	for _, p := range m.params {
		if g, ok := m.grads[p.Name]; ok && !m.readInto(p, readGrad, g) {
			clear(g)
		}
	}
	return m.grads
}

// Output copies node id's activations of the last Forward to the host.
func (m *model) Output(id int) []float32 {
	if id < 0 || id >= len(m.g.Nodes) || m.batch == 0 {
		return nil
	}
	out := make([]float32, m.batch*m.g.Nodes[id].Out.Size())
	if m.b.s.read(m.h, int32(id), 0, readOutput, &out[0], int64(len(out))) != int64(len(out)) {
		return nil
	}
	return out
}

func (m *model) ReadParams(dst tensor.Map) error {
	for _, p := range m.params {
		d, ok := dst[p.Name]
		if !ok || len(d.Data) != p.Size() {
			d = tensor.New(p.Shape...)
			dst[p.Name] = d
		}
		if !m.readInto(p, readParam, d.Data) {
			return fmt.Errorf("%w (reading %s)", m.err(), p.Name)
		}
	}
	return nil
}

func (m *model) OptState() tensor.Map {
	s := tensor.Map{}
	for _, p := range m.params {
		if !p.Trainable() {
			continue
		}
		v := make([]float32, p.Size())
		m.readInto(p, readMomentum, v)
		s["momentum."+p.Name] = tensor.FromData(v, len(v))
	}
	return s
}

func (m *model) SetOptState(s tensor.Map) {
	for _, p := range m.params {
		if !p.Trainable() {
			continue
		}
		v := make([]float32, p.Size())
		if t, ok := s["momentum."+p.Name]; ok && len(t.Data) == len(v) {
			copy(v, t.Data)
		}
		m.b.s.setMomentum(m.h, int32(p.Node), slotOf[p.Role], &v[0], int64(len(v)))
	}
}

func (m *model) Close() {
	if !m.closed && m.h != 0 {
		m.b.s.modelFree(m.h)
	}
	m.closed = true
}
