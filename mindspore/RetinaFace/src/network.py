"""RetinaFace network: ResNet50 ("modified pad" variant) or MobileNetV1-0.25 backbone, FPN, SSH and heads.

Layer names follow the MindSpore reference for the ResNet50 backbone (``conv1``, ``bn1``, ``layer1``..``layer4``,
``end_point``) and the PyTorch original for everything else (``fpn.output1``, ``ssh1.conv5X5_1``,
``ClassHead.0.conv1x1`` ...), so that released PyTorch weights map one to one (``tools/convert_official.py``).
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor


# ----------------------------------------------------------------------------------------------- initialisers
def _randn_weight(shape, factor=0.01):
    """ResNet conv init of the reference: N(0, 1) * 0.01 (overwritten by the pretrained backbone)."""
    return Tensor(np.random.randn(*shape).astype(np.float32) * factor)


def _kaiming_uniform(shape, a=math.sqrt(5), with_bias=False):
    """PyTorch's default conv init (kaiming_uniform_ with a=sqrt(5)), as the reference's ``Init_KaimingUniform``."""
    fan_in = shape[1] * int(np.prod(shape[2:]))
    gain = math.sqrt(2.0 / (1 + a ** 2))
    bound = math.sqrt(3.0) * gain / math.sqrt(fan_in)
    weight = Tensor(np.random.uniform(-bound, bound, shape).astype(np.float32))
    if not with_bias:
        return weight, None
    bias_bound = 1.0 / math.sqrt(fan_in)
    return weight, Tensor(np.random.uniform(-bias_bound, bias_bound, shape[:1]).astype(np.float32))


def _bn(channels):
    # eps 1e-5 and momentum 0.9 (MindSpore convention) == PyTorch's BatchNorm2d defaults
    return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.9)


def _act(leaky):
    return nn.LeakyReLU(alpha=leaky) if leaky else nn.ReLU()


def _conv(in_c, out_c, kernel, stride=1, padding=0, group=1, weight_init=None):
    if weight_init is None:
        weight_init, _ = _kaiming_uniform((out_c, in_c // group, kernel, kernel))
    return nn.Conv2d(in_c, out_c, kernel, stride=stride, pad_mode="pad", padding=padding, group=group,
                     has_bias=False, weight_init=weight_init)


class ConvBNReLU(nn.SequentialCell):
    """conv (no bias) -> BN -> ReLU / LeakyReLU. Children 0, 1, 2."""

    def __init__(self, in_c, out_c, kernel, stride=1, padding=0, group=1, leaky=0.0, weight_init=None):
        super().__init__([_conv(in_c, out_c, kernel, stride, padding, group, weight_init), _bn(out_c), _act(leaky)])


class ConvBN(nn.SequentialCell):
    """conv (no bias) -> BN. Children 0, 1."""

    def __init__(self, in_c, out_c, kernel, stride=1, padding=0, group=1):
        super().__init__([_conv(in_c, out_c, kernel, stride, padding, group), _bn(out_c)])


# ----------------------------------------------------------------------------------------------- ResNet50
class ResidualBlock(nn.Cell):
    """Bottleneck, stride on the 3x3 conv (v1.5), projection shortcut when the shape changes."""
    expansion = 4

    def __init__(self, in_channel, out_channel, stride=1):
        super().__init__()
        mid = out_channel // self.expansion
        self.conv1 = _conv(in_channel, mid, 1, weight_init=_randn_weight((mid, in_channel, 1, 1)))
        self.bn1 = _bn(mid)
        self.conv2 = _conv(mid, mid, 3, stride, 1, weight_init=_randn_weight((mid, mid, 3, 3)))
        self.bn2 = _bn(mid)
        self.conv3 = _conv(mid, out_channel, 1, weight_init=_randn_weight((out_channel, mid, 1, 1)))
        self.bn3 = _bn(out_channel)
        self.relu = nn.ReLU()
        self.down_sample = stride != 1 or in_channel != out_channel
        self.down_sample_layer = None
        if self.down_sample:
            self.down_sample_layer = nn.SequentialCell([
                _conv(in_channel, out_channel, 1, stride, weight_init=_randn_weight((out_channel, in_channel, 1, 1))),
                _bn(out_channel)])

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.down_sample:
            identity = self.down_sample_layer(x)
        return self.relu(out + identity)


class ResNet(nn.Cell):
    """ResNet50 "modified pad" variant: 1-px top/left zero pad + valid 3x3/2 max-pool instead of a padded pool.

    Returns (C3, C4, C5) = (512 ch /8, 1024 ch /16, 2048 ch /32). ``end_point`` (the ImageNet FC) is built, so that
    an ImageNet checkpoint of this backbone loads without missing keys, but it is not run.
    """

    def __init__(self, layer_nums=(3, 4, 6, 3), in_channels=(64, 256, 512, 1024),
                 out_channels=(256, 512, 1024, 2048), strides=(1, 2, 2, 2), num_classes=1001):
        super().__init__()
        self.conv1 = _conv(3, 64, 7, 2, 3, weight_init=_randn_weight((64, 3, 7, 7)))
        self.bn1 = _bn(64)
        self.relu = nn.ReLU()
        self.pad = nn.Pad(((0, 0), (0, 0), (1, 0), (1, 0)))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")
        self.layer1 = self._make_layer(layer_nums[0], in_channels[0], out_channels[0], strides[0])
        self.layer2 = self._make_layer(layer_nums[1], in_channels[1], out_channels[1], strides[1])
        self.layer3 = self._make_layer(layer_nums[2], in_channels[2], out_channels[2], strides[2])
        self.layer4 = self._make_layer(layer_nums[3], in_channels[3], out_channels[3], strides[3])
        self.end_point = nn.Dense(out_channels[3], num_classes, has_bias=True,
                                  weight_init=_randn_weight((num_classes, out_channels[3])), bias_init="zeros")

    @staticmethod
    def _make_layer(num, in_channel, out_channel, stride):
        blocks = [ResidualBlock(in_channel, out_channel, stride)]
        blocks += [ResidualBlock(out_channel, out_channel, 1) for _ in range(1, num)]
        return nn.SequentialCell(blocks)

    def construct(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(self.pad(x))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c3, c4, c5


def resnet50(num_classes=1001):
    return ResNet(num_classes=num_classes)


# ----------------------------------------------------------------------------------------------- MobileNetV1 x0.25
def _conv_bn(in_c, out_c, stride, leaky):
    """3x3 conv (pad 1) -> BN -> act. Children 0 conv, 1 BN, 2 act."""
    return ConvBNReLU(in_c, out_c, 3, stride, 1, leaky=leaky)


def _conv_dw(in_c, out_c, stride, leaky):
    """Depthwise 3x3 -> BN -> act -> pointwise 1x1 -> BN -> act. Children 0, 1, 2, 3, 4, 5 (PyTorch indices)."""
    return nn.SequentialCell([
        _conv(in_c, in_c, 3, stride, 1, group=in_c), _bn(in_c), _act(leaky),
        _conv(in_c, out_c, 1), _bn(out_c), _act(leaky)])


class MobileNetV1(nn.Cell):
    """MobileNetV1 x0.25, stages 1-3 only. Returns (stride 8, 64 ch), (16, 128 ch), (32, 256 ch)."""

    def __init__(self, leaky=0.1):
        super().__init__()
        self.stage1 = nn.SequentialCell([
            _conv_bn(3, 8, 2, leaky), _conv_dw(8, 16, 1, leaky), _conv_dw(16, 32, 2, leaky),
            _conv_dw(32, 32, 1, leaky), _conv_dw(32, 64, 2, leaky), _conv_dw(64, 64, 1, leaky)])
        self.stage2 = nn.SequentialCell([_conv_dw(64, 128, 2, leaky)] +
                                        [_conv_dw(128, 128, 1, leaky) for _ in range(5)])
        self.stage3 = nn.SequentialCell([_conv_dw(128, 256, 2, leaky), _conv_dw(256, 256, 1, leaky)])

    def construct(self, x):
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        c3 = self.stage3(c2)
        return c1, c2, c3


# ----------------------------------------------------------------------------------------------- neck and heads
class FPN(nn.Cell):
    """Three levels, lateral 1x1 ConvBNReLU, legacy-nearest top-down upsampling, 3x3 merge on P4 and P3 only."""

    def __init__(self, in_channels_list, out_channels, leaky=0.0):
        super().__init__()
        self.output1 = ConvBNReLU(in_channels_list[0], out_channels, 1, leaky=leaky)
        self.output2 = ConvBNReLU(in_channels_list[1], out_channels, 1, leaky=leaky)
        self.output3 = ConvBNReLU(in_channels_list[2], out_channels, 1, leaky=leaky)
        self.merge1 = ConvBNReLU(out_channels, out_channels, 3, padding=1, leaky=leaky)
        self.merge2 = ConvBNReLU(out_channels, out_channels, 3, padding=1, leaky=leaky)

    def construct(self, c3, c4, c5):
        o1 = self.output1(c3)
        o2 = self.output2(c4)
        o3 = self.output3(c5)
        # ResizeNearestNeighbor (align_corners=False) picks floor(dst * in / out): PyTorch's legacy 'nearest'
        up3 = ops.ResizeNearestNeighbor((o2.shape[2], o2.shape[3]))(o3)
        o2 = self.merge2(o2 + up3)
        up2 = ops.ResizeNearestNeighbor((o1.shape[2], o1.shape[3]))(o2)
        o1 = self.merge1(o1 + up2)
        return o1, o2, o3


class SSH(nn.Cell):
    """Single-stage headless context module: 3x3 | 5x5 (two 3x3) | 7x7 (three 3x3, sharing the first)."""

    def __init__(self, in_channel, out_channel, leaky=0.0):
        super().__init__()
        if out_channel % 4:
            raise ValueError(f"SSH out_channel must be a multiple of 4, got {out_channel}")
        self.conv3X3 = ConvBN(in_channel, out_channel // 2, 3, padding=1)
        self.conv5X5_1 = ConvBNReLU(in_channel, out_channel // 4, 3, padding=1, leaky=leaky)
        self.conv5X5_2 = ConvBN(out_channel // 4, out_channel // 4, 3, padding=1)
        self.conv7X7_2 = ConvBNReLU(out_channel // 4, out_channel // 4, 3, padding=1, leaky=leaky)
        self.conv7x7_3 = ConvBN(out_channel // 4, out_channel // 4, 3, padding=1)
        self.relu = nn.ReLU()

    def construct(self, x):
        c3 = self.conv3X3(x)
        c5_1 = self.conv5X5_1(x)
        c5 = self.conv5X5_2(c5_1)
        c7 = self.conv7x7_3(self.conv7X7_2(c5_1))
        return self.relu(ops.concat((c3, c5, c7), axis=1))


class _Head(nn.Cell):
    """1x1 conv with bias; NCHW -> NHWC -> (B, H*W*A, K)."""

    def __init__(self, in_channels, num_anchors, k):
        super().__init__()
        self.k = k
        w, b = _kaiming_uniform((num_anchors * k, in_channels, 1, 1), with_bias=True)
        self.conv1x1 = nn.Conv2d(in_channels, num_anchors * k, 1, has_bias=True, weight_init=w, bias_init=b)

    def construct(self, x):
        out = ops.transpose(self.conv1x1(x), (0, 2, 3, 1))
        return ops.reshape(out, (out.shape[0], -1, self.k))


class ClassHead(_Head):
    def __init__(self, in_channels=512, num_anchors=2):
        super().__init__(in_channels, num_anchors, 2)


class BboxHead(_Head):
    def __init__(self, in_channels=512, num_anchors=2):
        super().__init__(in_channels, num_anchors, 4)


class LandmarkHead(_Head):
    def __init__(self, in_channels=512, num_anchors=2):
        super().__init__(in_channels, num_anchors, 10)


class RetinaFace(nn.Cell):
    """RetinaFace. ``phase='train'``: raw (loc, conf logits, landm); ``phase='predict'``: conf is softmaxed.

    Output layouts: loc (B, N, 4), conf (B, N, 2), landm (B, N, 10), rows ordered (level, row, column, anchor).
    """

    def __init__(self, cfg, phase="train", backbone=None):
        super().__init__()
        if phase not in ("train", "predict"):
            raise ValueError(f"phase must be 'train' or 'predict', got {phase!r}")
        self.phase = phase
        name = cfg["backbone"]
        if backbone is None:
            backbone = build_backbone(cfg)
        self.body = backbone
        if name == "resnet50":
            in_list = [512, 1024, 2048]
        elif name == "mobilenet0.25":
            c = cfg["in_channel"]
            in_list = [c * 2, c * 4, c * 8]
        else:
            raise ValueError(f"unknown backbone {name!r}")
        out_c = cfg["out_channel"]
        leaky = float(cfg["leaky"])
        # the reference rule: leaky slope only where out_channel <= 64 (so ResNet50's 256-wide neck is plain ReLU)
        neck_leaky = leaky if out_c <= 64 else 0.0
        na = cfg["num_anchor_per_cell"]
        self.fpn = FPN(in_list, out_c, neck_leaky)
        self.ssh1 = SSH(out_c, out_c, neck_leaky)
        self.ssh2 = SSH(out_c, out_c, neck_leaky)
        self.ssh3 = SSH(out_c, out_c, neck_leaky)
        self.ClassHead = nn.CellList([ClassHead(out_c, na) for _ in range(3)])
        self.BboxHead = nn.CellList([BboxHead(out_c, na) for _ in range(3)])
        self.LandmarkHead = nn.CellList([LandmarkHead(out_c, na) for _ in range(3)])
        self.softmax = nn.Softmax(axis=-1)

    def construct(self, x):
        c3, c4, c5 = self.body(x)
        p3, p4, p5 = self.fpn(c3, c4, c5)
        f1 = self.ssh1(p3)
        f2 = self.ssh2(p4)
        f3 = self.ssh3(p5)
        loc = ops.concat((self.BboxHead[0](f1), self.BboxHead[1](f2), self.BboxHead[2](f3)), axis=1)
        conf = ops.concat((self.ClassHead[0](f1), self.ClassHead[1](f2), self.ClassHead[2](f3)), axis=1)
        landm = ops.concat((self.LandmarkHead[0](f1), self.LandmarkHead[1](f2), self.LandmarkHead[2](f3)), axis=1)
        if self.phase == "predict":
            conf = self.softmax(conf)
        return loc, conf, landm


def build_backbone(cfg):
    name = cfg["backbone"]
    if name == "resnet50":
        return resnet50(1001)
    if name == "mobilenet0.25":
        return MobileNetV1(leaky=float(cfg["leaky"]))
    raise ValueError(f"unknown backbone {name!r}")


# ----------------------------------------------------------------------------------------------- training cells
class RetinaFaceWithLossCell(nn.Cell):
    """loc_weight * L_loc + class_weight * L_cls + landm_weight * L_landm."""

    def __init__(self, network, multibox_loss, cfg):
        super().__init__()
        self.network = network
        self.loss = multibox_loss
        self.loc_weight = float(cfg["loc_weight"])
        self.class_weight = float(cfg["class_weight"])
        self.landm_weight = float(cfg["landm_weight"])

    def construct(self, img, loc_t, conf_t, landm_t):
        loc, conf, landm = self.network(img)
        loss_loc, loss_conf, loss_landm = self.loss(loc, loc_t, conf, conf_t, landm, landm_t)
        return loss_loc * self.loc_weight + loss_conf * self.class_weight + loss_landm * self.landm_weight


class TrainingWrapper(nn.Cell):
    """One SGD step: gradients with sens 1 (no loss scaling), optional per-tensor ClipByNorm (research variant),
    DistributedGradReducer (mean) under data parallel, then the optimizer."""

    def __init__(self, network, optimizer, sens=1.0, grad_clip=0.0):
        super().__init__(auto_prefix=False)
        self.network = network
        self.network.set_grad()
        self.weights = ms.ParameterTuple(network.trainable_params())
        self.optimizer = optimizer
        self.grad = ops.GradOperation(get_by_list=True, sens_param=True)
        self.sens = float(sens)
        self.grad_clip = float(grad_clip)
        self.hyper_map = ops.HyperMap()
        self.reducer_flag = False
        self.grad_reducer = ops.identity
        parallel_mode = ms.get_auto_parallel_context("parallel_mode")
        if parallel_mode in (ms.ParallelMode.DATA_PARALLEL, ms.ParallelMode.HYBRID_PARALLEL):
            from mindspore.communication.management import get_group_size
            self.reducer_flag = True
            mean = ms.get_auto_parallel_context("gradients_mean")
            degree = ms.get_auto_parallel_context("device_num") or get_group_size()
            self.grad_reducer = nn.DistributedGradReducer(optimizer.parameters, mean, degree)

    def construct(self, *args):
        loss = self.network(*args)
        sens = ops.fill(loss.dtype, loss.shape, self.sens)
        grads = self.grad(self.network, self.weights)(*args, sens)
        if self.grad_clip > 0:
            grads = self.hyper_map(ops.partial(_clip_by_norm, self.grad_clip), grads)
        if self.reducer_flag:
            grads = self.grad_reducer(grads)
        self.optimizer(grads)
        return loss


def _clip_by_norm(max_norm, grad):
    norm = ops.sqrt(ops.reduce_sum(grad * grad))
    scale = ops.minimum(ops.ones_like(norm), max_norm / ops.maximum(norm, 1e-12))
    return grad * scale.astype(grad.dtype)


def count_params(net):
    """Learnable weights of the inference network as the reference counts them (27.29 M for the ResNet50): the
    ImageNet FC ``end_point`` of the ResNet50 is built (so that an ImageNet checkpoint loads) but never run, and is
    not counted."""
    return int(sum(int(np.prod(p.shape)) for p in net.trainable_params() if ".end_point." not in f".{p.name}"))
