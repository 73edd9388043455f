"""export.py (SavedModel + frozen graph, checked against the checkpoint), eval.py (the WIDER prediction folder and
eval_result.json), and the one-line errors of demo.py / eval.py / export.py for checkpoints that are not ours."""
import json
import os

import numpy as np
import pytest

from conftest import run_main


@pytest.fixture(scope="module")
def exported(converted_ckpt, shared_dir, tmp_path_factory):
    from src.errors import run_cli
    import export

    out = str(tmp_path_factory.mktemp("export"))
    rc = run_cli(export.main, "export.py", ["--checkpoint", converted_ckpt, "--output_dir", out, "--check_image",
                                            os.path.join(shared_dir, "data", "real_photos", "obama.jpg")])
    assert rc == 0
    return out


def test_frozen_graph_and_saved_model_give_the_checkpoint_detections(exported, converted_ckpt, shared_dir):
    from export import check_parity, parity_image
    from src.inference import Predictor

    assert os.path.isfile(os.path.join(exported, "saved_model", "saved_model.pb"))
    for name in ("astronaut.png", "grace_hopper.jpg"):
        photo = os.path.join(shared_dir, "data", "real_photos", name)
        ref = Predictor(converted_ckpt)(photo)
        got = Predictor(os.path.join(exported, "model.pb"))(photo)
        assert len(ref) >= 1
        np.testing.assert_allclose(got, ref, atol=1e-3)
    # the parity check export.py runs: the test pattern too, within export.PARITY_ATOL
    n, worst = check_parity(converted_ckpt, exported, parity_image())
    assert set(worst) == {"model.pb", "saved_model"} and max(worst.values()) <= 1e-4


def test_eval_writes_the_prediction_folder_and_eval_result(converted_ckpt, mini_data, tmp_path, capsys):
    out = tmp_path / "eval"
    stale = out / "predictions" / "0--Parade" / "stale.txt"  # a previous run's file must not be evaluated
    stale.parent.mkdir(parents=True)
    stale.write_text("0--Parade/stale.jpg\n1\n1 1 10 10 0.9\n")
    r = run_main("eval", ["--checkpoint", converted_ckpt, "--data_path", mini_data, "--output_path", str(out),
                          "--max_images", "4"], capsys)
    assert r.returncode == 0, r.stderr
    res = json.load(open(out / "eval_result.json"))
    assert set(res["aps"]) == {"easy", "medium", "hard"} and res["images"] == 4
    assert (res["score_threshold"], res["iou_threshold"], res["max_boxes"]) == (0.05, 0.3, 200)
    assert all(len(res["curves"][s]["recall"]) == len(res["curves"][s]["precision"]) > 0 for s in res["aps"])
    assert "Easy   Val AP: %.4f" % res["aps"]["easy"] in r.stdout
    txts = [os.path.join(d, f) for d, _, fs in os.walk(out / "predictions") for f in fs]
    assert len(txts) == 4 and not stale.exists() and not (out / "predictions.partial").exists()
    for t in txts:
        lines = open(t).read().splitlines()
        assert int(lines[1]) == len(lines) - 2
        scores = [float(ln.split()[4]) for ln in lines[2:]]
        assert scores == sorted(scores, reverse=True) and all(s >= 0.05 for s in scores)


@pytest.mark.parametrize("module", ["demo", "eval", "export"])
def test_checkpoints_that_are_not_ours_are_one_line(module, shared_dir, mini_data, tmp_path, capsys):
    photo = os.path.join(shared_dir, "data", "real_photos", "obama.jpg")
    pth = os.path.join(shared_dir, "weights", "faceboxes", "FaceBoxesProd.pth")
    foreign = str(tmp_path / "foreign.ckpt")   # a TensorFlow checkpoint of another model
    from src.tf_compat import tf

    with tf.Graph().as_default(), tf.Session() as s:
        v = tf.get_variable("resnet/conv0/kernel", [3, 3, 3, 8])
        s.run(v.initializer)
        tf.train.Saver([v]).save(s, foreign, write_meta_graph=False)
    (tmp_path / "bad.pb").write_bytes(b"\x00garbage")
    args = {"demo": ["--image", photo, "--checkpoint"], "eval": ["--data_path", mini_data, "--output_path",
                                                                 str(tmp_path / "ev"), "--checkpoint"],
            "export": ["--output_dir", str(tmp_path / "ex"), "--checkpoint"]}[module]
    cases = [(pth, "%s is a PyTorch weight file (the released FaceBoxesProd.pth?), not a checkpoint of this folder: "
                   "convert it with python tools/convert_official.py --src %s --dst pretrained/faceboxes_prod.ckpt "
                   "and pass that" % (pth, pth)),
             (str(tmp_path / "nope.ckpt"), "%s: no such checkpoint (expected a prefix with a .index file, such as "
                                           "model.ckpt-5000, or a folder holding checkpoints)" % (tmp_path / "nope.ckpt")),
             (foreign, "%s: not a FaceBoxes checkpoint of this folder (no 'config' variable; it holds 1 variables such "
                       "as resnet/conv0/kernel)" % foreign)]
    if module == "demo":
        cases += [(str(tmp_path / "nope.pb"), "%s: no such frozen graph file" % (tmp_path / "nope.pb")),
                  (str(tmp_path / "bad.pb"), "%s: not a frozen TensorFlow graph (.pb)" % (tmp_path / "bad.pb"))]
    for ckpt, message in cases:
        r = run_main(module, args + [ckpt], capsys)
        assert (r.returncode, r.stderr) == (2, "%s.py: error: %s\n" % (module, message))
    assert not any(os.path.exists(tmp_path / d) for d in ("ev", "ex"))


def test_eval_without_data_path_or_layout(tmp_path, capsys):
    r = run_main("eval", ["--checkpoint", "x"], capsys)
    assert (r.returncode, r.stderr) == (2, "eval.py: error: --data_path is required (the WIDER FACE root)\n")
    r = run_main("eval", ["--checkpoint", "x", "--data_path", str(tmp_path)], capsys)
    assert (r.returncode, r.stderr) == (2, "eval.py: error: %s: WIDER val image folder not found (expected "
                                           "DATA/WIDER_val/images)\n" % (tmp_path / "WIDER_val" / "images"))
