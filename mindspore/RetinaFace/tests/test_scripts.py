"""End-to-end: training steps + exact resume, 2-worker msrun, eval.py, export.py + GraphCell, demo.py, CLI errors."""
import glob
import json
import os
import shutil
import sys

import numpy as np
import pytest

from conftest import MODEL_DIR, free_port, run_script

SMALL = ["--device_target=CPU", "--image_size=160", "--num_workers=1", "--save_checkpoint_steps=100000"]


def _losses(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["losses"]


def test_resnet50_two_steps_finite(mini_data, tmp_path):
    r = run_script(["train.py", f"--data_path={mini_data}", "--batch_size=2", "--max_steps=2",
                    f"--ckpt_path={tmp_path}", f"--log_json={tmp_path / 'log.json'}"] + SMALL)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    losses = _losses(tmp_path / "log.json")
    assert len(losses) == 2 and all(np.isfinite(losses)) and all(5 < v < 100 for v in losses)
    assert "epoch: 1 step: 2, loss is" in r.stdout                       # LossMonitor lines
    ckpt = glob.glob(str(tmp_path / "ckpt_0" / "RetinaFace-1_2.ckpt"))
    assert ckpt, os.listdir(tmp_path)
    from src.utils import load_ckpt
    params, cfg, _ = load_ckpt(ckpt[0])
    assert cfg["backbone"] == "resnet50" and int(params["global_step"].asnumpy()[0]) == 2


def test_exact_resume_mid_epoch(tmp_path, shared):
    # 3 images, batch 1: 3 steps per epoch; stop after 4 steps (mid-epoch 2), resume to 7 == uninterrupted 7
    data = tmp_path / "data"
    img_dir = data / "train" / "images" / "ev"
    img_dir.mkdir(parents=True)
    with open(os.path.join(shared, "data", "real_photos", "pseudo_gt.json"), encoding="utf-8") as f:
        gt = json.load(f)
    import cv2
    lines = []
    for name, info in gt["images"].items():
        stem = os.path.splitext(name)[0]
        cv2.imwrite(str(img_dir / f"{stem}.jpg"), cv2.imread(os.path.join(shared, "data", "real_photos", name)))
        lines.append(f"# ev/{stem}.jpg")
        for face in info["faces"]:
            x1, y1, x2, y2 = face["box"]
            lm = " ".join(f"{x} {y} 0.0" for x, y in face["landmarks"])
            lines.append(f"{x1} {y1} {x2 - x1} {y2 - y1} {lm} 0.9")
    (data / "train" / "label.txt").write_text("\n".join(lines) + "\n")
    common = [f"--data_path={data}", "--backbone=mobilenet0.25", "--batch_size=1", "--epoch=3",
              "--device_target=CPU", "--image_size=160", "--num_workers=1", "--save_checkpoint_steps=4",
              "--keep_checkpoint_max=5"]
    a = run_script(["train.py", "--max_steps=7", f"--ckpt_path={tmp_path / 'a'}",
                    f"--log_json={tmp_path / 'a.json'}"] + common)
    assert a.returncode == 0, a.stderr[-3000:]
    b = run_script(["train.py", "--max_steps=4", f"--ckpt_path={tmp_path / 'b'}",
                    f"--log_json={tmp_path / 'b1.json'}"] + common)
    assert b.returncode == 0, b.stderr[-3000:]
    c = run_script(["train.py", "--max_steps=3", f"--ckpt_path={tmp_path / 'b'}",
                    f"--resume_net={tmp_path / 'b' / 'ckpt_0' / 'RetinaFace-2_1.ckpt'}",
                    f"--log_json={tmp_path / 'b2.json'}"] + common)
    assert c.returncode == 0, c.stderr[-3000:]
    assert "at step 4" in c.stdout
    full = _losses(tmp_path / "a.json")
    resumed = _losses(tmp_path / "b1.json") + _losses(tmp_path / "b2.json")
    assert len(full) == 7
    assert resumed == full                       # bit-identical: same data, augmentation, optimizer state, LR


def test_msrun_two_workers_data_parallel(mini_data, tmp_path):
    if shutil.which("msrun", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("msrun not installed next to the interpreter")
    r = run_script(["-m", "mindspore.parallel.cluster.run", "--worker_num=2", "--local_worker_num=2",
                    f"--master_port={free_port()}", f"--log_dir={tmp_path / 'log'}", "--join=True", "train.py",
                    f"--data_path={mini_data}", "--is_distributed", "--backbone=mobilenet0.25", "--batch_size=2",
                    "--max_steps=2", f"--ckpt_path={tmp_path}", f"--log_json={tmp_path / 'l.json'}"] + SMALL,
                   env={"MS_NODE_TIMEOUT": "240", "MS_RECEIVE_MSG_TIMEOUT": "240", "MS_CPU_COMM_OP_TIMEOUT": "240"},
                   timeout=300)
    logs = "".join(open(p).read()[-2000:] for p in glob.glob(str(tmp_path / "log" / "worker_*.log")))
    assert r.returncode == 0, r.stderr[-2000:] + logs
    assert "batch 2 x 2 device(s)" in logs
    for rank in (0, 1):
        assert all(np.isfinite(_losses(tmp_path / f"l_rank{rank}.json")))
    import mindspore as ms
    c0 = ms.load_checkpoint(str(tmp_path / "ckpt_0" / "RetinaFace-1_2.ckpt"))
    c1 = ms.load_checkpoint(str(tmp_path / "ckpt_1" / "RetinaFace-1_2.ckpt"))
    weights = [k for k in c0 if k.startswith("network.") and "moving" not in k]
    assert len(weights) == 159
    # each rank saw different images, yet the weights stay identical: the gradients were all-reduced
    assert max(float(np.abs(c0[k].asnumpy() - c1[k].asnumpy()).max()) for k in weights) == 0.0
    assert any(float(np.abs(c0[k].asnumpy() - c1[k].asnumpy()).max()) > 0 for k in c0 if "moving_mean" in k)


def test_eval_writes_predictions_and_scores(mini_data, mnet_ckpt, tmp_path):
    pred = tmp_path / "pred"
    r = run_script(["eval.py", f"--data_path={mini_data}", f"--checkpoint={mnet_ckpt}", "--device_target=CPU",
                    f"--pred_dir={pred}", "--target_size=480", "--max_size=640", f"--json={tmp_path / 'r.json'}"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(glob.glob(str(pred / "*" / "*.txt"))) == 32
    assert "Easy   Val AP :" in r.stdout
    with open(tmp_path / "r.json", encoding="utf-8") as f:
        ap = json.load(f)["ap"]
    assert ap["easy"] > 0.8 and ap["medium"] > 0.75 and 0.3 < ap["hard"] <= ap["medium"]
    one = sorted(glob.glob(str(pred / "*" / "*.txt")))[0]
    lines = open(one).read().splitlines()
    assert lines[0] == os.path.basename(one)[:-4] + ".jpg" and int(lines[1]) == len(lines) - 2
    x, y, w, h, s = (float(v) for v in lines[2].split())
    assert x == int(x) and y == int(y) and w == int(w) and h == int(h)        # reference int truncation


def test_export_mindir_graphcell_parity(mnet_ckpt, tmp_path):
    r = run_script(["export.py", f"--checkpoint={mnet_ckpt}", f"--file_name={tmp_path / 'rf'}", "--height=96",
                    "--width=128"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "rf.mindir").is_file()
    assert "GraphCell vs network max |diff|" in r.stdout


def test_export_resnet50_mindir_in_process(tmp_path):
    from export import check_mindir, export_model
    from src.config import get_config
    from src.network import RetinaFace
    net = RetinaFace(get_config("resnet50"), phase="predict")
    net.set_train(False)
    path, x = export_model(net, str(tmp_path / "r50"), "MINDIR", (1, 3, 64, 96))
    assert max(check_mindir(net, path, x)) <= 1e-4


def test_demo_json_and_image(shared, mnet_ckpt, tmp_path):
    img = os.path.join(shared, "data", "real_photos", "grace_hopper.jpg")
    r = run_script(["demo.py", "--image", img, "--checkpoint", mnet_ckpt, "--output", str(tmp_path / "o.jpg"),
                    "--json", str(tmp_path / "o.json"), "--device", "cpu"])
    assert r.returncode == 0, r.stderr[-3000:]
    dets = json.load(open(tmp_path / "o.json"))
    assert len(dets) == 1 and set(dets[0]) == {"box", "score", "landmarks"} and len(dets[0]["landmarks"]) == 5
    np.testing.assert_allclose(dets[0]["box"], [177.37, 107.94, 352.13, 333.64], atol=0.05)
    assert (tmp_path / "o.jpg").stat().st_size > 1000


@pytest.mark.parametrize("script", ["train.py", "eval.py"])
def test_missing_data_path(script):
    r = run_script([script, "--device_target=CPU"])
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == f"{script}: error: --data_path is required " + (
        "(WIDER FACE root with train/label.txt)" if script == "train.py"
        else "(root with val/label.txt, val/images/, ground_truth/)")


def test_smoke_script_requires_data_path():
    import subprocess
    r = subprocess.run(["bash", "test/train_smoke.sh"], cwd=MODEL_DIR, capture_output=True, text=True)
    assert r.returncode == 2 and "--data_path=DIR is required" in r.stderr


def test_malformed_label_and_corrupt_image(tmp_path, shared):
    d = tmp_path / "d" / "train"
    (d / "images" / "ev").mkdir(parents=True)
    import cv2
    cv2.imwrite(str(d / "images" / "ev" / "a.jpg"), np.full((64, 64, 3), 100, np.uint8))
    (d / "label.txt").write_text("# ev/a.jpg\n1 2 3 4 5\n")
    r = run_script(["train.py", f"--data_path={tmp_path / 'd'}", "--device_target=CPU"])
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (f"train.py: error: {d / 'label.txt'}:2: expected 4 or 20 numbers "
                                                 "(x y w h, 5 landmark triples, 1 trailing value), got 5")
    (d / "label.txt").write_text("# ev/a.jpg\n10 10 50 50\n")
    (d / "images" / "ev" / "a.jpg").write_bytes(b"\xff\xd8 truncated jpeg")
    r = run_script(["train.py", f"--data_path={tmp_path / 'd'}", "--batch_size=1", "--max_steps=1",
                    f"--ckpt_path={tmp_path / 'ck'}"] + SMALL)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (f"train.py: error: {d / 'images' / 'ev' / 'a.jpg'}: cannot decode "
                                                 "image (corrupt or not an image)")


def test_eval_replaces_old_predictions_and_rejects_corrupt_image(mini_data, mnet_ckpt, tmp_path):
    pred = tmp_path / "pred"
    (pred / "0--Parade").mkdir(parents=True)
    stale = pred / "0--Parade" / "stale_image.txt"
    stale.write_text("stale_image.jpg\n1\n1 1 50 50 0.99\n")
    args = ["eval.py", f"--checkpoint={mnet_ckpt}", "--device_target=CPU", f"--pred_dir={pred}", "--no_eval"]
    r = run_script(args + [f"--data_path={mini_data}", "--max_images=2", "--target_size=160", "--max_size=320"])
    assert r.returncode == 0, r.stderr[-3000:]
    files = sorted(glob.glob(str(pred / "*" / "*.txt")))
    assert len(files) == 2 and str(stale) not in files            # an earlier run's files never reach the AP
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]   # no temp folder left behind
    # a corrupt val image (origin-size protocol reads every image's size first): one line, old predictions kept
    val = tmp_path / "bad" / "val"
    (val / "images" / "ev").mkdir(parents=True)
    (val / "images" / "ev" / "a.jpg").write_bytes(b"not a jpeg")
    (val / "label.txt").write_text("# ev/a.jpg\n10 10 50 50\n")
    r = run_script(args + [f"--data_path={tmp_path / 'bad'}", "--val_origin_size"])
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (f"eval.py: error: {val / 'images' / 'ev' / 'a.jpg'}: cannot decode "
                                                 "image (corrupt or not an image)")
    assert sorted(glob.glob(str(pred / "*" / "*.txt"))) == files
