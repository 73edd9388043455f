"""Parity with the official FaceBoxes.PyTorch model (FaceBoxesProd.pth) on the stored reference outputs."""
import os

import numpy as np
import pytest

from src.config import model_config
from src.detector import Detector
from src.tf_compat import tf

PHOTOS = ["astronaut", "grace_hopper", "obama"]


def iou_xyxy(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def tf_model(converted_ckpt):
    cfg = model_config("pytorch")
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [1, None, None, 3])
        det = Detector.from_normalized_input(x, cfg)
        pred = det.get_predictions(0.05, 0.3, 200)
        sess = tf.Session()
        tf.train.Saver().restore(sess, converted_ckpt)
    yield sess, x, det, pred
    sess.close()


@pytest.mark.parametrize("photo", PHOTOS)
def test_raw_outputs_priors_and_detections(shared_dir, tf_model, photo):
    sess, x, det, pred = tf_model
    z = np.load(os.path.join(shared_dir, "weights", "faceboxes", "reference_outputs", photo + ".npz"))
    loc, logits, anchors, p = sess.run([det.box_encodings, det.class_predictions_with_background, det.anchors, pred],
                                       {x: z["input"].transpose(0, 2, 3, 1)})
    # raw outputs: our box head emits (ty, tx, th, tw); the reference emits (x, y, w, h)
    np.testing.assert_allclose(loc[..., [1, 0, 3, 2]], z["loc"], atol=1e-4, rtol=0)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(-1, keepdims=True), z["conf"], atol=1e-4, rtol=0)
    # priors (paper anchor style) as (cx, cy, w, h)
    ymin, xmin, ymax, xmax = anchors.T
    priors = np.stack([(xmin + xmax) / 2, (ymin + ymax) / 2, xmax - xmin, ymax - ymin], 1)
    np.testing.assert_allclose(priors, z["priors"], atol=1e-6, rtol=0)
    # final detections: same count, IoU >= 0.99, same scores
    h, w = z["image_hw"]
    n = int(p["num_boxes"][0])
    boxes = p["boxes"][0, :n] * [h, w, h, w]
    dets = np.concatenate([boxes[:, [1, 0, 3, 2]], p["scores"][0, :n, None]], 1)
    ref = z["dets"]
    assert len(dets) == len(ref)
    for d, r in zip(dets, ref):
        assert iou_xyxy(d, r) >= 0.99
        assert abs(d[4] - r[4]) < 1e-4
        np.testing.assert_allclose(d[:4], r[:4], atol=1e-2)


def test_preprocessing_from_image_matches_reference_input(shared_dir):
    """Our uint8 RGB -> BGR - means path reproduces the stored input tensor."""
    from src.image_io import read_image
    from src.network import preprocess

    z = np.load(os.path.join(shared_dir, "weights", "faceboxes", "reference_outputs", "grace_hopper.npz"))
    rgb = read_image(os.path.join(shared_dir, "data", "real_photos", "grace_hopper.jpg"), "rgb")
    with tf.Graph().as_default(), tf.Session() as s:
        out = s.run(preprocess(tf.constant(rgb[None].astype(np.float32) / 255.0), model_config("pytorch")))
    np.testing.assert_allclose(out, z["input"].transpose(0, 2, 3, 1), atol=1e-4)


@pytest.mark.parametrize("photo,ext", [("astronaut", "png"), ("obama", "jpg")])
def test_end_to_end_predictor_matches_reference(shared_dir, converted_ckpt, photo, ext):
    from src.inference import Predictor

    z = np.load(os.path.join(shared_dir, "weights", "faceboxes", "reference_outputs", photo + ".npz"))
    pred = Predictor(converted_ckpt)
    dets = pred(os.path.join(shared_dir, "data", "real_photos", "%s.%s" % (photo, ext)))  # a path: read as BGR
    pred.close()
    assert len(dets) == len(z["dets"])
    for d, r in zip(dets, z["dets"]):
        assert iou_xyxy(d, r) >= 0.99


def test_converter_rejects_bad_input(tmp_path, capsys):
    from conftest import run_main

    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    r = run_main("tools.convert_official", ["--src", str(bad), "--dst", str(tmp_path / "x.ckpt")], capsys)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("tools.convert_official.py: error: %s: not a readable PyTorch state dict" % bad)
    assert "weights_only" not in r.stderr and not os.path.exists(tmp_path / "x.ckpt.index")


def test_converter_rejects_non_state_dict(tmp_path):
    import torch

    from src.errors import CheckpointError
    from tools.convert_official import load_pth

    torch.save(torch.zeros(3), str(tmp_path / "t.pth"))
    with pytest.raises(CheckpointError, match=r"t\.pth: expected a state dict \{name: tensor\}, got Tensor"):
        load_pth(str(tmp_path / "t.pth"))
