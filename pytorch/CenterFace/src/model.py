"""CenterFace network: MobileNetV2 backbone, IDAUp neck to stride 4, four 1x1 heads.

One model class, two configurations (``src/config.py`` ``MODEL_PRESETS``):

* ``chenjun2hao`` (training default): neck width 64, depthwise 2x2 deconvolutions, ReLU6 backbone.
* ``official`` (the released Star-Clouds model): neck width 24, full 2x2 deconvolutions, ReLU backbone.

Module names follow the released graph (``backbone.features.N.conv.M``, ``neck.lateral_layers.i``,
``neck.deconv_layers.i``, ``head.*``), so ``tools/convert_official.py`` maps weights one to one.
"""
import copy
import math

import torch
import torch.nn as nn

from .config import as_config

# (expansion t, output channels c, repeats n, first stride s) of MobileNetV2 width 1.0
MBV2_SETTINGS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
                 [6, 320, 1, 1]]
# indices of ``features`` whose outputs feed the neck, at strides 4, 8, 16, 32
TAPS = (3, 6, 13, 17)
TAP_CHANNELS = (24, 32, 96, 320)
BN_EPS_DECONV = 1e-3


def _act(kind):
    if kind == "relu6":
        return nn.ReLU6(inplace=True)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    raise ValueError(f"unknown activation {kind!r}")


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio, act):
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers += [nn.Conv2d(inp, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), _act(act)]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   _act(act), nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 width 1.0 without the final 1x1 conv to 1280 and the classifier; returns the 4 taps."""

    def __init__(self, act="relu6"):
        super().__init__()
        feats = [nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), _act(act))]
        inp = 32
        for t, c, n, s in MBV2_SETTINGS:
            for i in range(n):
                feats.append(InvertedResidual(inp, c, s if i == 0 else 1, t, act))
                inp = c
        self.features = nn.Sequential(*feats)

    def forward(self, x):
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAPS:
                outs.append(x)
        return outs


class ConvBNReLU(nn.Module):
    def __init__(self, cin, cout, k=1, eps=1e-3, momentum=0.1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, 1, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps, momentum=momentum)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


def _bilinear_fill(weight):
    """CenterNet-style bilinear up-sampling kernel on the channel diagonal (a 2x2/s2 kernel becomes [[1,0],[0,0]])."""
    k = weight.shape[2]
    f = math.ceil(k / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    ker = torch.zeros(k, k)
    for i in range(k):
        for j in range(k):
            ker[i, j] = (1 - abs(i / f - c)) * (1 - abs(j / f - c))
    with torch.no_grad():
        weight.zero_()
        if weight.shape[1] == 1:  # depthwise: [C, 1, k, k]
            weight[:, 0] = ker
        else:  # full: [C_in, C_out, k, k]
            for ch in range(min(weight.shape[0], weight.shape[1])):
                weight[ch, ch] = ker


class DeconvBNReLU(nn.Module):
    def __init__(self, ch, depthwise):
        super().__init__()
        self.conv = nn.ConvTranspose2d(ch, ch, 2, 2, 0, groups=ch if depthwise else 1, bias=False)
        self.bn = nn.BatchNorm2d(ch, eps=BN_EPS_DECONV)
        self.relu = nn.ReLU(inplace=True)
        _bilinear_fill(self.conv.weight)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class IDAUpNeck(nn.Module):
    """x = lat3(f32); then for i = 2, 1, 0: x = up_i(x) + lat_i(f_i). Output: C channels at stride 4.
    Lateral and up BatchNorms use eps 1e-3 (the reference's MobileNetUp / IDAUp)."""

    def __init__(self, ch, depthwise):
        super().__init__()
        self.lateral_layers = nn.ModuleList([ConvBNReLU(c, ch, 1) for c in TAP_CHANNELS])
        self.deconv_layers = nn.ModuleList([DeconvBNReLU(ch, depthwise) for _ in range(3)])

    def forward(self, feats):
        x = self.lateral_layers[3](feats[3])
        for i in (2, 1, 0):
            x = self.deconv_layers[i](x) + self.lateral_layers[i](feats[i])
        return x


class Head(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.feat = nn.Conv2d(ch, ch, 3, 1, 1, bias=False)
        self.feat_bn = nn.BatchNorm2d(ch, eps=1e-5, momentum=0.01)
        self.relu = nn.ReLU(inplace=True)
        self.pos_conv = nn.Conv2d(ch, 1, 1)
        self.reg_conv = nn.Conv2d(ch, 2, 1)
        self.off_conv = nn.Conv2d(ch, 2, 1)
        self.lm_conv = nn.Conv2d(ch, 10, 1)

    def forward(self, x):
        x = self.relu(self.feat_bn(self.feat(x)))
        return {"hm": torch.sigmoid(self.pos_conv(x)), "wh": self.reg_conv(x), "hm_offset": self.off_conv(x),
                "landmarks": self.lm_conv(x)}


class CenterFace(nn.Module):
    """CenterFace detector. ``forward`` returns a dict ``hm`` (sigmoid, 1 ch), ``wh`` (2), ``hm_offset`` (2),
    ``landmarks`` (10), all at stride 4. The input's H and W must be multiples of 32."""

    def __init__(self, cfg="chenjun2hao"):
        super().__init__()
        self.cfg = as_config(cfg)
        self.backbone = MobileNetV2(self.cfg.activation)
        self.neck = IDAUpNeck(self.cfg.head_conv, self.cfg.deconv == "depthwise")
        self.head = Head(self.cfg.head_conv)
        self.reset_parameters()

    def reset_parameters(self):
        """The reference's initialisation: Kaiming-normal (fan_out) convolutions in the backbone and neck (the 3x3
        head feature conv included), BN gamma 1 / beta 0, bilinear-filled deconvolutions, PyTorch-default 1x1 head
        convolutions (no -2.19 heatmap bias)."""
        heads = {self.head.pos_conv, self.head.reg_conv, self.head.off_conv, self.head.lm_conv}
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m not in heads:
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.ConvTranspose2d):
                _bilinear_fill(m.weight)

    def forward(self, x):
        return self.head(self.neck(self.backbone(x)))

    def load_imagenet_backbone(self, state_dict):
        """Loads an ImageNet MobileNetV2 state dict (torchvision or tonylins naming) *by position*, as the reference
        does: the i-th backbone tensor takes the i-th ``features.*`` tensor of the same shape order. The 1x1 conv to
        1280 (``features.18``) and the classifier are skipped. Returns the number of tensors loaded."""
        if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
            state_dict = state_dict["state_dict"]
        src = [(k, v) for k, v in state_dict.items()
               if "features." in k and not k.split("features.")[1].startswith("18.") and "num_batches" not in k]
        dst = [(k, v) for k, v in self.backbone.state_dict().items() if "num_batches" not in k]
        if len(src) != len(dst):
            raise ValueError(f"ImageNet MobileNetV2 state dict has {len(src)} backbone tensors, expected {len(dst)}")
        new = {}
        for (ks, vs), (kd, vd) in zip(src, dst):
            if tuple(vs.shape) != tuple(vd.shape):
                raise ValueError(f"shape mismatch loading {ks} {tuple(vs.shape)} into backbone.{kd} {tuple(vd.shape)}")
            new[kd] = vs
        self.backbone.load_state_dict(new, strict=False)
        return len(new)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


class ExportWrapper(nn.Module):
    """Returns the four maps as a tuple (hm, wh, hm_offset, landmarks) for ONNX export."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x)
        return out["hm"], out["wh"], out["hm_offset"], out["landmarks"]


def _fold_bn(conv, bn):
    """Returns (weight, bias) of ``conv`` with the eval-mode ``bn`` that follows it folded in."""
    s = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    b0 = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    w = conv.weight.detach()
    if isinstance(conv, nn.ConvTranspose2d):  # weight [C_in, C_out/groups, k, k]
        g = conv.groups
        cin, cog = w.shape[0], w.shape[1]
        w = (w.reshape(g, cin // g, cog, *w.shape[2:]) * s.reshape(g, 1, cog, 1, 1)).reshape(w.shape)
    else:
        w = w * s.reshape(-1, 1, 1, 1)
    return w, (b0 - bn.running_mean) * s + bn.bias.detach()


def _fused_conv(conv, bn):
    w, b = _fold_bn(conv, bn)
    new = copy.deepcopy(conv)
    new.weight = nn.Parameter(w)
    new.bias = nn.Parameter(b)
    return new


def fuse_bn(model):
    """An inference copy of ``model`` with every BatchNorm folded into the preceding (de)convolution."""
    m = copy.deepcopy(model).eval()
    for mod in m.modules():
        if isinstance(mod, nn.Sequential):
            items = list(mod)
            for i in range(len(items) - 1):
                if isinstance(items[i], nn.Conv2d) and isinstance(items[i + 1], nn.BatchNorm2d):
                    mod[i] = _fused_conv(items[i], items[i + 1])
                    mod[i + 1] = nn.Identity()
        elif isinstance(mod, (ConvBNReLU, DeconvBNReLU)):
            mod.conv = _fused_conv(mod.conv, mod.bn)
            mod.bn = nn.Identity()
        elif isinstance(mod, Head):
            mod.feat = _fused_conv(mod.feat, mod.feat_bn)
            mod.feat_bn = nn.Identity()
    return m


def optimize_for_cpu(model, example_hw=(480, 640)):
    """TorchScript trace + freeze + ``optimize_for_inference`` (oneDNN layouts) of the BN-folded model; returns a
    callable with the same dict output; any input size works. On this CPU it is ~1.7x faster than the eager
    channels-last model, but TorchScript is deprecated in recent PyTorch, so it is opt-in (``--jit``)."""
    import warnings
    fused = ExportWrapper(fuse_bn(model)).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(fused, torch.zeros(1, 3, *example_hw))
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))

    def run(x):
        hm, wh, off, lm = frozen(x)
        return {"hm": hm, "wh": wh, "hm_offset": off, "landmarks": lm}

    return run
