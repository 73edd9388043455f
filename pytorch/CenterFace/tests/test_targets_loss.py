import math

import numpy as np
import pytest
import torch

from src.config import Config
from src.losses import CenterFaceLoss, focal_loss
from src.targets import build_targets, draw_umich_gaussian, gaussian2d, gaussian_radius


def test_gaussian_radius_hand_computed():
    # h = w = 10, overlap 0.7: r1 = (20 + sqrt(400 - 4*100*0.3/1.7))/2, r2 = (40 + sqrt(1600 - 16*30))/2,
    # r3 = (-28 + sqrt(784 + 4*2.8*30))/2 = (-28 + sqrt(1120))/2 -> the minimum
    assert gaussian_radius((10, 10), 0.7) == pytest.approx((-28 + math.sqrt(1120)) / 2)
    assert int(gaussian_radius((10, 10), 0.7)) == 2
    # h = 4, w = 12: r3 = (-2*0.7*16 + sqrt((2*0.7*16)^2 + 4*2.8*0.3*48))/2
    b = 2 * 0.7 * 16
    assert gaussian_radius((4, 12), 0.7) == pytest.approx((-b + math.sqrt(b * b + 4 * 2.8 * 0.3 * 48)) / 2)


def test_gaussian_values_and_drawing():
    g = gaussian2d((3, 3), sigma=0.5)
    assert g[1, 1] == 1.0
    assert g[0, 1] == pytest.approx(math.exp(-2))
    assert g[0, 0] == pytest.approx(math.exp(-4))
    hm = np.zeros((5, 6), np.float32)
    draw_umich_gaussian(hm, (0, 4), 1)  # corner: clipped to the map
    assert hm[4, 0] == 1.0 and hm[3, 0] == pytest.approx(math.exp(-2)) and hm[3, 1] == pytest.approx(math.exp(-4))
    assert hm[:, 2:].sum() == 0 and hm[:2].sum() == 0
    hm2 = hm.copy()
    hm2[4, 1] = 0.5
    draw_umich_gaussian(hm2, (0, 4), 1)  # element-wise maximum
    assert hm2[4, 1] == 0.5


def test_targets_for_a_hand_built_image():
    boxes = np.array([[10.0, 20.0, 30.0, 30.0], [40.5, 5.5, 44.5, 9.5]], np.float32)
    lms = np.zeros((2, 5, 3), np.float32)
    lms[0, :, :2] = [[15, 23], [25, 23], [20, 25], [16, 28], [24, 28]]
    lms[0, :, 2] = 2
    lms[0, 4, 2] = 0  # one missing point
    lms[1, :, :2] = [[41, 7], [43, 7], [42, 8], [41, 9], [43, 9]]
    lms[1, :, 2] = 2
    t = build_targets(boxes, lms, (50, 60), max_objs=4, lm_allowed=np.array([True, False]))
    # face 0: w 20, h 10, centre (20, 25)
    assert t["ind"][0] == 25 * 60 + 20 and t["reg_mask"].tolist() == [1, 1, 0, 0]
    np.testing.assert_allclose(t["wh"][0], [math.log(20 / 4), math.log(10 / 4)], rtol=1e-6)
    np.testing.assert_allclose(t["reg"][0], [0, 0])
    np.testing.assert_allclose(t["landmarks"][0], [-5, -2, 5, -2, 0, 0, -4, 3, 0, 0])
    assert t["lm_mask"][0].tolist() == [1] * 8 + [0, 0]
    # face 1: centre (42.5, 7.5) -> cell (42, 7), offset 0.5; landmarks masked by lm_allowed
    assert t["ind"][1] == 7 * 60 + 42
    np.testing.assert_allclose(t["reg"][1], [0.5, 0.5])
    np.testing.assert_allclose(t["wh"][1], [0.0, 0.0], atol=1e-7)
    assert t["lm_mask"][1].sum() == 0
    # heatmap: peaks of exactly 1 at the cells, radius of face 0 = int(gaussian_radius((10, 20)))
    assert t["hm"][0, 25, 20] == 1 and t["hm"][0, 7, 42] == 1 and (t["hm"] == 1).sum() == 2
    r = int(gaussian_radius((10, 20), 0.7))
    sigma = (2 * r + 1) / 6
    assert t["hm"][0, 25, 21] == pytest.approx(math.exp(-1 / (2 * sigma * sigma)), rel=1e-6)
    assert t["hm"][0, 25, 20 + r + 1] == 0


def test_official_convention_targets():
    boxes = np.array([[10.0, 20.0, 30.0, 30.0]], np.float32)
    lms = np.zeros((1, 5, 3), np.float32)
    lms[0, :, :2] = [[15, 23], [25, 23], [20, 25], [16, 28], [24, 28]]
    lms[0, :, 2] = 2
    t = build_targets(boxes, lms, (50, 60), max_objs=2, convention="official")
    # centre (20, 25) -> cell floor(c - 0.5) = (19, 24), offset (y, x) = c - 0.5 - cell = (0.5, 0.5)
    assert t["ind"][0] == 24 * 60 + 19
    np.testing.assert_allclose(t["reg"][0], [0.5, 0.5])
    np.testing.assert_allclose(t["wh"][0], [math.log(10), math.log(20)], rtol=1e-6)  # log(h_in/4), log(w_in/4)
    np.testing.assert_allclose(t["landmarks"][0][:4], [(23 - 20) / 10, (15 - 10) / 20, 3 / 10, 15 / 20])


def test_focal_loss_hand_computed_and_clamped():
    gt = torch.tensor([1.0, 0.5, 0.0]).view(1, 1, 1, 3)
    pred = torch.tensor([0.8, 0.3, 0.0]).view(1, 1, 1, 3)
    expected = -(math.log(0.8) * 0.2 ** 2 + math.log(0.7) * 0.3 ** 2 * 0.5 ** 4
                 + math.log(1 - 1e-4) * 1e-8)
    assert focal_loss(pred, gt).item() == pytest.approx(expected, rel=1e-5)
    # a saturated sigmoid (p = 0 at a positive, p = 1 at a negative) stays finite thanks to the clamp
    bad = torch.tensor([0.0, 1.0, 1.0]).view(1, 1, 1, 3).requires_grad_()
    loss = focal_loss(bad, gt)
    expected_bad = -(math.log(1e-4) * (1 - 1e-4) ** 2 + math.log(1e-4) * (1 - 1e-4) ** 2 * 0.5 ** 4
                     + math.log(1e-4) * (1 - 1e-4) ** 2)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(expected_bad, rel=1e-3)
    loss.backward()
    assert torch.isfinite(bad.grad).all()
    # no positives: the negative term alone
    assert focal_loss(torch.full((1, 1, 1, 2), 0.5), torch.zeros(1, 1, 1, 2)).item() == pytest.approx(
        -2 * math.log(0.5) * 0.25, rel=1e-5)


def test_total_loss_weights():
    out = {"hm": torch.full((1, 1, 4, 4), 0.5), "wh": torch.zeros(1, 2, 4, 4), "hm_offset": torch.zeros(1, 2, 4, 4),
           "landmarks": torch.zeros(1, 10, 4, 4)}
    hm = torch.zeros(1, 1, 4, 4)
    hm[0, 0, 1, 2] = 1
    batch = {"hm": hm, "ind": torch.tensor([[6, 0]]), "reg_mask": torch.tensor([[1.0, 0.0]]),
             "wh": torch.tensor([[[2.0, 0.5], [9.0, 9.0]]]), "reg": torch.tensor([[[0.5, 0.25], [9.0, 9.0]]]),
             "landmarks": torch.zeros(1, 2, 10), "lm_mask": torch.zeros(1, 2, 10)}
    batch["landmarks"][0, 0, :2] = torch.tensor([3.0, -1.0])
    batch["lm_mask"][0, 0, :2] = 1
    loss, parts = CenterFaceLoss(Config.preset().loss_weights())(out, batch)
    wh = (1.5 + 0.5 * 0.25) / (1 + 1e-4)  # smooth-L1: |2| -> 1.5, |0.5| -> 0.125, / #objects
    off = (0.5 * 0.25 + 0.5 * 0.0625) / (1 + 1e-4)
    lm = 4.0 / (2 + 1e-4)
    assert parts["wh_loss"].item() == pytest.approx(wh, rel=1e-5)
    assert parts["off_loss"].item() == pytest.approx(off, rel=1e-5)
    assert parts["lm_loss"].item() == pytest.approx(lm, rel=1e-5)
    assert loss.item() == pytest.approx(parts["hm_loss"].item() + 0.1 * wh + off + 0.1 * lm, rel=1e-5)


def test_pretrained_backbone_loaded_by_position():
    from collections import OrderedDict

    from src.model import CenterFace
    m = CenterFace("chenjun2hao")
    torch.manual_seed(0)
    sd = OrderedDict()
    for i, (k, v) in enumerate(m.backbone.state_dict().items()):
        # torchvision-style names differ (features.1.conv.0.0 vs features.1.conv.0) but the order is the same
        sd["features." + k.split("features.", 1)[1].replace("conv.", "conv.x.")] = (
            v.clone() if "num_batches" in k else torch.randn_like(v.float()))
    sd["features.18.0.weight"] = torch.randn(1280, 320, 1, 1)
    sd["features.18.1.weight"] = torch.randn(1280)
    sd["classifier.1.weight"] = torch.randn(1000, 1280)
    assert m.load_imagenet_backbone(sd) == len([k for k in sd if "num_batches" not in k]) - 3
    src = [v for k, v in sd.items() if "num_batches" not in k and "18." not in k and "classifier" not in k]
    dst = [v for k, v in m.backbone.state_dict().items() if "num_batches" not in k]
    assert all(torch.equal(a, b) for a, b in zip(src, dst))
    bad = OrderedDict(list(sd.items())[:10])
    with pytest.raises(ValueError, match="backbone tensors"):
        m.load_imagenet_backbone(bad)
