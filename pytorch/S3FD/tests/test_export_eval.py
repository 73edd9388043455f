"""ONNX export parity, the WIDER protocol's scale and filter rules, eval.py end to end, demo.py's JSON."""
import json
import os

import cv2
import numpy as np
import pytest
import torch

from conftest import tiny_wider
from layers.functions.prior_box import feature_map_sizes
from src.errors import run_cli
from src.inference import Predictor


class Recorder:
    """A runner that records the input sizes and detects nothing."""

    def __init__(self, cfg):
        self.cfg, self.sizes = cfg, []

    def __call__(self, x):
        h, w = x.shape[1:]
        self.sizes.append((h, w))
        maps = feature_map_sizes(h, w, self.cfg)
        n = sum(a * b for a, b in maps)
        conf = torch.zeros(n, 2)
        conf[:, 0] = 1
        return torch.zeros(n, 4), conf, maps


@pytest.mark.parametrize("hw", [(100, 100), (1000, 1500), (1800, 2400)])
def test_wider_protocol_scales(hw, predictors):
    """Base scale min(1, max_shrink), its flip, the shrunk pass, the enlarged passes (doubling while max_shrink > 2,
    then max_shrink itself); max_shrink = sqrt(1700 * 1200 / (H * W))."""
    cfg = predictors["yxlijun"].cfg
    rec = Recorder(cfg)
    pred = Predictor(rec, cfg)
    h, w = hw
    assert pred.wider_detect(np.zeros((h, w, 3), np.uint8)).shape == (0, 5)
    ms = np.sqrt(1700 * 1200 / (h * w))
    if hw == (100, 100):          # ms 14.28: 1, 1 (flip), 0.5, 2, 4, 8, 14.28
        scales = [1, 1, 0.5, 2, 4, 8, ms]
    elif hw == (1000, 1500):      # ms 1.17: 1, 1, 0.5, min(2, ms)
        scales = [1, 1, 0.5, ms]
    else:                          # ms 0.69 < 0.75: ms, ms, ms / 2, (ms / 2 + ms) / 2
        scales = [ms, ms, ms / 2, (ms / 2 + ms) / 2]
    assert rec.sizes == [(int(round(h * s)), int(round(w * s))) for s in scales]


def test_multi_scale_filters(monkeypatch, predictors):
    pred = Predictor(Recorder(predictors["yxlijun"].cfg), predictors["yxlijun"].cfg)
    passes = {0.5: [[0, 0, 29, 29, 0.9], [0, 0, 30, 10, 0.8]],                 # max side 30: out; 31: kept
              1.5: [[0, 0, 98, 200, 0.7], [0, 0, 99, 200, 0.6]]}               # min side 99: kept; 100: out
    monkeypatch.setattr(pred, "detect_face",
                        lambda image, s, thresh: np.array(passes.get(round(s, 6), np.zeros((0, 5)))))
    det_s, det_b = pred.multi_scale_test(None, 1.5, 0.05)                      # bt = min(2, 1.5) = 1.5 > 1
    assert det_s.tolist() == [[0, 0, 30, 10, 0.8]] and det_b.tolist() == [[0, 0, 98, 200, 0.7]]
    passes = {0.35: [[0, 0, 29, 29, 0.9], [0, 0, 30, 10, 0.8]], 0.525: [[0, 0, 29, 9, 0.5], [0, 0, 30, 9, 0.4]]}
    det_s, det_b = pred.multi_scale_test(None, 0.7, 0.05)                      # st 0.35, bt 0.525 <= 1
    assert det_s.tolist() == [[0, 0, 30, 10, 0.8]] and det_b.tolist() == [[0, 0, 30, 9, 0.4]]


@pytest.mark.parametrize("arch", ["yxlijun", "sfd"])
def test_onnx_export_parity(arch, predictors, photo, tmp_path):
    from export import export_onnx, parity
    from src.inference import OnnxRunner
    pred = predictors[arch]
    path = export_onnx(pred.runner.net, str(tmp_path / f"{arch}.onnx"), size=(96, 96))
    onnx_pred = Predictor(OnnxRunner(path, pred.cfg), pred.cfg)
    image = cv2.resize(photo("grace_hopper"), (160, 192), interpolation=cv2.INTER_AREA)
    lines, ok = parity(pred, onnx_pred, image)
    assert ok, "\n".join(lines)


def test_eval_end_to_end(mini_data, checkpoints, predictors, tmp_path, capsys):
    from tools import wider_test
    data = str(tmp_path / "data")
    images = tiny_wider(mini_data, data)
    out = tmp_path / "eval"
    (out / "predictions").mkdir(parents=True)
    (out / "predictions" / "stale.txt").write_text("an earlier run's file")
    rc = run_cli(wider_test.main, "eval.py", ["--checkpoint", checkpoints["yxlijun"], "--data_path", data,
                                              "--output_path", str(out), "--input_size", "64"])
    assert rc == 0, capsys.readouterr().err
    res = json.load(open(out / "eval_result.json"))
    assert set(res["aps"]) == {"easy", "medium", "hard"} and res["protocol"] == "resize" and res["images"] == 2
    assert not (out / "predictions" / "stale.txt").exists()                 # the folder is replaced when complete
    rel = images[0]
    lines = (out / "predictions" / rel.replace(".jpg", ".txt")).read_text().splitlines()
    dets = predictors["yxlijun"](os.path.join(data, "WIDER_val", "images", rel), "resize", input_size=64)
    assert lines[0] == os.path.basename(rel) and int(lines[1]) == len(dets) > 0
    x, y, w, h, s = map(float, lines[2].split())
    best = dets[np.argmax(dets[:, 4])]
    assert np.allclose([x, y, w, h, s], [best[0], best[1], best[2] - best[0] + 1, best[3] - best[1] + 1, best[4]],
                       atol=1e-3)                                             # the reference's w = x2 - x1 + 1


def test_eval_names_a_corrupt_val_image(mini_data, checkpoints, tmp_path, capsys, shared_dir):
    from tools import wider_test
    data = str(tmp_path / "data")
    images = tiny_wider(mini_data, data)
    os.remove(os.path.join(data, "WIDER_val", "images"))
    for rel in images:
        os.makedirs(os.path.dirname(os.path.join(data, "WIDER_val", "images", rel)), exist_ok=True)
    with open(os.path.join(shared_dir, "data", "real_photos", "obama.jpg"), "rb") as f:
        cut = f.read(100000)
    for rel in images:
        with open(os.path.join(data, "WIDER_val", "images", rel), "wb") as f:
            f.write(cut)
    (tmp_path / "e" / "predictions").mkdir(parents=True)                  # an earlier evaluation's results
    (tmp_path / "e" / "predictions" / "earlier.txt").write_text("kept")
    (tmp_path / "e" / "eval_result.json").write_text("{}")
    rc = run_cli(wider_test.main, "eval.py", ["--checkpoint", checkpoints["yxlijun"], "--data_path", data,
                                              "--output_path", str(tmp_path / "e"), "--input_size", "64"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and images[0] in err[0] and "truncated JPEG" in err[0]
    assert (tmp_path / "e" / "predictions" / "earlier.txt").read_text() == "kept"       # nothing written is lost
    assert (tmp_path / "e" / "eval_result.json").read_text() == "{}"


def test_demo_json_and_drawing(checkpoints, photo, tmp_path, capsys):
    import demo
    img = cv2.resize(photo("grace_hopper"), (128, 150), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "in.png"), img)
    rc = run_cli(demo.main, "demo.py", ["--image", str(tmp_path / "in.png"), "--checkpoint", checkpoints["yxlijun"],
                                        "--output", str(tmp_path / "out.jpg"), "--json", str(tmp_path / "out.json"),
                                        "--protocol", "native", "--score_threshold", "0.3"])
    assert rc == 0, capsys.readouterr().err
    items = json.load(open(tmp_path / "out.json"))
    assert items and all(set(i) == {"box", "score"} and len(i["box"]) == 4 and i["score"] >= 0.3 for i in items)
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    assert cv2.imread(str(tmp_path / "out.jpg")).shape == img.shape
