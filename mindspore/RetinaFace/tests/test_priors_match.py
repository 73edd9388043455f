"""Priors, matching and the box coder against hand-computed values and the reference's stored priors."""
import os

import numpy as np
import pytest

from src.box_coder import decode, decode_landm, encode, encode_landm, point_form
from src.matching import box_iou, match
from src.prior_box import num_priors, prior_box

VAR = [0.1, 0.2]


def test_prior_count_840_and_others():
    assert prior_box((840, 840)).shape == (29126, 4)
    assert num_priors((840, 840)) == 2 * (105 ** 2 + 53 ** 2 + 27 ** 2) == 29126
    assert num_priors((640, 640)) == 16800
    assert num_priors((2176, 2176)) == 194208


def test_prior_coordinates_840():
    p = prior_box((840, 840))
    # first cell of stride 8: two sizes 16 and 32, centre (4, 4)
    np.testing.assert_allclose(p[0], [4 / 840, 4 / 840, 16 / 840, 16 / 840], rtol=1e-6)
    np.testing.assert_allclose(p[1], [4 / 840, 4 / 840, 32 / 840, 32 / 840], rtol=1e-6)
    # second cell: next column
    np.testing.assert_allclose(p[2], [12 / 840, 4 / 840, 16 / 840, 16 / 840], rtol=1e-6)
    # first prior of row 1 (row-major order)
    np.testing.assert_allclose(p[2 * 105], [4 / 840, 12 / 840, 16 / 840, 16 / 840], rtol=1e-6)
    # start of the stride-16 level
    s16 = 2 * 105 * 105
    np.testing.assert_allclose(p[s16], [8 / 840, 8 / 840, 64 / 840, 64 / 840], rtol=1e-6)
    # last prior: stride 32, cell (26, 26), size 512; centre (26.5 * 32) / 840 > 1 (no clipping)
    np.testing.assert_allclose(p[-1], [26.5 * 32 / 840, 26.5 * 32 / 840, 512 / 840, 512 / 840], rtol=1e-6)


def test_prior_non_square():
    h, w = 300, 500
    p = prior_box((h, w))
    n = 2 * (38 * 63 + 19 * 32 + 10 * 16)           # ceil(300/8)=38, ceil(500/8)=63, ...
    assert p.shape == (n, 4)
    np.testing.assert_allclose(p[0], [4 / w, 4 / h, 16 / w, 16 / h], rtol=1e-6)
    np.testing.assert_allclose(p[2 * 63], [4 / w, 12 / h, 16 / w, 16 / h], rtol=1e-6)   # row 1, column 0
    np.testing.assert_allclose(p[-1], [15.5 * 32 / w, 9.5 * 32 / h, 512 / w, 512 / h], rtol=1e-6)


def test_box_iou_no_plus_one():
    a = np.array([[0, 0, 2, 2]], float)
    b = np.array([[1, 1, 3, 3], [2, 2, 4, 4]], float)
    np.testing.assert_allclose(box_iou(a, b), [[1 / 7, 0.0]])


def _three_priors():
    # (cx, cy, w, h) normalised
    return np.array([[0.25, 0.25, 0.2, 0.2],
                     [0.75, 0.75, 0.2, 0.2],
                     [0.5, 0.5, 0.6, 0.6]], np.float32)


def test_match_threshold_and_forced_prior():
    priors = _three_priors()
    # GT overlaps prior 0 perfectly-ish and prior 2 weakly
    gt = np.array([[0.15, 0.15, 0.35, 0.35]])
    lm = np.tile([[0.25, 0.25]], 5).reshape(1, 10)
    loc, conf, landm = match(0.35, gt, priors, VAR, np.array([1.0]), lm)
    assert conf.tolist() == [1, 0, 0]            # prior 2: IoU 0.04/0.36 = 0.111 < 0.35
    np.testing.assert_allclose(loc[0], [0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(landm[0], np.zeros(10), atol=1e-6)


def test_match_forced_best_prior_below_threshold():
    priors = _three_priors()
    # a GT whose best IoU is in [0.2, 0.35): forced onto its best prior anyway
    gt = np.array([[0.2, 0.2, 0.8, 0.8]])         # vs prior 2 ([0.2,0.8]^2): IoU 1 -> plain match
    gt2 = np.array([[0.1, 0.1, 0.5, 0.5]])        # prior 0 ([0.15,0.35]^2): 0.04/0.16 = 0.25; prior 2: 0.209
    loc, conf, _ = match(0.35, gt2, priors, VAR, np.array([-1.0]), np.full((1, 10), -1.0))
    ious = box_iou(gt2, point_form(priors.astype(float)))[0]
    np.testing.assert_allclose(ious, [0.25, 0.0, 0.09 / 0.43], rtol=1e-6)
    assert conf.tolist() == [-1, 0, 0]           # forced prior keeps the label (-1: no landmarks)
    loc, conf, _ = match(0.35, gt, priors, VAR, np.array([1.0]), np.zeros((1, 10)))
    assert conf.tolist() == [0, 0, 1]


def test_match_gt_below_0p2_is_background():
    priors = _three_priors()
    gt = np.array([[0.0, 0.9, 0.05, 0.95]])      # tiny box far from every prior: best IoU < 0.2
    loc, conf, landm = match(0.35, gt, priors, VAR, np.array([1.0]), np.zeros((1, 10)))
    assert not conf.any() and not loc.any() and not landm.any()


def test_match_filtered_gt_still_repoints_its_best_prior():
    # GT A (valid) and GT B (best IoU < 0.2) share prior 0 as best prior: the loop over all GTs re-points prior 0
    # to B (the later GT), while the overlap-2 forcing only comes from A
    priors = np.array([[0.5, 0.5, 0.4, 0.4]], np.float32)
    a = [0.3, 0.3, 0.7, 0.7]                     # IoU 1
    b = [0.3, 0.3, 0.35, 0.35]                   # IoU 0.0025/0.16 = 0.0156
    loc, conf, _ = match(0.35, np.array([a, b]), priors, VAR, np.array([1.0, -1.0]), np.zeros((2, 10)))
    assert conf.tolist() == [-1]
    np.testing.assert_allclose(loc[0], encode(np.array([b]), priors.astype(float), VAR)[0], rtol=1e-5)


def test_encode_values_and_round_trip():
    priors = np.array([[0.5, 0.5, 0.2, 0.4]])
    gt = np.array([[0.42, 0.34, 0.62, 0.74]])    # centre (0.52, 0.54), size (0.2, 0.4)
    t = encode(gt, priors, VAR)
    np.testing.assert_allclose(t[0], [0.02 / 0.02, 0.04 / 0.04, 0.0, 0.0], atol=1e-9)
    rng = np.random.default_rng(0)
    pri = prior_box((64, 96)).astype(np.float64)
    cxcy = pri[:, :2] + rng.uniform(-0.05, 0.05, (len(pri), 2))
    wh = pri[:, 2:] * rng.uniform(0.5, 2.0, (len(pri), 2))
    boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], 1)
    np.testing.assert_allclose(decode(encode(boxes, pri, VAR), pri, VAR), boxes, atol=1e-5)
    lms = np.repeat(cxcy, 5, axis=0).reshape(-1, 10) + rng.uniform(-0.1, 0.1, (len(pri), 10))
    np.testing.assert_allclose(decode_landm(encode_landm(lms, pri, VAR), pri, VAR), lms, atol=1e-5)


def test_landmark_encoding_hand_computed():
    priors = np.array([[0.5, 0.5, 0.2, 0.4]])
    lm = np.array([[0.52, 0.54] * 5])
    np.testing.assert_allclose(encode_landm(lm, priors, VAR), [[1.0, 1.0] * 5], atol=1e-9)


@pytest.mark.parametrize("hw", [(512, 512), (600, 512)])
def test_priors_match_reference(shared_dir, hw):
    name = "astronaut" if hw == (512, 512) else "grace_hopper"
    z = np.load(os.path.join(shared_dir, "weights", "retinaface_mnet025", "reference_outputs", f"{name}.npz"))
    assert tuple(z["input_hw"]) == hw
    np.testing.assert_allclose(prior_box(hw), z["priors"], atol=1e-7)
