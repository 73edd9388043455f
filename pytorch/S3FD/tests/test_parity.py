"""Parity with the reference code's own outputs (../shared/weights/s3fd_reference, tolerances of its README §8):
raw outputs within 1e-4, priors within 1e-6, Detect output with the same count and IoU >= 0.99 / |d score| <= 1e-3
for the top-100 reference boxes (and, where the input is the stored one, bit-exact), match targets within 1e-5 and
identical labels, losses within 1e-4 relative; for both released weight formats."""
import hashlib

import numpy as np
import pytest
import torch

from layers.bbox_utils import decode, nms
from layers.functions.prior_box import PriorBox, feature_map_sizes
from layers.modules.multibox_loss import MultiBoxLoss
from utils.augmentations import to_input

RAW_TOL, PRIOR_TOL, LOC_T_TOL, LOSS_RTOL = 1e-4, 1e-6, 1e-5, 1e-4
IOU_MIN, SCORE_TOL, TOP_REF = 0.99, 1e-3, 100


def box_iou(a, b):
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:4] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def assert_dets_match(ours, theirs):
    """Same count; each of the top-100 reference dets matched by one of ours with IoU >= 0.99, |d score| <= 1e-3."""
    assert len(ours) == len(theirs)
    top = theirs[:TOP_REF]
    iou = box_iou(top[:, :4].astype(np.float64), ours[:, :4].astype(np.float64))
    best = iou.argmax(1)
    assert iou.max(1).min() >= IOU_MIN
    assert np.abs(ours[best, 4] - top[:, 4]).max() <= SCORE_TOL


def sha(x):
    return hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()


def test_priors_at_640_are_the_references(ref, predictors):
    z = ref("yxlijun/priors_640")
    cfg = predictors["yxlijun"].cfg
    maps = feature_map_sizes(640, 640, cfg)
    assert maps == [tuple(m) for m in z["feature_maps"].tolist()]
    priors = PriorBox((640, 640), maps, cfg).forward().numpy()
    assert priors.shape == (34125, 4) == z["priors"].shape
    assert np.abs(priors - z["priors"]).max() <= PRIOR_TOL


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_yxlijun_native_raw_outputs_priors_and_detect(name, ref, photo, predictors):
    z = ref(f"yxlijun/{name}")
    pred = predictors["yxlijun"]
    x = to_input(photo(name), "bgr", pred.cfg)
    assert sha(x) == sha(z["input"][0])                        # fddb_test.py's preprocessing, bit for bit
    loc, conf, priors = pred.raw(x)
    assert np.abs(loc.numpy() - z["loc"][0]).max() <= RAW_TOL
    assert np.abs(conf.numpy() - z["conf"][0]).max() <= RAW_TOL
    assert np.abs(priors.numpy() - z["priors"]).max() <= PRIOR_TOL
    # Detect on the reference's own raw outputs: its NMS keep list and output tensor, exactly
    sc = torch.from_numpy(z["conf"][0, :, 1])
    cand = sc > float(z["conf_thresh"])
    assert int(cand.sum()) == int(z["num_candidates"])
    boxes = decode(torch.from_numpy(z["loc"][0]), torch.from_numpy(z["priors"]), pred.cfg.VARIANCE)
    ids, count = nms(boxes[cand], sc[cand], float(z["nms_thresh"]), int(z["nms_top_k"]))
    assert count == int(z["count"]) and np.array_equal(ids.numpy(), z["ids"])
    out = pred.detector(torch.from_numpy(z["loc"]), torch.from_numpy(z["conf"]), torch.from_numpy(z["priors"]))
    assert np.array_equal(out.numpy(), z["output"])
    # and the whole native protocol on our own forward, in original pixels
    dets = pred(photo(name), "native", thresh=0.0)
    assert_dets_match(dets, z["dets"])


def test_yxlijun_obama_native_at_selected_priors(ref, photo, predictors):
    z = ref("yxlijun/obama")
    pred = predictors["yxlijun"]
    loc, conf, priors = pred.raw(to_input(photo("obama"), "bgr", pred.cfg))
    idx = z["raw_idx"]
    assert loc.shape[0] == int(z["num_priors"])
    assert np.abs(loc.numpy()[idx] - z["loc_at_idx"]).max() <= RAW_TOL
    assert np.abs(conf.numpy()[idx] - z["conf_at_idx"]).max() <= RAW_TOL
    assert np.abs(priors.numpy()[idx] - z["priors_at_idx"]).max() <= PRIOR_TOL
    assert_dets_match(pred(photo("obama"), "native", thresh=0.0), z["dets"])


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper", "obama"])
def test_demo_scale_input_is_the_references(name, ref, photo, predictors):
    """demo.py's scale rule and resize (cv2 INTER_LINEAR with fx = fy = sqrt(1700*1200/HW), not clamped)."""
    z = ref(f"yxlijun/{name}_demo")
    pred = predictors["yxlijun"]
    img = photo(name)
    assert abs(pred.max_shrink(img) - float(z["shrink"])) < 1e-12
    x = to_input(pred.scaled_demo(img), "bgr", pred.cfg)
    assert list(x.shape[1:]) == z["input_hw"].tolist()
    assert sha(x) == str(z["input_sha256"])


def test_demo_protocol_detections_at_demo_scale(ref, photo, predictors):
    """The whole demo.py path on astronaut (1428 x 1428): raw outputs at the stored priors, then Detect's 750 boxes
    scaled by the original width and height."""
    z = ref("yxlijun/astronaut_demo")
    pred = predictors["yxlijun"]
    img = photo("astronaut")
    loc, conf, priors = pred.raw(to_input(pred.scaled_demo(img), "bgr", pred.cfg))
    idx = z["raw_idx"]
    assert loc.shape[0] == int(z["num_priors"])
    assert np.abs(loc.numpy()[idx] - z["loc_at_idx"]).max() <= RAW_TOL
    assert np.abs(conf.numpy()[idx] - z["conf_at_idx"]).max() <= RAW_TOL
    assert np.abs(priors.numpy()[idx] - z["priors_at_idx"]).max() <= PRIOR_TOL
    dets = pred(img, "demo", thresh=0.0)                      # all 750 rows (the reference's loop cannot)
    assert_dets_match(dets, z["dets"])
    demo = pred(img, "demo")                                   # the default threshold 0.6
    assert len(demo) == int((z["dets"][:, 4] >= 0.6).sum()) and demo[:, 4].min() >= 0.6


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_sfd_raw_outputs_per_level(name, ref, photo, predictors):
    """The official SFD weights (face_alignment format) in the ``sfd`` configuration: BGR input, fc6 padding 3,
    pool3 rounding down; every level's softmax scores (cls) and regression (reg) as face_alignment computes them."""
    z = ref(f"face_alignment/{name}")
    pred = predictors["sfd"]
    img = photo(name)
    x = to_input(img, "bgr", pred.cfg)
    assert sha(x) == str(z["input_sha256"])
    assert feature_map_sizes(*img.shape[:2], pred.cfg) == [tuple(m) for m in z["map_hw"].tolist()]
    loc, conf, priors = pred.raw(x)
    start = 0
    for level, (h, w) in enumerate(z["map_hw"].tolist(), 1):
        n = h * w
        reg = loc[start:start + n].numpy().reshape(h, w, 4).transpose(2, 0, 1)
        cls = conf[start:start + n].numpy().reshape(h, w, 2).transpose(2, 0, 1)
        assert np.abs(reg - z[f"reg{level}"][0]).max() <= RAW_TOL, level
        assert np.abs(cls - z[f"cls{level}"][0]).max() <= RAW_TOL, level
        start += n
    assert start == loc.shape[0]
    # face_alignment's candidates (softmax > 0.05, decoded in float64 pixels) are ours in the same order
    cand = conf[:, 1] > float(z["conf_thresh"])
    assert int(cand.sum()) == int(z["num_candidates"])
    h, w = img.shape[:2]
    boxes = decode(loc[cand], priors[cand], pred.cfg.VARIANCE).numpy() * np.array([w, h, w, h], np.float32)
    assert np.abs(boxes - z["bboxlist"][:, :4]).max() < 0.05
    assert np.abs(conf[cand, 1].numpy() - z["bboxlist"][:, 4]).max() <= RAW_TOL


def test_train_phase_outputs_match_and_loss(ref, predictors):
    """The train-phase forward of the 640 x 640 batch, then match and MultiBoxLoss (face targets and the hand-given
    multi-face targets) against the reference's loc_t, conf_t, loss_l, loss_c."""
    from s3fd import build_s3fd
    z = ref("yxlijun/train_batch")
    pred = predictors["yxlijun"]
    net = build_s3fd("train", 2, pred.cfg)
    net.load_state_dict(pred.runner.net.state_dict())
    with torch.no_grad():
        loc, conf, priors = net(torch.from_numpy(z["input_train"]))
    assert np.abs(loc.numpy() - z["loc"]).max() <= RAW_TOL
    assert np.abs(conf.numpy() - z["conf"]).max() <= RAW_TOL
    assert np.abs(priors.numpy() - z["priors"]).max() <= PRIOR_TOL

    crit = MultiBoxLoss(pred.cfg)
    stored = (torch.from_numpy(z["loc"]), torch.from_numpy(z["conf"]), torch.from_numpy(z["priors"]))
    for suffix in ("", "_multi"):
        targets = [torch.from_numpy(z[f"targets{suffix}_{i}"]) for i in range(2)]
        loc_t, conf_t = crit.targets(targets, stored[2])
        assert np.array_equal(conf_t.numpy(), z[f"conf_t{suffix}"])
        assert (conf_t > 0).sum(1).tolist() == z[f"num_pos{suffix}"].tolist()
        pos = conf_t.numpy() > 0
        assert np.abs(loc_t.numpy()[pos] - z[f"loc_t{suffix}"][pos]).max() <= LOC_T_TOL
        loss_l, loss_c = crit(stored, targets)
        assert loss_l.item() == pytest.approx(float(z[f"loss_l{suffix}"]), rel=LOSS_RTOL)
        assert loss_c.item() == pytest.approx(float(z[f"loss_c{suffix}"]), rel=LOSS_RTOL)
    # our own forward gives the same losses
    loss_l, loss_c = crit((loc, conf, priors), [torch.from_numpy(z[f"targets_{i}"]) for i in range(2)])
    assert loss_l.item() == pytest.approx(float(z["loss_l"]), rel=LOSS_RTOL)
    assert loss_c.item() == pytest.approx(float(z["loss_c"]), rel=LOSS_RTOL)


def test_both_released_formats_convert_to_the_same_values(released, checkpoints):
    """Same seed, same tensors: the converted checkpoints hold identical values under our names; only the
    configuration differs (and with it the function: fc6, pool3 and the input order)."""
    from src.checkpoint import read_checkpoint
    a, b = read_checkpoint(checkpoints["yxlijun"]), read_checkpoint(checkpoints["sfd"])
    assert a["config"]["ARCH"] == "yxlijun" and b["config"]["ARCH"] == "sfd"
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert sum(v.numel() for v in a["state_dict"].values()) == 22459110
