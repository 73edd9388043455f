"""S3FD: Single Shot Scale-invariant Face Detector (Zhang et al., ICCV 2017), the network.

``build_s3fd(phase, num_classes, cfg)`` builds VGG16 without batch norm (ReLU after every conv), fc6 / fc7 as
convolutions, the extras conv6_1/6_2 and conv7_1/7_2, L2Norm (10 / 8 / 5) on conv3_3 / conv4_3 / conv5_3, and one
3x3 loc head (4 channels) and conf head per source; the conv3_3 conf head has 3 background channels + 1 face channel,
reduced to 2 logits by the max-out background label (the max over the 3 background channels).

Sources (stride, prior side): conv3_3 (4, 16), conv4_3 (8, 32), conv5_3 (16, 64), fc7 (32, 128),
conv6_2 (64, 256), conv7_2 (128, 512). ``cfg.ARCH`` selects ``yxlijun`` (fc6 padding 6 dilation 6, pool3
``ceil_mode``) or ``sfd`` (the official Caffe model: fc6 padding 3 without dilation, pool3 rounding down).

The module tree and parameter names are the reference's (``vgg.N``, ``L2Norm3_3``, ``extras.N``, ``loc.N``,
``conf.N``), so its ``state_dict`` is a yxlijun state dict. Outputs, for a [B, 3, H, W] input:
  ``phase="train"``: ``(loc [B, P, 4], conf logits [B, P, 2], priors [P, 4])``;
  ``phase="test"``:  Detect's ``[B, 2, TOP_K, 5]`` rows ``(score, x1, y1, x2, y2)``, normalised.
Priors come from the actual feature-map sizes of each call (cached per input size).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from data.config import cfg as default_cfg
from layers.functions.detection import Detect
from layers.functions.prior_box import priors_for
from layers.modules.l2norm import L2Norm

# 'M': 2x2 max-pool stride 2 (floor), 'C': pool3 (ceil_mode for yxlijun, floor for sfd), numbers: 3x3 conv + ReLU
vgg_cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "C", 512, 512, 512, "M", 512, 512, 512, "M"]
extras_cfg = [256, "S", 512, 128, "S", 256]
# indices in the vgg ModuleList: after conv3_3's ReLU (16 layers), conv4_3's (23), conv5_3's (30)
CONV3_3_END, CONV4_3_END, CONV5_3_END = 16, 23, 30


def vgg(cfg, i, arch):
    layers = []
    in_channels = i
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        elif v == "C":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=arch["pool3_ceil_mode"])]
        else:
            layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = v
    fc6 = nn.Conv2d(512, 1024, kernel_size=3, padding=arch["fc6_padding"], dilation=arch["fc6_dilation"])
    fc7 = nn.Conv2d(1024, 1024, kernel_size=1)
    return layers + [fc6, nn.ReLU(inplace=True), fc7, nn.ReLU(inplace=True)]


def add_extras(cfg, i):
    """conv6_1 1x1 -> 256, conv6_2 3x3 s2 p1 -> 512, conv7_1 1x1 -> 128, conv7_2 3x3 s2 p1 -> 256."""
    layers = []
    in_channels = i
    kernel3 = False
    for k, v in enumerate(cfg):
        if in_channels != "S":
            if v == "S":
                layers += [nn.Conv2d(in_channels, cfg[k + 1], kernel_size=3 if kernel3 else 1, stride=2, padding=1)]
            else:
                layers += [nn.Conv2d(in_channels, v, kernel_size=3 if kernel3 else 1)]
            kernel3 = not kernel3
        in_channels = v
    return layers


def multibox(vgg_layers, extra_layers, num_classes):
    """Heads: conv3_3 (conf: 3 background + num_classes - 1), conv4_3, conv5_3, fc7, conv6_2, conv7_2."""
    loc_layers = [nn.Conv2d(vgg_layers[14].out_channels, 4, kernel_size=3, padding=1)]
    conf_layers = [nn.Conv2d(vgg_layers[14].out_channels, 3 + (num_classes - 1), kernel_size=3, padding=1)]
    for v in (21, 28, -2):
        loc_layers += [nn.Conv2d(vgg_layers[v].out_channels, 4, kernel_size=3, padding=1)]
        conf_layers += [nn.Conv2d(vgg_layers[v].out_channels, num_classes, kernel_size=3, padding=1)]
    for v in extra_layers[1::2]:
        loc_layers += [nn.Conv2d(v.out_channels, 4, kernel_size=3, padding=1)]
        conf_layers += [nn.Conv2d(v.out_channels, num_classes, kernel_size=3, padding=1)]
    return vgg_layers, extra_layers, (loc_layers, conf_layers)


class S3FD(nn.Module):
    def __init__(self, phase, base, extras, head, num_classes, cfg):
        super().__init__()
        if phase not in ("train", "test"):
            raise ValueError(f"phase must be 'train' or 'test', not {phase!r}")
        self.phase = phase
        self.num_classes = num_classes
        self.cfg = cfg
        self.vgg = nn.ModuleList(base)
        s3, s4, s5 = cfg.L2NORM_SCALES
        self.L2Norm3_3 = L2Norm(256, s3)
        self.L2Norm4_3 = L2Norm(512, s4)
        self.L2Norm5_3 = L2Norm(512, s5)
        self.extras = nn.ModuleList(extras)
        self.loc = nn.ModuleList(head[0])
        self.conf = nn.ModuleList(head[1])
        self.detect = Detect(cfg)

    def heads(self, x):
        """Raw outputs: ``loc`` [B, P, 4], ``conf`` logits [B, P, num_classes] (after the max-out background) and
        the source maps' sizes [(h, w)] * 6."""
        sources = []
        for k in range(CONV3_3_END):
            x = self.vgg[k](x)
        sources.append(self.L2Norm3_3(x))
        for k in range(CONV3_3_END, CONV4_3_END):
            x = self.vgg[k](x)
        sources.append(self.L2Norm4_3(x))
        for k in range(CONV4_3_END, CONV5_3_END):
            x = self.vgg[k](x)
        sources.append(self.L2Norm5_3(x))
        for k in range(CONV5_3_END, len(self.vgg)):
            x = self.vgg[k](x)
        sources.append(x)
        for k, v in enumerate(self.extras):
            x = F.relu(v(x), inplace=True)
            if k % 2 == 1:
                sources.append(x)

        loc, conf = [], []
        conf_x = self.conf[0](sources[0])
        max_conf, _ = torch.max(conf_x[:, 0:3, :, :], dim=1, keepdim=True)
        conf.append(torch.cat((max_conf, conf_x[:, 3:, :, :]), dim=1).permute(0, 2, 3, 1))
        loc.append(self.loc[0](sources[0]).permute(0, 2, 3, 1))
        for i in range(1, len(sources)):
            conf.append(self.conf[i](sources[i]).permute(0, 2, 3, 1))
            loc.append(self.loc[i](sources[i]).permute(0, 2, 3, 1))
        maps = [(int(o.size(1)), int(o.size(2))) for o in loc]
        b = x.size(0)
        loc = torch.cat([o.reshape(b, -1) for o in loc], 1).view(b, -1, 4)
        conf = torch.cat([o.reshape(b, -1) for o in conf], 1).view(b, -1, self.num_classes)
        return loc, conf, maps

    def forward(self, x):
        loc, conf, maps = self.heads(x)
        priors = priors_for(x.shape[2:], maps, self.cfg).to(x.device)
        if self.phase == "test":
            return self.detect(loc, F.softmax(conf.float(), dim=-1), priors)
        return loc, conf, priors


# mean-subtracted 0-255 pixels have a standard deviation of about 60: conv1_1's He weights are divided by this
# when VGG starts from scratch, so that activations start at the unit scale He initialisation assumes
SCRATCH_INPUT_GAIN = 1 / 64


def init_weights(net, vgg_too=True):
    """The reference's initialisation of the layers it trains from scratch: xavier-uniform weights and zero biases
    for extras, loc and conf. With ``vgg_too`` (no ``--basenet`` given) the VGG convolutions are initialised as
    torchvision initialises VGG for ImageNet training (He normal, fan-out, zero bias), conv1_1 scaled by
    ``SCRATCH_INPUT_GAIN`` for the unnormalised pixel input."""
    def xavier(m):
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def he(m):
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)

    net.extras.apply(xavier)
    net.loc.apply(xavier)
    net.conf.apply(xavier)
    if vgg_too:
        net.vgg.apply(he)
        with torch.no_grad():
            net.vgg[0].weight.mul_(SCRATCH_INPUT_GAIN)


def count_parameters(net):
    """Learnable values of the network (22,459,110 for both architectures, L2Norm weights included)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def build_s3fd(phase, num_classes=2, cfg=None):
    """The S3FD network of ``cfg`` (default: the reference's configuration, ``ARCH`` yxlijun)."""
    cfg = cfg if cfg is not None else default_cfg
    base_, extras_, head_ = multibox(vgg(vgg_cfg, 3, cfg.arch), add_extras(extras_cfg, 1024), num_classes)
    return S3FD(phase, base_, extras_, head_, num_classes, cfg)
