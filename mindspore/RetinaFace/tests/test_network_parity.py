"""Network shapes, parameter counts, the converter and parity with the PyTorch original's released weights."""
import json
import os

import numpy as np
import pytest

from src.config import get_config
from src.inference import detect
from src.prior_box import num_priors, prior_box

# the PyTorch original's test.py post-processing used to produce reference_outputs/*.npz
REF_POST = dict(confidence_threshold=0.05, nms_threshold=0.3, top_k=5000, keep_top_k=750)


def _iou(a, b):
    """IoU from areas (x2-x1)*(y2-y1), as pseudo_gt.json."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_resnet50_param_count_and_feature_sizes():
    import mindspore as ms
    from src.network import RetinaFace, count_params
    net = RetinaFace(get_config("resnet50"), phase="predict")
    head = sum(int(np.prod(p.shape)) for p in net.trainable_params() if "end_point" in p.name)
    assert count_params(net) == 27_293_600                 # README: 27.29 M (the unused ImageNet FC excluded)
    assert head == 2048 * 1001 + 1001
    net.set_train(False)
    h, w = 104, 136                                         # not multiples of 32: ceil sizes at every level
    c3, c4, c5 = net.body(ms.Tensor(np.zeros((1, 3, h, w), np.float32)))
    assert c3.shape == (1, 512, 13, 17) and c4.shape == (1, 1024, 7, 9) and c5.shape == (1, 2048, 4, 5)
    loc, conf, landm = net(ms.Tensor(np.random.default_rng(0).normal(size=(2, 3, h, w)).astype(np.float32)))
    n = num_priors((h, w))
    assert loc.shape == (2, n, 4) and conf.shape == (2, n, 2) and landm.shape == (2, n, 10)
    np.testing.assert_allclose(conf.asnumpy().sum(-1), 1.0, atol=1e-5)      # predict phase: softmax


def test_resnet50_modified_pad_stem_840():
    # 840 -> conv 420 -> pad 421 -> valid pool 210 -> 105 / 53 / 27 (the ceil formula of the priors)
    from src.network import ResNet
    import mindspore as ms
    r = ResNet()
    r.set_train(False)
    x = ms.Tensor(np.zeros((1, 3, 840, 840), np.float32))
    stem = r.maxpool(r.pad(r.relu(r.bn1(r.conv1(x)))))
    assert stem.shape == (1, 64, 210, 210)


def test_mobilenet_param_count():
    from src.network import RetinaFace, count_params
    assert count_params(RetinaFace(get_config("mobilenet0.25"))) == 426_608   # Final_Retinaface.pth learnables


def test_converter_output_carries_config(mnet_ckpt):
    from src.checkpoint import load
    params, cfg, extras = load(mnet_ckpt)
    assert cfg["backbone"] == "mobilenet0.25" and cfg["leaky"] == 0.0 and cfg["out_channel"] == 64
    assert extras["source"] == "Final_Retinaface.pth"
    assert "body.stage1.0.1.moving_variance" in params and len(params) == 300 - 47    # 47 num_batches_tracked dropped


def test_converter_rejects_foreign_state_dict(tmp_path, capsys):
    import torch
    from src.errors import run_cli
    from tools.convert_official import main
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, str(bad))
    assert run_cli(main, "convert_official.py", ["--src", str(bad), "--dst", str(tmp_path / "x.ckpt")]) == 2
    assert capsys.readouterr().err.startswith(f"convert_official.py: error: {bad}: state dict does not match the "
                                              f"network: unexpected ['conv.weight']")
    assert run_cli(main, "convert_official.py", ["--src", str(tmp_path / "no.pth"), "--dst", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == f"convert_official.py: error: {tmp_path / 'no.pth'}: file not found\n"
    assert not (tmp_path / "x.ckpt").exists()


@pytest.fixture(scope="module")
def mnet(mnet_ckpt):
    from src.inference import load_model
    return load_model(mnet_ckpt)


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_raw_outputs_and_detections_match_reference(shared_dir, mnet, photo):
    import mindspore as ms
    net, cfg = mnet
    z = np.load(os.path.join(shared_dir, "weights", "retinaface_mnet025", "reference_outputs", f"{photo}.npz"))
    loc, conf, landm = (t.asnumpy() for t in net(ms.Tensor(z["input"])))
    assert np.abs(loc - z["loc"]).max() <= 1e-4
    assert np.abs(conf - z["conf"]).max() <= 1e-4
    assert np.abs(landm - z["landms"]).max() <= 1e-4
    hw = tuple(int(v) for v in z["input_hw"])
    priors = prior_box(hw, cfg["min_sizes"], cfg["steps"])
    np.testing.assert_allclose(priors, z["priors"], atol=1e-7)
    dets = detect(loc[0], conf[0], landm[0], priors, cfg["variance"], hw, float(z["resize"]), **REF_POST)
    ref = z["dets"]
    assert dets.shape == ref.shape
    for d, r in zip(dets, ref):
        assert _iou(d[:4], r[:4]) >= 0.99
        assert abs(d[4] - r[4]) < 1e-4
        np.testing.assert_allclose(d[5:], r[5:], atol=0.05)        # landmarks, pixels
    # the post-processing alone, on the stored raw outputs, reproduces the stored detections
    own = detect(z["loc"][0], z["conf"][0], z["landms"][0], z["priors"], [0.1, 0.2], hw, 1.0, **REF_POST)
    np.testing.assert_allclose(own, ref, atol=1e-2)


def test_detections_match_pseudo_gt(shared_dir, mnet):
    from src.image_io import read_image
    from src.inference import Predictor
    net, cfg = mnet
    det = Predictor(net, cfg, mode="native", **REF_POST)
    with open(os.path.join(shared_dir, "data", "real_photos", "pseudo_gt.json"), encoding="utf-8") as f:
        gt = json.load(f)
    assert len(gt["images"]) == 3
    for name, info in gt["images"].items():
        img = read_image(os.path.join(shared_dir, "data", "real_photos", name))
        assert img.shape[:2] == (info["height"], info["width"])
        dets = det(img)
        dets = dets[dets[:, 4] >= gt["score_threshold"]]
        assert len(dets) == len(info["faces"]), name
        for face in info["faces"]:
            best = max(_iou(d[:4], face["box"]) for d in dets)
            assert best >= 0.7, (name, best)
            # pseudo_gt's box IS the reference RetinaFace-mnet box: we reproduce it to the pixel
            assert best >= 0.99, (name, best)
