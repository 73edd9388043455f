"""The converted official weights reproduce the released ONNX model and the official demo's detections."""
import json
import os

import cv2
import numpy as np
import pytest
import torch

from src.decode import decode_official
from src.inference import Predictor
from src.transforms import preprocess, to_image_coords

PHOTOS = [("astronaut", "astronaut.png"), ("grace_hopper", "grace_hopper.jpg")]


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def ref(shared_dir, name):
    return np.load(os.path.join(shared_dir, "weights", "centerface", "reference_outputs", name + ".npz"))


@pytest.mark.parametrize("name,fname", PHOTOS)
def test_four_outputs_match_onnxruntime(official_model, onnx_path, shared_dir, name, fname):
    from src.official_onnx import INPUT_NAME, ort_session
    z = ref(shared_dir, name)
    with torch.no_grad():
        ours = official_model(torch.from_numpy(z["input"]))
    theirs = ort_session(onnx_path).run(None, {INPUT_NAME: z["input"]})
    for key, r, stored in zip(["hm", "wh", "hm_offset", "landmarks"], theirs, ["heatmap", "scale", "offset", "lms"]):
        assert ours[key].shape == r.shape
        assert np.abs(ours[key].numpy() - r).max() <= 1e-4, key
        assert np.abs(r - z[stored]).max() <= 1e-5  # the stored tensors are onnxruntime's


@pytest.mark.parametrize("name,fname", PHOTOS)
def test_preprocess_and_decode_reproduce_reference(shared_dir, name, fname):
    z = ref(shared_dir, name)
    img = cv2.imread(os.path.join(shared_dir, "data", "real_photos", fname), cv2.IMREAD_COLOR)
    x, meta = preprocess(img, "rgb_raw", "ceil32")
    assert np.array_equal(x, z["input"][0])
    assert tuple(meta["input_hw"]) == tuple(z["input_hw"])
    dets, pre = decode_official(z["heatmap"][0], z["scale"][0], z["offset"][0], z["lms"][0], tuple(z["input_hw"]),
                                float(z["threshold"]), float(z["nms_threshold"]), return_pre_nms=True)
    np.testing.assert_allclose(pre, z["pre_nms_dets"], atol=1e-3)
    np.testing.assert_allclose(to_image_coords(dets, meta), z["dets"], atol=1e-2)


@pytest.mark.parametrize("name,fname", PHOTOS)
def test_end_to_end_detections_match_reference(official_model, shared_dir, name, fname):
    z = ref(shared_dir, name)
    cfg = official_model.cfg.replace(score_threshold=float(z["threshold"]))
    dets = Predictor(official_model, cfg).detect(os.path.join(shared_dir, "data", "real_photos", fname))
    assert len(dets) == len(z["dets"])
    for d, r in zip(dets, z["dets"]):
        assert iou(d[:4], r[:4]) >= 0.99
        assert abs(d[4] - r[4]) < 1e-4
        np.testing.assert_allclose(d[5:], r[5:], atol=0.05)


def test_pseudo_gt_consensus_faces(official_model, shared_dir):
    with open(os.path.join(shared_dir, "data", "real_photos", "pseudo_gt.json")) as f:
        gt = json.load(f)
    det = Predictor(official_model, official_model.cfg.replace(score_threshold=gt["score_threshold"]))
    checked = 0
    for fname, entry in gt["images"].items():
        dets = det.detect(os.path.join(shared_dir, "data", "real_photos", fname))
        assert len(dets) == entry["detections_with_score_ge_0.5"]["centerface"], fname
        for face in entry["faces"]:
            best = max(iou(d[:4], face["box"]) for d in dets)
            assert best >= 0.7, (fname, face["box"], best)
            checked += 1
    assert checked >= 3


def test_bn_folding_keeps_outputs(official_model):
    from src.model import CenterFace, fuse_bn
    x = torch.rand(1, 3, 96, 128) * 255
    fused = fuse_bn(official_model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    with torch.no_grad():
        a, b = official_model(x), fused(x)
    for k in a:
        assert (a[k] - b[k]).abs().max().item() <= 1e-4, k
    from src.model import optimize_for_cpu
    jitted = optimize_for_cpu(official_model, (64, 64))
    for hw in ((96, 128), (160, 96)):  # other sizes than the traced one
        x = torch.rand(1, 3, *hw) * 255
        with torch.no_grad():
            a, b = official_model(x), jitted(x)
        for k in a:
            assert (a[k] - b[k]).abs().max().item() <= 1e-4, k
    torch.manual_seed(0)
    m = CenterFace("chenjun2hao")
    for bn in m.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.data.uniform_(0.5, 2)
            bn.bias.data.uniform_(-1, 1)
    m.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = m(x), fuse_bn(m)(x)
    for k in a:
        assert (a[k] - b[k]).abs().max().item() <= 1e-4, k
