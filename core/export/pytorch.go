package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

// Model is a trained network and what it takes to feed it raw pixels.
type Model struct {
	Arch   ir.Arch
	Input  ir.Shape
	Params tensor.Map // at least every tensor of ir.Graph.Params; others are left out
	// Mean and Std are the per-channel normalisation of pixels/255 the
	// network was trained with: it sees (x - Mean[c]) / Std[c].
	Mean, Std  []float32
	BNEps      float64
	ClassNames []string // optional
	Source     string   // provenance for the header comment (checkpoint path, data)
}

// Files written by PyTorch into its folder.
const (
	PyTorchModule  = "model.py"
	PyTorchWeights = "model.safetensors"
)

// pyOp is one graph operation in Python: the module it owns (ctor, empty
// for operations without parameters), the tensors that module holds, and the
// expression computing its output from its inputs' variables and its module.
// Every value is kept 4-D [N, C, H, W] (FC outputs [N, units, 1, 1]) as in
// the engine; the logits are flattened at the end.
type pyOp struct {
	ctor   func(n ir.Node, in ir.Shape) string
	params func(n ir.Node) []string
	expr   func(n ir.Node, args []string, mod string) string
}

func weightBias(n ir.Node) []string {
	if n.Bias {
		return []string{n.Name + ".weight", n.Name + ".bias"}
	}
	return []string{n.Name + ".weight"}
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// pyOps maps every graph operation to PyTorch. The exported program follows
// the lowered graph node for node, so a new layer kind that lowers to these
// operations exports without changes here.
var pyOps = map[ir.Op]pyOp{
	ir.OpConv: {
		ctor: func(n ir.Node, in ir.Shape) string {
			return fmt.Sprintf("nn.Conv2d(%d, %d, %d, %d, padding=%d, bias=%s)", in.C, n.Filters, n.Kernel, n.Stride, n.Pad, pyBool(n.Bias))
		},
		params: weightBias,
		expr:   func(_ ir.Node, a []string, m string) string { return m + "(" + a[0] + ")" },
	},
	ir.OpBN: {
		ctor: func(n ir.Node, in ir.Shape) string { return fmt.Sprintf("nn.BatchNorm2d(%d, eps=BN_EPS)", in.C) },
		params: func(n ir.Node) []string {
			return []string{n.Name + ".weight", n.Name + ".bias", n.Name + ".running_mean", n.Name + ".running_var"}
		},
		expr: func(_ ir.Node, a []string, m string) string { return m + "(" + a[0] + ")" },
	},
	ir.OpReLU: {expr: func(_ ir.Node, a []string, _ string) string { return "F.relu(" + a[0] + ")" }},
	ir.OpDropout: {expr: func(n ir.Node, a []string, _ string) string {
		return fmt.Sprintf("F.dropout(%s, %s, self.training)", a[0], strconv.FormatFloat(n.Rate, 'g', -1, 64))
	}},
	ir.OpMaxPool: {expr: func(n ir.Node, a []string, _ string) string {
		return fmt.Sprintf("F.max_pool2d(%s, %d, %d)", a[0], n.Kernel, n.Stride)
	}},
	ir.OpAvgPool: {expr: func(n ir.Node, a []string, _ string) string { // no padding: the divisor is kernel*kernel
		return fmt.Sprintf("F.avg_pool2d(%s, %d, %d)", a[0], n.Kernel, n.Stride)
	}},
	ir.OpGAP: {expr: func(_ ir.Node, a []string, _ string) string { return a[0] + ".mean((2, 3), keepdim=True)" }},
	ir.OpFC: {
		ctor: func(n ir.Node, in ir.Shape) string {
			return fmt.Sprintf("nn.Linear(%d, %d, bias=%s)", in.Size(), n.Units, pyBool(n.Bias))
		},
		params: weightBias,
		expr: func(_ ir.Node, a []string, m string) string {
			return m + "(torch.flatten(" + a[0] + ", 1))[:, :, None, None]"
		},
	},
	ir.OpLinear: {
		ctor: func(n ir.Node, in ir.Shape) string {
			return fmt.Sprintf("nn.Linear(%d, %d, bias=%s)", in.Size(), n.Units, pyBool(n.Bias))
		},
		params: weightBias,
		expr: func(_ ir.Node, a []string, m string) string {
			return m + "(torch.flatten(" + a[0] + ", 1))[:, :, None, None]"
		},
	},
	ir.OpConcat: {expr: func(_ ir.Node, a []string, _ string) string { return "torch.cat([" + strings.Join(a, ", ") + "], 1)" }},
	// Summed left to right, as the engine does.
	ir.OpAdd: {expr: func(_ ir.Node, a []string, _ string) string { return strings.Join(a, " + ") }},
}

// program is model.py's generated part: module constructors (__init__) and
// the straight-line forward pass, one statement per graph node.
type program struct {
	modules []string // `("l3.conv", nn.Conv2d(...)),`
	forward []string // statements, with a comment line before each written layer
}

// emit translates the lowered graph, checking that the modules own exactly
// the graph's parameters.
func emit(m Model) (*program, *ir.Graph, error) {
	g, err := ir.Lower(m.Arch, m.Input)
	if err != nil {
		return nil, nil, err
	}
	// A value read only by the next operation lives in x; one read later or
	// more than once (a dense block's input) gets its own name, deleted
	// after its last use.
	uses := make([][]int, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			uses[in] = append(uses[in], n.ID)
		}
	}
	name := func(id int) string {
		if len(uses[id]) <= 1 && (len(uses[id]) == 0 || uses[id][0] == id+1) {
			return "x"
		}
		return fmt.Sprintf("x%d", id)
	}
	p := &program{forward: []string{name(0) + " = self.normalize(x)"}}
	owned := map[string]bool{}
	layer := 0
	for _, n := range g.Nodes[1:] {
		op, ok := pyOps[n.Op]
		if !ok {
			return nil, nil, fmt.Errorf("export: node %d (%s of layer %d) has no PyTorch form", n.ID, n.Op, n.Layer)
		}
		if n.Layer != layer && n.Layer > 0 && n.Layer <= len(m.Arch.Layers) {
			layer = n.Layer
			p.forward = append(p.forward, fmt.Sprintf("# l%d: %s", layer, m.Arch.Layers[layer-1]))
		}
		args := make([]string, len(n.Inputs))
		var dead []string
		for i, in := range n.Inputs {
			args[i] = name(in)
			if args[i] != "x" && uses[in][len(uses[in])-1] == n.ID && !contains(dead, args[i]) {
				dead = append(dead, args[i])
			}
		}
		mod := ""
		if op.ctor != nil {
			if n.Name == "" {
				return nil, nil, fmt.Errorf("export: node %d (%s) has parameters but no name", n.ID, n.Op)
			}
			p.modules = append(p.modules, fmt.Sprintf("(%q, %s),", n.Name, op.ctor(n, g.Nodes[n.Inputs[0]].Out)))
			for _, name := range op.params(n) {
				owned[name] = true
			}
			mod = pyModule(n.Name)
		}
		p.forward = append(p.forward, fmt.Sprintf("%s = %s", name(n.ID), op.expr(n, args, mod)))
		if len(dead) > 0 { // free activations as soon as nothing reads them
			p.forward = append(p.forward, "del "+strings.Join(dead, ", "))
		}
	}
	p.forward = append(p.forward, fmt.Sprintf("return torch.flatten(%s, 1)", name(g.Output())))
	want := map[string]bool{}
	for _, q := range g.Params() {
		want[q.Name] = true
		if !owned[q.Name] {
			return nil, nil, fmt.Errorf("export: internal error: tensor %s of %s has no PyTorch module", q.Name, m.Arch)
		}
	}
	for q := range owned {
		if !want[q] {
			return nil, nil, fmt.Errorf("export: internal error: the PyTorch module of %s expects tensor %s the network lacks", m.Arch, q)
		}
	}
	return p, g, nil
}

var pyIdent = regexp.MustCompile(`^l[0-9]+$`)

// pyModule is the expression reaching the module named like a checkpoint
// tensor prefix ("l2.1.bn1" -> self.l2["1"]["bn1"]): attribute access keeps
// working in module replicas (DataParallel), unlike a side table.
func pyModule(name string) string {
	parts := strings.Split(name, ".")
	e := "self._modules[" + pyQuote(parts[0]) + "]"
	if pyIdent.MatchString(parts[0]) {
		e = "self." + parts[0]
	}
	for _, p := range parts[1:] {
		e += "[" + pyQuote(p) + "]"
	}
	return e
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// PyTorchSource is the text of model.py for m.
func PyTorchSource(m Model) ([]byte, error) {
	p, _, err := emit(m)
	if err != nil {
		return nil, err
	}
	if len(m.Mean) != m.Input.C || len(m.Std) != m.Input.C {
		return nil, fmt.Errorf("export: normalisation has %d means and %d stds for %d input channels", len(m.Mean), len(m.Std), m.Input.C)
	}
	if len(m.ClassNames) > 0 && len(m.ClassNames) != outClasses(m.Arch) {
		return nil, fmt.Errorf("export: %d class names for %d outputs", len(m.ClassNames), outClasses(m.Arch))
	}
	v := map[string]any{
		"Arch": m.Arch.String(), "C": m.Input.C, "H": m.Input.H, "W": m.Input.W,
		"Mean": pyFloats(m.Mean), "Std": pyFloats(m.Std), "Eps": strconv.FormatFloat(m.BNEps, 'g', -1, 64),
		"Classes": pyStrings(m.ClassNames), "Modules": p.modules, "Forward": p.forward, "Weights": PyTorchWeights, "Source": oneLine(m.Source),
	}
	var b bytes.Buffer
	if err := pyTemplate.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// PyTorch writes model.py and model.safetensors (the graph's tensors only,
// under their checkpoint names, which are the module's state_dict keys)
// into dir, creating it; it returns the paths written.
func PyTorch(dir string, m Model) ([]string, error) {
	src, err := PyTorchSource(m)
	if err != nil {
		return nil, err
	}
	_, g, err := emit(m)
	if err != nil {
		return nil, err
	}
	weights := tensor.Map{}
	for _, p := range g.Params() {
		t, ok := m.Params[p.Name]
		if !ok {
			return nil, fmt.Errorf("export: the weights lack tensor %s (%v)", p.Name, p.Shape)
		}
		if !t.SameShape(p.Shape) {
			return nil, fmt.Errorf("export: tensor %s has shape %v, the architecture needs %v", p.Name, t.Shape, p.Shape)
		}
		weights[p.Name] = t
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	wp := filepath.Join(dir, PyTorchWeights)
	if err := checkpoint.Save(wp, m.Arch, m.Input, weights, map[string]string{"exported_for": "pytorch " + PyTorchModule}); err != nil {
		return nil, err
	}
	mp := filepath.Join(dir, PyTorchModule)
	if err := os.WriteFile(mp, src, 0o644); err != nil {
		return nil, err
	}
	return []string{mp, wp}, nil
}

func outClasses(a ir.Arch) int {
	if n := len(a.Layers); n > 0 {
		return a.Layers[n-1].Units
	}
	return 0
}

// pyFloats prints float32s as the float64 that equals each exactly, so
// Python's float -> torch.float32 gives back the same bits.
func pyFloats(v []float32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(float64(x), 'g', -1, 64)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func pyStrings(v []string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = pyQuote(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// pyQuote writes a Python string literal (Go's %q escapes are valid Python
// for printable text; anything else is escaped as \uXXXX, which both share).
func pyQuote(s string) string { return strconv.QuoteToASCII(s) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var pyTemplate = template.Must(template.New("model.py").Parse(`"""A network exported by easrun (eas: Efficient Architecture Search by Network Transformation).

    {{.Arch}}
{{- if .Source}}
    from {{.Source}}
{{- end}}

Needs only torch:

    import model
    net = model.load()            # weights from {{.Weights}} beside this file, eval mode
    logits = net(x)               # x: float tensor [N, {{.C}}, {{.H}}, {{.W}}], pixels in [0, 1]

The module applies the normalisation the network was trained with (MEAN, STD
below) itself and returns logits (apply softmax for probabilities). Its forward
pass is eas's lowered graph, one statement per operation, so it computes what
easrun computes: plain layers are conv -> BN -> ReLU and FC -> BN -> ReLU;
DenseNet-BC layers BN-ReLU-conv1x1-BN-ReLU-conv3x3 concatenated onto their
input; pooling has no padding. Parameter names (state_dict keys) are eas's
checkpoint tensor names.
"""
import json
import os
import struct
import sys
from array import array

import torch
import torch.nn.functional as F
from torch import nn

ARCH = {{printf "%q" .Arch}}
INPUT_SHAPE = ({{.C}}, {{.H}}, {{.W}})  # channels, height, width
MEAN = {{.Mean}}  # per channel, of pixels in [0, 1]
STD = {{.Std}}
CLASSES = {{.Classes}}
BN_EPS = {{.Eps}}
WEIGHTS = {{printf "%q" .Weights}}


class Normalize(nn.Module):
    """(x - MEAN) / STD per channel: the inputs the network was trained on."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x):
        return (x - self.mean) / self.std


class Net(nn.Module):
    """The network; takes a float tensor [N, C, H, W] of pixels in [0, 1] and returns logits [N, classes]."""

    def __init__(self):
        super().__init__()
        self.normalize = Normalize(MEAN, STD)
        # Modules are stored under eas's tensor-name prefixes (l2.1.bn1 is
        # self.l2["1"]["bn1"]), so state_dict keys are eas's checkpoint names.
        for name, module in [
{{- range .Modules}}
            {{.}}
{{- end}}
        ]:
            parent = self
            *path, leaf = name.split(".")
            for part in path:
                if part not in parent._modules:
                    parent.add_module(part, nn.ModuleDict())
                parent = parent._modules[part]
            parent.add_module(leaf, module)

    def forward(self, x):
        if x.dim() != 4 or tuple(x.shape[1:]) != INPUT_SHAPE:
            raise ValueError("expected a float tensor [N, %d, %d, %d] of pixels in [0, 1], got shape %s" % (INPUT_SHAPE + (tuple(x.shape),)))
{{- range .Forward}}
        {{.}}
{{- end}}


def read_safetensors(path):
    """The float32 tensors of a .safetensors file, read with the standard library and torch
    (an 8-byte little-endian header length, a JSON header, then little-endian data)."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if len(raw) < 8:
        raise ValueError("%s: truncated (%d bytes)" % (path, len(raw)))
    (n,) = struct.unpack("<Q", bytes(raw[:8]))
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d exceeds the file" % (path, n))
    header = json.loads(bytes(raw[8:8 + n]).decode("utf-8"))
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            raise ValueError("%s: tensor %s has dtype %s, expected F32" % (path, name, e["dtype"]))
        lo, hi = e["data_offsets"]
        if not 0 <= lo <= hi <= len(raw) - 8 - n:
            raise ValueError("%s: tensor %s lies outside the file" % (path, name))
        if sys.byteorder == "little":
            t = torch.frombuffer(raw, dtype=torch.float32, count=(hi - lo) // 4, offset=8 + n + lo).clone()
        else:
            a = array("f", bytes(raw[8 + n + lo:8 + n + hi]))
            a.byteswap()
            t = torch.tensor(a, dtype=torch.float32)
        out[name] = t.reshape(e["shape"])
    return out


def load(path=None, device="cpu"):
    """The network with its trained weights (default: WEIGHTS beside this file), in eval mode."""
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), WEIGHTS)
    net = Net()
    state = read_safetensors(path)
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise ValueError("%s does not fit %s: missing %s, unexpected %s" % (path, ARCH, missing, unexpected))
    for k, v in state.items():
        if tuple(own[k].shape) != tuple(v.shape):
            raise ValueError("%s: tensor %s has shape %s, the network needs %s" % (path, k, tuple(v.shape), tuple(own[k].shape)))
    net.load_state_dict(state, strict=False)
    return net.to(device).eval()


if __name__ == "__main__":
    net = load()
    with torch.no_grad():
        y = net(torch.rand(2, *INPUT_SHAPE))
    print(ARCH)
    print("parameters: %d, logits for 2 random images: %s" % (sum(p.numel() for p in net.parameters()), tuple(y.shape)))
`))
