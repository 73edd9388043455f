"""Inception-ResNet-v2 backbone (the ``inception_resnet_v2`` configuration), returning four feature maps.

C2 = after ``maxpool_3a`` (64 ch), C3 = after ``maxpool_5a`` (192), C4 = after ``mixed_6a`` (1088),
C5 = after ``mixed_7a`` (2080); 'valid' convs and pools, so a 1024x1024 canvas gives 254, 125, 62, 30 (the
``feature_shapes`` of default_config_InceptionResnetV2.yaml). BatchNorm eps 1e-3, batch statistics in training.
The classifier tail (``repeat_2``, ``block8``, ``conv2d_7b``, ``last_linear``) keeps its parameters so that
ImageNet checkpoints load, but is not computed: nothing downstream reads it (the reference computes and drops it).
"""
from mindspore import nn, ops


class BasicConv2d(nn.Cell):
    """conv (no bias) -> BN (eps 1e-3) -> ReLU; ``padding`` an int or (top, bottom, left, right)."""

    def __init__(self, in_planes, out_planes, kernel_size, stride, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride, pad_mode="pad",
                              padding=padding, has_bias=False)
        self.bn = nn.BatchNorm2d(out_planes, eps=0.001, momentum=0.9, affine=True)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.relu(self.bn(self.conv(x)))


def _seq(*cells):
    return nn.SequentialCell(list(cells))


class Mixed_5b(nn.Cell):  # noqa: N801 - the reference's names
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(192, 96, kernel_size=1, stride=1)
        self.branch1 = _seq(BasicConv2d(192, 48, kernel_size=1, stride=1),
                            BasicConv2d(48, 64, kernel_size=5, stride=1, padding=2))
        self.branch2 = _seq(BasicConv2d(192, 64, kernel_size=1, stride=1),
                            BasicConv2d(64, 96, kernel_size=3, stride=1, padding=1),
                            BasicConv2d(96, 96, kernel_size=3, stride=1, padding=1))
        self.branch3 = _seq(nn.AvgPool2d(kernel_size=3, stride=1, pad_mode="same"),
                            BasicConv2d(192, 64, kernel_size=1, stride=1))

    def construct(self, x):
        return ops.concat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class Block35(nn.Cell):
    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(320, 32, kernel_size=1, stride=1)
        self.branch1 = _seq(BasicConv2d(320, 32, kernel_size=1, stride=1),
                            BasicConv2d(32, 32, kernel_size=3, stride=1, padding=1))
        self.branch2 = _seq(BasicConv2d(320, 32, kernel_size=1, stride=1),
                            BasicConv2d(32, 48, kernel_size=3, stride=1, padding=1),
                            BasicConv2d(48, 64, kernel_size=3, stride=1, padding=1))
        self.conv2d = nn.Conv2d(128, 320, kernel_size=1, stride=1, pad_mode="pad", has_bias=True)
        self.relu = nn.ReLU()

    def construct(self, x):
        out = self.conv2d(ops.concat((self.branch0(x), self.branch1(x), self.branch2(x)), 1))
        return self.relu(out * self.scale + x)


class Mixed_6a(nn.Cell):  # noqa: N801
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(320, 384, kernel_size=3, stride=2)
        self.branch1 = _seq(BasicConv2d(320, 256, kernel_size=1, stride=1),
                            BasicConv2d(256, 256, kernel_size=3, stride=1, padding=1),
                            BasicConv2d(256, 384, kernel_size=3, stride=2))
        self.branch2 = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")

    def construct(self, x):
        return ops.concat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


class Block17(nn.Cell):
    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(1088, 192, kernel_size=1, stride=1)
        self.branch1 = _seq(BasicConv2d(1088, 128, kernel_size=1, stride=1),
                            BasicConv2d(128, 160, kernel_size=(1, 7), stride=1, padding=(0, 0, 3, 3)),
                            BasicConv2d(160, 192, kernel_size=(7, 1), stride=1, padding=(3, 3, 0, 0)))
        self.conv2d = nn.Conv2d(384, 1088, kernel_size=1, stride=1, pad_mode="pad", has_bias=True)
        self.relu = nn.ReLU()

    def construct(self, x):
        out = self.conv2d(ops.concat((self.branch0(x), self.branch1(x)), 1))
        return self.relu(out * self.scale + x)


class Mixed_7a(nn.Cell):  # noqa: N801
    def __init__(self):
        super().__init__()
        self.branch0 = _seq(BasicConv2d(1088, 256, kernel_size=1, stride=1),
                            BasicConv2d(256, 384, kernel_size=3, stride=2))
        self.branch1 = _seq(BasicConv2d(1088, 256, kernel_size=1, stride=1),
                            BasicConv2d(256, 288, kernel_size=3, stride=2))
        self.branch2 = _seq(BasicConv2d(1088, 256, kernel_size=1, stride=1),
                            BasicConv2d(256, 288, kernel_size=3, stride=1, padding=1),
                            BasicConv2d(288, 320, kernel_size=3, stride=2))
        self.branch3 = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")

    def construct(self, x):
        return ops.concat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class Block8(nn.Cell):
    def __init__(self, scale=1.0, noReLU=False):  # noqa: N803
        super().__init__()
        self.scale = scale
        self.noReLU = noReLU
        self.branch0 = BasicConv2d(2080, 192, kernel_size=1, stride=1)
        self.branch1 = _seq(BasicConv2d(2080, 192, kernel_size=1, stride=1),
                            BasicConv2d(192, 224, kernel_size=(1, 3), stride=1, padding=(0, 0, 1, 1)),
                            BasicConv2d(224, 256, kernel_size=(3, 1), stride=1, padding=(1, 1, 0, 0)))
        self.conv2d = nn.Conv2d(448, 2080, kernel_size=1, stride=1, pad_mode="pad", has_bias=True)
        if not noReLU:
            self.relu = nn.ReLU()

    def construct(self, x):
        out = self.conv2d(ops.concat((self.branch0(x), self.branch1(x)), 1)) * self.scale + x
        if not self.noReLU:
            out = self.relu(out)
        return out


class InceptionResNetV2(nn.Cell):
    """Inception-ResNet-v2 returning ``(C2, C3, C4, C5)``."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, kernel_size=3, stride=1)
        self.conv2d_2b = BasicConv2d(32, 64, kernel_size=3, stride=1, padding=1)
        self.maxpool_3a = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")
        self.conv2d_3b = BasicConv2d(64, 80, kernel_size=1, stride=1)
        self.conv2d_4a = BasicConv2d(80, 192, kernel_size=3, stride=1)
        self.maxpool_5a = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")
        self.mixed_5b = Mixed_5b()
        self.repeat = _seq(*[Block35(scale=0.17) for _ in range(10)])
        self.mixed_6a = Mixed_6a()
        self.repeat_1 = _seq(*[Block17(scale=0.10) for _ in range(20)])
        self.mixed_7a = Mixed_7a()
        self.repeat_2 = _seq(*[Block8(scale=0.20) for _ in range(9)])
        self.block8 = Block8(noReLU=True)
        self.conv2d_7b = BasicConv2d(2080, 1536, kernel_size=1, stride=1)
        self.avgpool_1a = nn.AvgPool2d(kernel_size=8, stride=8, pad_mode="valid")
        self.last_linear = nn.Dense(in_channels=1536, out_channels=num_classes)

    def construct(self, x):
        x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x)))
        c2 = self.maxpool_3a(x)
        c3 = self.maxpool_5a(self.conv2d_4a(self.conv2d_3b(c2)))
        c4 = self.mixed_6a(self.repeat(self.mixed_5b(c3)))
        c5 = self.mixed_7a(self.repeat_1(c4))
        return c2, c3, c4, c5
