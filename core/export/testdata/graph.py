"""A network exported by easrun (eas: Efficient Architecture Search by Network Transformation).

    C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) | C(2,1,1)) | ID) P(2,2,MAX) CAT(ADD(C(4,3,1) | ID | ID) | C(3,3,1) DO(0.5)) GAP SM(2)
    from test.safetensors

Needs only torch:

    import model
    net = model.load()            # weights from model.safetensors beside this file, eval mode
    logits = net(x)               # x: float tensor [N, 3, 12, 12], pixels in [0, 1]

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

ARCH = "C(4,3,1) ADD(C(4,3,1) CAT(C(2,3,1) | C(2,1,1)) | ID) P(2,2,MAX) CAT(ADD(C(4,3,1) | ID | ID) | C(3,3,1) DO(0.5)) GAP SM(2)"
INPUT_SHAPE = (3, 12, 12)  # channels, height, width
MEAN = [0.25, 0.375, 0.5]  # per channel, of pixels in [0, 1]
STD = [0.30000001192092896, 0.30000001192092896, 0.30000001192092896]
CLASSES = []
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


class Net(nn.Module):
    """The network; takes a float tensor [N, C, H, W] of pixels in [0, 1] and returns logits [N, classes]."""

    def __init__(self):
        super().__init__()
        self.normalize = Normalize(MEAN, STD)
        # Modules are stored under eas's tensor-name prefixes (l2.1.bn1 is
        # self.l2["1"]["bn1"]), so state_dict keys are eas's checkpoint names.
        for name, module in [
            ("l1.conv", nn.Conv2d(3, 4, 3, 1, padding=1, bias=False)),
            ("l1.bn", nn.BatchNorm2d(4, eps=BN_EPS)),
            ("l3.conv", nn.Conv2d(4, 4, 3, 1, padding=1, bias=False)),
            ("l3.bn", nn.BatchNorm2d(4, eps=BN_EPS)),
            ("l5.conv", nn.Conv2d(4, 2, 3, 1, padding=1, bias=False)),
            ("l5.bn", nn.BatchNorm2d(2, eps=BN_EPS)),
            ("l6.conv", nn.Conv2d(4, 2, 1, 1, padding=0, bias=False)),
            ("l6.bn", nn.BatchNorm2d(2, eps=BN_EPS)),
            ("l11.conv", nn.Conv2d(4, 4, 3, 1, padding=1, bias=False)),
            ("l11.bn", nn.BatchNorm2d(4, eps=BN_EPS)),
            ("l14.conv", nn.Conv2d(4, 3, 3, 1, padding=1, bias=False)),
            ("l14.bn", nn.BatchNorm2d(3, eps=BN_EPS)),
            ("l17.sm", nn.Linear(7, 2, bias=True)),
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
        x = self.normalize(x)
        # l1: C(4,3,1)
        x = self.l1["conv"](x)
        x = self.l1["bn"](x)
        x3 = F.relu(x)
        # l3: C(4,3,1)
        x = self.l3["conv"](x3)
        x = self.l3["bn"](x)
        x6 = F.relu(x)
        # l5: C(2,3,1)
        x = self.l5["conv"](x6)
        x = self.l5["bn"](x)
        x9 = F.relu(x)
        # l6: C(2,1,1)
        x = self.l6["conv"](x6)
        del x6
        x = self.l6["bn"](x)
        x = F.relu(x)
        # l4: CAT
        x = torch.cat([x9, x], 1)
        del x9
        # l2: ADD
        x = x + x3
        del x3
        # l8: P(2,2,MAX)
        x15 = F.max_pool2d(x, 2, 2)
        # l11: C(4,3,1)
        x = self.l11["conv"](x15)
        x = self.l11["bn"](x)
        x = F.relu(x)
        # l10: ADD
        x19 = x + x15 + x15
        # l14: C(3,3,1)
        x = self.l14["conv"](x15)
        del x15
        x = self.l14["bn"](x)
        x = F.relu(x)
        # l15: DO(0.5)
        x = F.dropout(x, 0.5, self.training)
        # l9: CAT
        x = torch.cat([x19, x], 1)
        del x19
        # l16: GAP
        x = x.mean((2, 3), keepdim=True)
        # l17: SM(2)
        x = self.l17["sm"](torch.flatten(x, 1))[:, :, None, None]
        return torch.flatten(x, 1)


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
