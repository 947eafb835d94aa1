package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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

// pyLayer is one written layer as Python: a constructor expression and the
// checkpoint tensors the module owns (checked against the lowered graph).
type pyLayer struct {
	expr   string
	params []string
}

// layerCtx is what an emitter knows about one written layer.
type layerCtx struct {
	l      ir.Layer
	name   string   // "l3"
	in     ir.Shape // the layer's input
	dense  bool     // the architecture is a DenseNet
	outC   int      // output channels (from the lowered graph)
	inSize int      // flattened input size, for FC and SM
}

func bnParams(prefix string) []string {
	return []string{prefix + ".weight", prefix + ".bias", prefix + ".running_mean", prefix + ".running_var"}
}

// pyLayers maps each layer kind to its Python module; the module classes
// are defined in pyTemplate and mirror ir.Lower node for node.
var pyLayers = map[ir.Kind]func(c layerCtx) pyLayer{
	ir.Conv: func(c layerCtx) pyLayer {
		if c.dense { // DenseNet stem: a bare convolution
			return pyLayer{fmt.Sprintf("Stem(%d, %d, %d, %d)", c.in.C, c.l.Filters, c.l.Kernel, c.l.Stride), []string{c.name + ".conv.weight"}}
		}
		return pyLayer{fmt.Sprintf("ConvBNReLU(%d, %d, %d, %d)", c.in.C, c.l.Filters, c.l.Kernel, c.l.Stride),
			append([]string{c.name + ".conv.weight"}, bnParams(c.name+".bn")...)}
	},
	ir.Pool: func(c layerCtx) pyLayer {
		if c.l.Op == ir.Avg { // no padding, so the divisor is always kernel*kernel
			return pyLayer{fmt.Sprintf("nn.AvgPool2d(%d, %d)", c.l.Kernel, c.l.Stride), nil}
		}
		return pyLayer{fmt.Sprintf("nn.MaxPool2d(%d, %d)", c.l.Kernel, c.l.Stride), nil}
	},
	ir.FC: func(c layerCtx) pyLayer {
		return pyLayer{fmt.Sprintf("FCBNReLU(%d, %d)", c.inSize, c.l.Units), append([]string{c.name + ".fc.weight"}, bnParams(c.name+".bn")...)}
	},
	ir.Dropout: func(c layerCtx) pyLayer {
		return pyLayer{fmt.Sprintf("nn.Dropout(%s)", strconv.FormatFloat(c.l.Rate, 'g', -1, 64)), nil}
	},
	ir.GAP: func(c layerCtx) pyLayer {
		if c.dense { // DenseNet: BN -> ReLU before the pooling
			return pyLayer{fmt.Sprintf("BNReLUGlobalAvgPool(%d)", c.in.C), bnParams(c.name + ".bn")}
		}
		return pyLayer{"GlobalAvgPool()", nil}
	},
	ir.DenseBlock: func(c layerCtx) pyLayer {
		items := make([]string, len(c.l.Dense))
		var ps []string
		for j, d := range c.l.Dense {
			items[j] = fmt.Sprintf("(%d, %d)", d.Growth, d.Bottleneck)
			q := fmt.Sprintf("%s.%d", c.name, j+1)
			if d.Bottleneck > 0 {
				ps = append(append(ps, bnParams(q+".bn1")...), q+".conv1.weight")
			}
			ps = append(append(ps, bnParams(q+".bn2")...), q+".conv2.weight")
		}
		return pyLayer{fmt.Sprintf("DenseBlock(%d, [%s])", c.in.C, strings.Join(items, ", ")), ps}
	},
	ir.Transition: func(c layerCtx) pyLayer {
		return pyLayer{fmt.Sprintf("Transition(%d, %d)", c.in.C, c.outC), append(bnParams(c.name+".bn"), c.name+".conv.weight")}
	},
	ir.Softmax: func(c layerCtx) pyLayer {
		return pyLayer{fmt.Sprintf("Classifier(%d, %d)", c.inSize, c.l.Units), []string{c.name + ".sm.weight", c.name + ".sm.bias"}}
	},
}

// layers lowers m's architecture and emits each written layer, checking
// that the Python modules own exactly the graph's parameters.
func layers(m Model) ([]pyLayer, *ir.Graph, error) {
	g, err := ir.Lower(m.Arch, m.Input)
	if err != nil {
		return nil, nil, err
	}
	dense := m.Arch.Family() == ir.FamilyDenseNet
	var out []pyLayer
	owned := map[string]bool{}
	for i, l := range m.Arch.Layers {
		emit, ok := pyLayers[l.Kind]
		if !ok {
			return nil, nil, fmt.Errorf("export: layer %d (%s): no PyTorch module for this kind", i+1, l)
		}
		ids := g.LayerNodes(i + 1)
		if len(ids) == 0 {
			return nil, nil, fmt.Errorf("export: layer %d (%s) has no graph nodes", i+1, l)
		}
		in := g.Nodes[g.Nodes[ids[0]].Inputs[0]].Out
		pl := emit(layerCtx{l: l, name: fmt.Sprintf("l%d", i+1), in: in, dense: dense, outC: g.Nodes[ids[len(ids)-1]].Out.C, inSize: in.Size()})
		for _, p := range pl.params {
			owned[p] = true
		}
		out = append(out, pl)
	}
	want := map[string]bool{}
	for _, p := range g.Params() {
		want[p.Name] = true
		if !owned[p.Name] {
			return nil, nil, fmt.Errorf("export: internal error: tensor %s of %s has no PyTorch module", p.Name, m.Arch)
		}
	}
	for p := range owned {
		if !want[p] {
			return nil, nil, fmt.Errorf("export: internal error: the PyTorch module of %s expects tensor %s the network lacks", m.Arch, p)
		}
	}
	return out, g, nil
}

// PyTorchSource is the text of model.py for m.
func PyTorchSource(m Model) ([]byte, error) {
	ls, _, err := layers(m)
	if err != nil {
		return nil, err
	}
	if len(m.Mean) != m.Input.C || len(m.Std) != m.Input.C {
		return nil, fmt.Errorf("export: normalisation has %d means and %d stds for %d input channels", len(m.Mean), len(m.Std), m.Input.C)
	}
	if len(m.ClassNames) > 0 && len(m.ClassNames) != outClasses(m.Arch) {
		return nil, fmt.Errorf("export: %d class names for %d outputs", len(m.ClassNames), outClasses(m.Arch))
	}
	var body []string
	for i, l := range ls {
		body = append(body, fmt.Sprintf("(%q, %s),  # %s", fmt.Sprintf("l%d", i+1), l.expr, m.Arch.Layers[i]))
	}
	v := map[string]any{
		"Arch": m.Arch.String(), "C": m.Input.C, "H": m.Input.H, "W": m.Input.W,
		"Mean": pyFloats(m.Mean), "Std": pyFloats(m.Std), "Eps": strconv.FormatFloat(m.BNEps, 'g', -1, 64),
		"Classes": pyStrings(m.ClassNames), "Layers": body, "Weights": PyTorchWeights, "Source": oneLine(m.Source),
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
	_, g, err := layers(m)
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
below) itself and returns logits (apply softmax for probabilities). Layer
semantics follow eas exactly: plain layers are conv -> BN -> ReLU and
FC -> BN -> ReLU; DenseNet-BC layers are BN-ReLU-conv1x1-BN-ReLU-conv3x3
concatenated onto their input; pooling has no padding.
"""
import json
import os
import struct
import sys
from array import array
from collections import OrderedDict

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


class ConvBNReLU(nn.Module):
    """C(n,f,s) of a plain network: same-padded convolution without bias, BatchNorm, ReLU."""

    def __init__(self, cin, cout, kernel, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Stem(nn.Module):
    """C(n,f,s) before a DenseNet's first block: a bare same-padded convolution."""

    def __init__(self, cin, cout, kernel, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=False)

    def forward(self, x):
        return self.conv(x)


class FCBNReLU(nn.Module):
    """FC(n): flatten, linear without bias, BatchNorm, ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.fc = nn.Linear(cin, cout, bias=False)
        self.bn = nn.BatchNorm1d(cout, eps=BN_EPS)

    def forward(self, x):
        return F.relu(self.bn(self.fc(torch.flatten(x, 1))))


class GlobalAvgPool(nn.Module):
    """GAP of a plain network: the mean over height and width."""

    def forward(self, x):
        return x.mean((2, 3), keepdim=True)


class BNReLUGlobalAvgPool(nn.Module):
    """GAP of a DenseNet: BatchNorm, ReLU, then the mean over height and width."""

    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, eps=BN_EPS)

    def forward(self, x):
        return F.relu(self.bn(x)).mean((2, 3), keepdim=True)


class DenseLayer(nn.Module):
    """One DenseNet-BC layer: [BN-ReLU-conv1x1(bottleneck)]-BN-ReLU-conv3x3(growth), concatenated after its input."""

    def __init__(self, cin, growth, bottleneck):
        super().__init__()
        c = cin
        self.bottleneck = bottleneck > 0
        if self.bottleneck:
            self.bn1 = nn.BatchNorm2d(cin, eps=BN_EPS)
            self.conv1 = nn.Conv2d(cin, bottleneck, 1, bias=False)
            c = bottleneck
        self.bn2 = nn.BatchNorm2d(c, eps=BN_EPS)
        self.conv2 = nn.Conv2d(c, growth, 3, padding=1, bias=False)

    def forward(self, x):
        h = x
        if self.bottleneck:
            h = self.conv1(F.relu(self.bn1(h)))
        h = self.conv2(F.relu(self.bn2(h)))
        return torch.cat([x, h], 1)


class DenseBlock(nn.Sequential):
    """DB(...): dense layers "1", "2", ... given as (growth, bottleneck); 0 means no bottleneck."""

    def __init__(self, cin, layers):
        mods = OrderedDict()
        for j, (growth, bottleneck) in enumerate(layers, 1):
            mods[str(j)] = DenseLayer(cin, growth, bottleneck)
            cin += growth
        super().__init__(mods)


class Transition(nn.Module):
    """T(c): BatchNorm, ReLU, 1x1 convolution to cout channels, 2x2 average pooling."""

    def __init__(self, cin, cout):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin, eps=BN_EPS)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2, 2)


class Classifier(nn.Module):
    """SM(n): flatten and a linear layer with bias; returns logits."""

    def __init__(self, cin, classes):
        super().__init__()
        self.sm = nn.Linear(cin, classes)

    def forward(self, x):
        return self.sm(torch.flatten(x, 1))


class Net(nn.Sequential):
    """The network; state_dict keys are eas's checkpoint tensor names (l3.conv.weight, ...)."""

    def __init__(self):
        super().__init__(OrderedDict([
            ("normalize", Normalize(MEAN, STD)),
{{- range .Layers}}
            {{.}}
{{- end}}
        ]))

    def forward(self, x):
        if x.dim() != 4 or tuple(x.shape[1:]) != INPUT_SHAPE:
            raise ValueError("expected a float tensor [N, %d, %d, %d] of pixels in [0, 1], got shape %s" % (INPUT_SHAPE + (tuple(x.shape),)))
        return super().forward(x)


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
