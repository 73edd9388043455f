"""ResNet backbone of Faster R-CNN (``ResNetFea``) with the v1.5 bottleneck (stride on the 3x3 conv).

Frozen as the reference (mmdetection's ``frozen_stages=1`` with frozen BN): every BatchNorm uses its moving
statistics, in training too (``use_batch_statistics=False``); the stem conv and all of layer1 never train, their BNs
have ``affine=False`` (gamma and beta exist, are loaded and applied, but do not train), and C2 is cut from the
gradient. Layers 2-4 train their convs and BN gamma / beta. Convs have no bias. Returns C2, C3, C4, C5.

Initial weights (the reference always starts from an ImageNet checkpoint and initialises every conv with the
constant 0.01, which makes all channels identical): He-uniform convs, the last conv of each residual branch
scaled by ``RESIDUAL_GAIN`` so that a network trained from scratch keeps finite activations through the frozen,
identity-initialised BNs.
"""
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.common.initializer import HeUniform, initializer

RESIDUAL_GAIN = 0.3


def he_uniform(shape, gain=1.0):
    """He-uniform weights ``U(-b, b)``, ``b = gain * sqrt(6 / fan_in)`` (drawn from MindSpore's seeded initializer)."""
    weight = initializer(HeUniform(nonlinearity="relu"), shape).init_data()
    return weight if gain == 1.0 else Tensor(weight.asnumpy() * np.float32(gain))


def _conv(in_channels, out_channels, kernel_size=3, stride=1, padding=0, pad_mode="pad", gain=1.0):
    shape = (out_channels, in_channels, kernel_size, kernel_size)
    return nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding,
                     pad_mode=pad_mode, weight_init=he_uniform(shape, gain), has_bias=False)


def _bn(channels, affine=True):
    """BatchNorm2d that always normalises with its moving statistics (frozen BN), eps 1e-5."""
    return nn.BatchNorm2d(channels, momentum=0.9, affine=affine, gamma_init="ones", beta_init="zeros",
                          moving_mean_init="zeros", moving_var_init="ones", use_batch_statistics=False)


class ResidualBlockUsing(nn.Cell):
    """Bottleneck v1.5: 1x1 -> 3x3 (stride) -> 1x1 (x4 channels), projection shortcut ``conv_down_sample`` +
    ``bn_down_sample`` when the shape changes. ``weights_update=False`` freezes the convs and BN affine."""
    expansion = 4
    stride_on_3x3 = True

    def __init__(self, in_channels, out_channels, stride=1, down_sample=False, weights_update=False):
        super().__init__()
        mid = out_channels // self.expansion
        s1, s3 = (1, stride) if self.stride_on_3x3 else (stride, 1)
        self.conv1 = _conv(in_channels, mid, kernel_size=1, stride=s1, padding=0)
        self.bn1 = _bn(mid, affine=weights_update)
        self.conv2 = _conv(mid, mid, kernel_size=3, stride=s3, padding=1)
        self.bn2 = _bn(mid, affine=weights_update)
        self.conv3 = _conv(mid, out_channels, kernel_size=1, stride=1, padding=0, gain=RESIDUAL_GAIN)
        self.bn3 = _bn(out_channels, affine=weights_update)
        self.relu = ops.ReLU()
        self.downsample = down_sample
        if down_sample:
            self.conv_down_sample = _conv(in_channels, out_channels, kernel_size=1, stride=stride, padding=0)
            self.bn_down_sample = _bn(out_channels, affine=weights_update)
        if not weights_update:
            for conv in (self.conv1, self.conv2, self.conv3) + ((self.conv_down_sample,) if down_sample else ()):
                conv.weight.requires_grad = False

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample:
            identity = self.bn_down_sample(self.conv_down_sample(identity))
        return self.relu(out + identity)


class ResNetFea(nn.Cell):
    """Stem (7x7/2 conv, frozen BN, ReLU, 3x3/2 'SAME' max pool) and four stages of ``block``; returns
    ``(C2, C3, C4, C5)`` with C2 cut from the gradient when the stem and layer1 are frozen."""

    def __init__(self, block, layer_nums, in_channels, out_channels, weights_update=False):
        super().__init__()
        if not len(layer_nums) == len(in_channels) == len(out_channels) == 4:
            raise ValueError("layer_nums, in_channels and out_channels need 4 values each")
        self.conv1 = _conv(3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = _bn(64, affine=False)
        self.relu = ops.ReLU()
        self.maxpool = ops.MaxPool(kernel_size=3, strides=2, pad_mode="SAME")
        self.weights_update = weights_update
        if not weights_update:
            self.conv1.weight.requires_grad = False
        strides = (1, 2, 2, 2)
        trainable = (weights_update, True, True, True)
        for i in range(4):
            setattr(self, f"layer{i + 1}", self._make_layer(block, layer_nums[i], in_channels[i], out_channels[i],
                                                            strides[i], trainable[i]))

    @staticmethod
    def _make_layer(block, layer_num, in_channel, out_channel, stride, weights_update):
        down_sample = stride != 1 or in_channel != out_channel
        blocks = [block(in_channel, out_channel, stride=stride, down_sample=down_sample,
                        weights_update=weights_update)]
        blocks += [block(out_channel, out_channel, stride=1, weights_update=weights_update)
                   for _ in range(1, layer_num)]
        return nn.SequentialCell(blocks)

    def construct(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        if not self.weights_update:
            c2 = ops.stop_gradient(c2)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c2, c3, c4, c5


def build_resnet(cfg):
    """The ResNet of ``cfg.backbone``: v1.5 blocks for resnet_v1.5_50 / 101 / 152, v1 blocks for resnet_v1_50."""
    if cfg.backbone == "resnet_v1_50":
        from .resnet50v1 import ResidualBlockUsing_V1 as block
    else:
        block = ResidualBlockUsing
    return ResNetFea(block, cfg.resnet_block, cfg.resnet_in_channels, cfg.resnet_out_channels, False)
