"""A network exported by easrun (eas: Efficient Architecture Search by Network Transformation).

    C(8,3,2) P(3,2,AVG) C(6,5,1) P(2,2,MAX) FC(12) DO(0.5) SM(3)
    from test.safetensors

Needs only torch:

    import model
    net = model.load()            # weights from model.safetensors beside this file, eval mode
    logits = net(x)               # x: float tensor [N, 3, 12, 12], pixels in [0, 1]

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

ARCH = "C(8,3,2) P(3,2,AVG) C(6,5,1) P(2,2,MAX) FC(12) DO(0.5) SM(3)"
INPUT_SHAPE = (3, 12, 12)  # channels, height, width
MEAN = [0.25, 0.375, 0.5]  # per channel, of pixels in [0, 1]
STD = [0.30000001192092896, 0.30000001192092896, 0.30000001192092896]
CLASSES = ["cat", "dog \"x\"", "\u00e9"]
BN_EPS = 1e-05
WEIGHTS = "model.safetensors"


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
            ("l1", ConvBNReLU(3, 8, 3, 2)),  # C(8,3,2)
            ("l2", nn.AvgPool2d(3, 2)),  # P(3,2,AVG)
            ("l3", ConvBNReLU(8, 6, 5, 1)),  # C(6,5,1)
            ("l4", nn.MaxPool2d(2, 2)),  # P(2,2,MAX)
            ("l5", FCBNReLU(6, 12)),  # FC(12)
            ("l6", nn.Dropout(0.5)),  # DO(0.5)
            ("l7", Classifier(12, 3)),  # SM(3)
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
