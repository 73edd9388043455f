"""ResNet v1 bottleneck (stride on the first 1x1 conv), the block of the ``resnet_v1_50`` backbone."""
from .resnet import ResidualBlockUsing


class ResidualBlockUsing_V1(ResidualBlockUsing):  # noqa: N801 - the reference's name
    """As ``ResidualBlockUsing`` with the stride on ``conv1`` (1x1) instead of ``conv2`` (3x3)."""
    stride_on_3x3 = False
