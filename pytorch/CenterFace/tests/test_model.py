"""Structure of the two configurations: taps, neck, heads, initialisation, parameter counts (hand-computed)."""
import torch
import torch.nn as nn

from src.model import CenterFace, count_parameters

BACKBONE = 3504872 - (320 * 1280 + 2 * 1280) - (1280 * 1000 + 1000)  # torchvision MobileNetV2 minus features.18/fc


def neck_head_params(c, depthwise):
    lateral = (24 + 32 + 96 + 320) * c + 4 * 2 * c
    deconv = 3 * ((c * 4 if depthwise else c * c * 4) + 2 * c)
    head = 9 * c * c + 2 * c + (c + 1) * (1 + 2 + 2 + 10)
    return lateral + deconv + head


def test_parameter_counts_hand_computed():
    assert count_parameters(CenterFace("chenjun2hao")) == BACKBONE + neck_head_params(64, True) == 1881551
    assert count_parameters(CenterFace("official")) == BACKBONE + neck_head_params(24, False) == 1835895


def test_taps_neck_heads_and_init():
    torch.manual_seed(0)
    m = CenterFace("chenjun2hao").eval()
    x = torch.randn(1, 3, 128, 192)
    feats = m.backbone(x)
    assert [tuple(f.shape[1:]) for f in feats] == [(24, 32, 48), (32, 16, 24), (96, 8, 12), (320, 4, 6)]
    out = m(x)
    assert {k: tuple(v.shape[1:]) for k, v in out.items()} == {
        "hm": (1, 32, 48), "wh": (2, 32, 48), "hm_offset": (2, 32, 48), "landmarks": (10, 32, 48)}
    assert 0 < out["hm"].min() and out["hm"].max() < 1  # sigmoid inside the model
    acts = {type(a) for a in m.backbone.modules() if isinstance(a, (nn.ReLU, nn.ReLU6))}
    assert acts == {nn.ReLU6}
    assert {type(a) for a in CenterFace("official").backbone.modules() if isinstance(a, (nn.ReLU, nn.ReLU6))} == {
        nn.ReLU}
    for d in m.neck.deconv_layers:  # depthwise 2x2/s2, no bias, bilinear [[1,0],[0,0]], BN eps 1e-3
        assert d.conv.groups == 64 and d.conv.bias is None and d.bn.eps == 1e-3
        assert torch.equal(d.conv.weight[:, 0], torch.tensor([[1.0, 0.0], [0.0, 0.0]]).expand(64, 2, 2))
    assert all(l.bn.eps == 1e-3 for l in m.neck.lateral_layers)
    assert m.head.feat_bn.eps == 1e-5 and m.head.feat_bn.momentum == 0.01
    assert CenterFace("official").neck.deconv_layers[0].conv.groups == 1
    # heads: PyTorch-default 1x1 init (no -2.19 heatmap bias): |bias| <= 1/sqrt(fan_in)
    assert m.head.pos_conv.bias.abs().max() <= 1 / 64 ** 0.5
    # Kaiming-normal fan_out in the backbone: std = sqrt(2 / (out · k²)) for the stem conv 3->32 3x3
    w = m.backbone.features[0][0].weight
    assert abs(w.std().item() - (2 / (32 * 9)) ** 0.5) < 0.02
