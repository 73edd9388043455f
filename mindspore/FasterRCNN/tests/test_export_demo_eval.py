"""export.py (MINDIR parity through GraphCell, one-line refusals), demo.py (the contract's JSON), eval.py (WIDER
and COCO paths), convert_official's config choice, and the error paths a user meets."""
import json
import os

import numpy as np
import pytest

from helpers import MODEL_DIR
from zoo_fixtures import run_script


def _one_line_error(r, prog, *needles):
    assert r.returncode == 2, (r.stdout[-1500:], r.stderr[-1500:])
    err = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: "), err
    for n in needles:
        assert n in err[0], err[0]


def test_export_mindir_parity_with_graphcell(small_run, tmp_path):
    base = tmp_path / "frcnn"
    r = run_script(["export.py", f"--ckpt_file={small_run['ckpt2']}", f"--file_name={base}"], cwd=MODEL_DIR,
                   timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "nn.GraphCell gives the network's outputs exactly" in r.stdout
    assert os.path.getsize(str(base) + ".mindir") > 100e6


def test_export_check_failure_keeps_the_earlier_export(tmp_path):
    """The MINDIR check runs on the new file before it takes the name: a failed check removes the new file and
    leaves an earlier export of that name as it was; a passed one replaces it (a one-layer network, for speed)."""
    import mindspore as ms
    from export import export_network
    from src.errors import ConfigError
    net = ms.nn.Dense(3, 2)
    x = ms.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    path = tmp_path / "net.mindir"
    path.write_bytes(b"the earlier export")

    def fail(tmp):
        out = ms.nn.GraphCell(ms.load(tmp))(x).asnumpy()
        np.testing.assert_allclose(out, net(x).asnumpy(), rtol=1e-6)     # the new file is complete and loads
        raise ConfigError("check failed")
    with pytest.raises(ConfigError, match="check failed"):
        export_network(net, (x,), str(tmp_path / "net"), "MINDIR", check=fail)
    assert path.read_bytes() == b"the earlier export" and os.listdir(tmp_path) == ["net.mindir"]
    assert export_network(net, (x,), str(tmp_path / "net"), "MINDIR", check=lambda tmp: None) == str(path)
    np.testing.assert_allclose(ms.nn.GraphCell(ms.load(str(path)))(x).asnumpy(), net(x).asnumpy(), rtol=1e-6)
    assert os.listdir(tmp_path) == ["net.mindir"]


def test_export_air_refused_in_one_line(small_run, tmp_path):
    r = run_script(["export.py", f"--ckpt_file={small_run['ckpt2']}", f"--file_name={tmp_path / 'x'}",
                    "--file_format=AIR"], cwd=MODEL_DIR, timeout=600)
    _one_line_error(r, "export.py", "AIR export needs an Ascend device")
    assert not any(f.startswith("x") for f in os.listdir(tmp_path))


def test_demo_json_schema_and_drawing(small_run, shared_dir, tmp_path):
    img = os.path.join(shared_dir, "data", "real_photos", "grace_hopper.jpg")
    r = run_script(["demo.py", "--image", img, "--checkpoint", small_run["ckpt2"], "--output", str(tmp_path / "o.jpg"),
                    "--json", str(tmp_path / "o.json"), "--score_threshold", "0.0"], cwd=MODEL_DIR, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    items = json.load(open(tmp_path / "o.json"))
    assert isinstance(items, list) and 0 < len(items) <= 128
    for it in items:
        assert set(it) == {"box", "score"}                          # one class: no "label"
        assert len(it["box"]) == 4 and all(isinstance(v, float) for v in it["box"]) and 0 <= it["score"] <= 1
    import cv2
    assert cv2.imread(str(tmp_path / "o.jpg")).shape == (600, 512, 3)


def test_demo_labels_for_multi_class_configs():
    from demo import detections_json
    result = {"boxes": np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32), "scores": np.array([0.9, 0.2]),
              "labels": np.array([2, 0])}
    names = ["with_mask", "without_mask", "mask_worn_incorrectly"]
    assert detections_json(result, names, 0.5) == [{"box": [1.0, 2.0, 3.0, 4.0], "score": 0.9,
                                                    "label": "mask_worn_incorrectly"}]
    assert detections_json(result, ["face"], 0.1)[1] == {"box": [5.0, 6.0, 7.0, 8.0], "score": 0.2}


def test_eval_wider(small_run, mini_data, tmp_path):
    r = run_script(["eval.py", f"--checkpoint_path={small_run['ckpt2']}", f"--data_path={mini_data}",
                    f"--output_path={tmp_path}", "--eval_max_images=3"], cwd=MODEL_DIR, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.load(open(tmp_path / "eval_result.json"))
    assert set(res["aps"]) == {"easy", "medium", "hard"} and res["input_hw"] == [128, 192]
    assert len(os.listdir(tmp_path / "predictions")) >= 1 and (tmp_path / "pr_curves.png").is_file()
    assert "Easy   Val AP" in r.stdout


def test_eval_coco_json(small_run, mini_data, tmp_path):
    """The COCO path (pycocotools, +1 width / height, 12 numbers, per-class table, plots) on a COCO json of the
    mini val set's faces."""
    from widerface_eval import read_split_file
    entries = read_split_file(os.path.join(mini_data, "wider_face_split", "wider_face_val_bbx_gt.txt"))[:3]
    images, anns = [], []
    for i, e in enumerate(entries):
        images.append({"id": i + 1, "file_name": e.name})
        for b in e.boxes:
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [int(v) for v in b],
                         "area": int(b[2] * b[3]), "iscrowd": 0})
    anno = tmp_path / "val.json"
    anno.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "face"}]}))
    r = run_script(["eval.py", f"--checkpoint_path={small_run['ckpt2']}", "--dataset=coco", f"--anno_path={anno}",
                    f"--coco_root={mini_data}", "--val_data_type=WIDER_val/images", f"--output_path={tmp_path}"],
                   cwd=MODEL_DIR, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in r.stdout
    res = json.load(open(tmp_path / "eval_result.json"))
    assert len(res["coco"]) == 12 and res["per_class"][0]["class"] == "face"
    dets = json.load(open(tmp_path / "results.pkl.bbox.json"))
    assert dets and all(len(d["bbox"]) == 4 and d["category_id"] == 1 for d in dets)
    assert (tmp_path / "eval_result" / "statistics.csv").is_file()
    assert (tmp_path / "eval_result" / "pr_curve_image" / "face.png").is_file()


def test_convert_official_picks_the_config(ref_ckpt4, tmp_path):
    from tools.convert_official import convert
    lines = []
    cfg = convert(ref_ckpt4, str(tmp_path / "fm.ckpt"), log=lines.append)
    assert cfg.num_classes == 4 and "fasterrcnn_facemask_config_cpu.yaml" in lines[0] and "4 classes" in lines[0]
    from src.checkpoint import read_checkpoint
    params, meta = read_checkpoint(str(tmp_path / "fm.ckpt"))
    assert len(params) == 295 and meta["config"]["coco_classes"][3] == "mask_worn_incorrectly"


def test_error_paths_are_one_line(small_run, ref_ckpt4, shared_dir, mini_data, tmp_path):
    photo = os.path.join(shared_dir, "data", "real_photos", "obama.jpg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(open(photo, "rb").read()[:100000])
    demo = ["demo.py", "--image", str(cut), "--checkpoint", small_run["ckpt2"], "--output", str(tmp_path / "o.jpg")]
    _one_line_error(run_script(demo, cwd=MODEL_DIR, timeout=300), "demo.py", "cut.jpg", "truncated JPEG")
    assert not (tmp_path / "o.jpg").exists()
    # a checkpoint of the official code (no configuration), of another model, a PyTorch file
    demo[2] = photo
    for ckpt, needle in ((ref_ckpt4, "convert it with tools/convert_official.py"),):
        demo[4] = ckpt
        _one_line_error(run_script(demo, cwd=MODEL_DIR, timeout=300), "demo.py", needle)
    import mindspore as ms
    other = str(tmp_path / "retinaface.ckpt")
    ms.save_checkpoint([{"name": "backbone.body.conv1.weight", "data": ms.Tensor(np.zeros((8, 3, 3, 3), np.float32))}],
                       other, append_dict={"frcnn_config": json.dumps({"x": 1})})
    demo[4] = other
    _one_line_error(run_script(demo, cwd=MODEL_DIR, timeout=300), "demo.py", "retinaface.ckpt")
    pth = tmp_path / "Final_Retinaface.pth"
    pth.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    demo[4] = str(pth)
    _one_line_error(run_script(demo, cwd=MODEL_DIR, timeout=300), "demo.py", "PyTorch")
    _one_line_error(run_script(["train.py", "--config_path=fasterrcnn_widerface_config.yaml", "--device_target=GPU",
                                f"--data_path={mini_data}"], cwd=MODEL_DIR, timeout=300),
                    "train.py", "device GPU was asked for", "CPU")
    _one_line_error(run_script(["train.py", "--config_path=fasterrcnn_widerface_config.yaml"], cwd=MODEL_DIR,
                               timeout=300), "train.py", "--data_path is required")
    _one_line_error(run_script(["demo.py", "--image", photo, "--checkpoint", small_run["ckpt2"], "--device", "npu"],
                               cwd=MODEL_DIR, timeout=300), "demo.py", "device Ascend was asked for")


def test_eval_refuses_a_truncated_image_and_keeps_the_prediction_folder(mini_data, shared_dir, tmp_path):
    """eval's image loading (Predictor.preprocess) on a WIDER layout whose second val image is cut: a DataError
    naming that file, before anything is written (the network is stood in for: every image gets no detection)."""
    import shutil
    from src.engine import evaluate_wider
    from src.errors import DataError
    from src.inference import Predictor
    from helpers import small_config
    root = tmp_path / "wider"
    shutil.copytree(mini_data, root, ignore=shutil.ignore_patterns("WIDER_train"))
    from src.dataset import read_wider_split
    second = root / "WIDER_val" / "images" / read_wider_split(str(root), is_training=False)[1].name
    second.write_bytes(second.read_bytes()[: second.stat().st_size // 2])
    pred_dir = tmp_path / "predictions"
    pred_dir.mkdir()
    (pred_dir / "earlier_run.txt").write_text("kept\n")

    class NoNetwork:
        batch_size, config = 1, small_config()
        preprocess = Predictor.preprocess

        def run(self, inputs, metas):
            n = self.config.num_gts
            return np.zeros((1, n, 5), np.float32), np.zeros((1, n), np.int32), np.zeros((1, n), bool)

    with pytest.raises(DataError, match=rf"^{second}: .*(truncated|does not decode)"):
        evaluate_wider(NoNetwork(), str(root), str(root / "ground_truth"), str(pred_dir), max_images=3,
                       progress=False)
    assert os.listdir(pred_dir) == ["earlier_run.txt"]


def test_coco_eval_survives_failing_plots(tmp_path, monkeypatch):
    """The reference exits -1 when its plots fail after the mAP was computed; here a plot error is one warning
    and the numbers are returned (one image, one face, found exactly: AP 1)."""
    from pycocotools.coco import COCO
    import src.util as util
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 100}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600,
                           "iscrowd": 0}], "categories": [{"id": 1, "name": "face"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40],
                                                     "score": 0.9}]))
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "gt.json"))

    def broken(*a, **k):
        raise OSError("no space left on device")
    monkeypatch.setattr(util, "write_plots", broken)
    lines = []
    rec = util.coco_eval(coco, str(tmp_path / "dets.json"), str(tmp_path), ["face"], log=lines.append)
    assert rec["stats"][util.STAT_NAMES[0]] == pytest.approx(1.0) and rec["per_class"][0]["class"] == "face"
    assert lines[-1] == "warning: the evaluation plots were not written (OSError: no space left on device)"


def test_postprocess_reads_the_310_outputs(tmp_path):
    """postprocess.py: the three .bin outputs per image (float16 boxes, int32 labels, bool mask) through eval.py's
    rule and the COCO evaluation; a missing output file is one DataError naming it."""
    import postprocess
    from helpers import FACE_YAML
    from src.errors import DataError
    gt = {"images": [{"id": 7, "file_name": "img_7.jpg", "height": 100, "width": 100}],
          "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600,
                           "iscrowd": 0}], "categories": [{"id": 1, "name": "face"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    res = tmp_path / "result_Files"
    res.mkdir()
    n = 16
    boxes = np.zeros((n, 5), np.float16)
    boxes[0] = [10, 10, 49, 49, 0.9]                    # x2 - x1 + 1 = 40: the reference's +1 width
    boxes[1] = [60, 60, 90, 90, 0.95]                   # masked out: not a detection
    mask = np.zeros(n, np.bool_)
    mask[0] = True
    boxes.tofile(res / "img_7_0.bin")
    np.zeros(n, np.int32).tofile(res / "img_7_1.bin")
    mask.tofile(res / "img_7_2.bin")
    argv = [f"--config_path={FACE_YAML}", f"--anno_path={tmp_path / 'gt.json'}", f"--result_path={res}",
            f"--output_path={tmp_path / 'out'}"]
    assert postprocess.main(argv) == 0
    rec = json.load(open(tmp_path / "out" / "eval_result.json"))
    assert rec["coco"]["AP"] == pytest.approx(1.0) and rec["per_class"][0]["class"] == "face"
    os.remove(res / "img_7_2.bin")
    with pytest.raises(DataError, match=rf"^{res}/img_7_2\.bin: inference output not found$"):
        postprocess.main(argv)
