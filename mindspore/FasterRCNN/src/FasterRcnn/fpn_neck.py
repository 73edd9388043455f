"""Feature pyramid (``FeatPyramidNeck``): P2-P5 from C2-C5, P6 by max pooling P5.

Lateral 1x1 'valid' convs bring every C level to ``out_channels``; the top-down path resizes the coarser sum to the
finer level's fixed size (nearest neighbour, to ``feature_shapes``) and adds it; a 3x3 'same' conv smooths each sum;
P6 = ``MaxPool(kernel 1, stride 2, 'same')`` of P5's output, i.e. every second P5 pixel. No activation, no norm.
Conv weights Xavier-uniform, biases zero.
"""
from mindspore import nn, ops
from mindspore.common.initializer import XavierUniform, initializer


def _conv(in_channels, out_channels, kernel_size, pad_mode):
    weight = initializer(XavierUniform(), (out_channels, in_channels, kernel_size, kernel_size)).init_data()
    return nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=1, padding=0, pad_mode=pad_mode,
                     weight_init=weight, has_bias=True, bias_init="zeros")


class FeatPyramidNeck(nn.Cell):
    """``in_channels`` of C2-C5, ``out_channels`` of every P level, ``num_outs`` (5: P2-P6); ``feature_shapes``
    the P2-P6 sizes of the canvas."""

    def __init__(self, in_channels, out_channels, num_outs, feature_shapes):
        super().__init__()
        if num_outs < len(in_channels):
            raise ValueError("num_outs must be >= the number of input levels")
        self.num_outs = num_outs
        self.fpn_layer = len(in_channels)
        self.lateral_convs_list = nn.CellList([_conv(c, out_channels, 1, "valid") for c in in_channels])
        self.fpn_convs_list = nn.CellList([_conv(out_channels, out_channels, 3, "same") for _ in in_channels])
        self.interpolate1 = ops.ResizeNearestNeighbor(tuple(feature_shapes[2]))
        self.interpolate2 = ops.ResizeNearestNeighbor(tuple(feature_shapes[1]))
        self.interpolate3 = ops.ResizeNearestNeighbor(tuple(feature_shapes[0]))
        self.maxpool = ops.MaxPool(kernel_size=1, strides=2, pad_mode="same")

    def construct(self, inputs):
        lateral = ()
        for i in range(self.fpn_layer):
            lateral += (self.lateral_convs_list[i](inputs[i]),)
        p5 = lateral[3]
        p4 = lateral[2] + self.interpolate1(p5)
        p3 = lateral[1] + self.interpolate2(p4)
        p2 = lateral[0] + self.interpolate3(p3)
        merged = (p2, p3, p4, p5)
        outs = ()
        for i in range(self.fpn_layer):
            outs += (self.fpn_convs_list[i](merged[i]),)
        for _ in range(self.num_outs - self.fpn_layer):
            outs += (self.maxpool(outs[3]),)
        return outs
