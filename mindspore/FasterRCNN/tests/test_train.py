"""Training: two steps with finite losses and the run files, exact resume, resume rules, 2-worker msrun on CPU."""
import json
import os
import shutil

import numpy as np
import pytest

from helpers import FACE_YAML, MODEL_DIR, SMALL_FLAGS, graph_cache_env
from src.fileio import read_step_log
from zoo_fixtures import run_script


def test_two_steps_finite_losses_and_run_files(small_run):
    out = small_run["out"]
    log = read_step_log(os.path.join(out, "train_log.jsonl"))
    assert [r["step"] for r in log] == [1, 2]
    for r in log:
        assert np.isfinite(r["loss"]) and r["sec"] > 0 and r["lr"] > 0
        assert r["loss"] == pytest.approx(r["rpn_loss"] + r["rcnn_loss"], rel=1e-5)
        assert r["rpn_loss"] == pytest.approx(r["rpn_cls_loss"] + r["rpn_reg_loss"], rel=1e-5, abs=1e-6)
        assert r["rcnn_loss"] == pytest.approx(r["rcnn_cls_loss"] + r["rcnn_reg_loss"], rel=1e-5, abs=1e-6)
    # lr of steps 1, 2: the warm-up from base_lr / 8 * 0.0625 (one device)
    base = 0.005 / 8
    assert log[0]["lr"] == pytest.approx(base * 0.0625, rel=1e-6)
    assert log[1]["lr"] == pytest.approx(base * 0.0625 + base * 0.9375 / 500, rel=1e-6)
    with open(os.path.join(out, "model_info.json")) as f:
        info = json.load(f)
    assert info["params"] == 41133087 - 10250           # the FaceMask config's count minus the 4 -> 2 class head
    assert info["anchors"] == 6138 and info["anchors_input_hw"] == [128, 192]
    lines = open(os.path.join(out, "loss_0.log")).read().splitlines()
    assert len(lines) == 2 and "epoch: 1 step: 2, rpn_loss:" in lines[1] and "total_loss:" in lines[1]
    assert sorted(os.listdir(os.path.join(out, "ckpt_0"))) == ["faster_rcnn-1_1.ckpt", "faster_rcnn-1_2.ckpt"]
    assert "base_lr 0.005 is for 8 devices: 0.000625 for this one-device run" in small_run["stdout"]


def _tensors(path):
    from src.checkpoint import read_checkpoint
    params, meta = read_checkpoint(path)
    return {k: v.asnumpy() for k, v in params.items()}, meta


def test_exact_resume(small_run, tmp_path):
    """Resumed from its step-1 checkpoint, the run's step 2 equals the uninterrupted step 2 bit for bit: weights,
    optimizer state, LR position, data and the samplers' draws."""
    out2 = tmp_path / "resumed"
    args = [a for a in small_run["args"] if not a.startswith("--save_checkpoint_path")]
    r = run_script(args + [f"--save_checkpoint_path={out2}", f"--resume={small_run['ckpt1']}"], cwd=MODEL_DIR,
                   timeout=900, env=graph_cache_env("small_run_training"))     # the same training graph
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stdout and "at global step 1" in r.stdout
    a, meta_a = _tensors(small_run["ckpt2"])
    b, meta_b = _tensors(out2 / "ckpt_0" / "faster_rcnn-1_2.ckpt")
    from src.model_utils.config import RUN_KEYS
    assert meta_a["step"] == meta_b["step"] == 2
    assert {k: v for k, v in meta_a["config"].items() if k not in RUN_KEYS} == \
        {k: v for k, v in meta_b["config"].items() if k not in RUN_KEYS}
    assert a.keys() == b.keys() and any(k.startswith("accum.") for k in a)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    la, lb = read_step_log(os.path.join(small_run["out"], "train_log.jsonl")), read_step_log(out2 / "train_log.jsonl")
    assert [r["step"] for r in lb] == [2] and lb[0]["loss"] == la[1]["loss"] and lb[0]["lr"] == la[1]["lr"]


def test_resume_auto_restores_settings_and_refuses_a_changed_flag(small_run, mini_data, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(small_run["out"], out, ignore=shutil.ignore_patterns("MindRecord_*"))
    base = ["train.py", f"--config_path={FACE_YAML}", f"--save_checkpoint_path={out}", "--resume=auto"]
    r = run_script(base + ["--batch_size=4"], cwd=MODEL_DIR, timeout=300)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "--batch_size=4 differs from the resumed run's batch_size=2" in err[0]
    assert "faster_rcnn-1_2.ckpt" in err[0] and "--allow_changes" in err[0]
    # the README's command, no --config_path (default_config.yaml: Ascend, COCO): the settings (the face config,
    # canvas 128 x 192, CPU, its data workers ...) come back from the checkpoint, and step 2 is the last one
    r = run_script(["train.py", f"--save_checkpoint_path={out}", "--resume=auto", f"--data_path={mini_data}",
                    "--steps=2"], cwd=MODEL_DIR, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "nothing to do: the checkpoint is at step 2, the run ends at step 2" in r.stdout
    for shown in ("'img_height': 128", "'device_target': 'CPU'", "'dataset': 'widerface'", "'num_classes': 2",
                  "'python_multiprocessing': False"):
        assert shown in r.stdout, shown
    assert [x["step"] for x in read_step_log(out / "train_log.jsonl")] == [1, 2]


def test_resume_of_a_data_parallel_run_needs_its_launcher(small_run, mini_data, tmp_path):
    """A checkpoint of a 2-worker run resumed by a plain ``python train.py --resume=auto`` (no launcher, no
    --run_distribute) is refused in one line saying how to resume it, instead of continuing silently on one device
    with the distributed LR and data order; with --run_distribute=False --allow_changes=True it continues on one
    device, saying so."""
    from src.checkpoint import read_checkpoint, save_checkpoint
    out = tmp_path / "dp_copy"
    os.makedirs(out / "ckpt_0")
    params, meta = read_checkpoint(small_run["ckpt2"])
    stored = dict(meta["config"], run_distribute=True, device_num=2)
    ckpt = out / "ckpt_0" / "faster_rcnn-1_2.ckpt"
    save_checkpoint(str(ckpt), [{"name": k, "data": v} for k, v in params.items()], stored, step=2, epoch=1)
    base = ["train.py", f"--save_checkpoint_path={out}", "--resume=auto", f"--data_path={mini_data}", "--steps=2"]
    r = run_script(base, cwd=MODEL_DIR, timeout=300)
    assert r.returncode == 2, r.stdout[-2000:]
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("train.py: error: ") and str(ckpt) in err[0], err
    assert "a data-parallel run on 2 devices" in err[0] and "msrun --worker_num=2" in err[0]
    r = run_script(base + ["--run_distribute=False", "--allow_changes=True"], cwd=MODEL_DIR, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resume: run_distribute changed from True to False" in r.stdout
    assert "resume: devices changed from 2 to 1" in r.stdout
    assert "nothing to do: the checkpoint is at step 2, the run ends at step 2" in r.stdout


def test_msrun_two_workers_on_cpu(mini_data, tmp_path, free_port):
    """One data-parallel step on 2 CPU workers: both ranks train on their shards and stay identical."""
    out = tmp_path / "dp"
    args = ["-m", "mindspore.parallel.cluster.run", "--worker_num=2", "--local_worker_num=2",
            f"--master_port={free_port}", f"--log_dir={out}/msrun_log", "--join=True",
            os.path.join(MODEL_DIR, "train.py"), f"--config_path={FACE_YAML}", f"--data_path={mini_data}",
            f"--save_checkpoint_path={out}", "--steps=1", "--run_distribute=True", "--num_parallel_workers=1",
            "--python_multiprocessing=False", *SMALL_FLAGS]
    r = run_script(args, cwd=str(tmp_path), timeout=900)
    logs = {n: open(out / "msrun_log" / n).read() for n in os.listdir(out / "msrun_log")}
    assert r.returncode == 0, "\n".join(v[-2000:] for v in logs.values())
    log0 = read_step_log(out / "train_log.jsonl")
    assert len(log0) == 1 and np.isfinite(log0[0]["loss"])
    assert "batch 2 x 2 device(s)" in logs["worker_0.log"] and "16 steps/epoch" in logs["worker_0.log"]
    assert "used as is (distributed)" in logs["worker_0.log"]
    a, _ = _tensors(out / "ckpt_0" / "faster_rcnn-1_1.ckpt")
    b, _ = _tensors(out / "ckpt_1" / "faster_rcnn-1_1.ckpt")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    losses = [float(v.split("total_loss: ")[1].split(",")[0]) for v in
              (open(out / "loss_0.log").read(), open(out / "loss_1.log").read())]
    assert losses[0] != losses[1]                       # different shards, one averaged update


def _tiny_wider(mini_data, out, n=4):
    """A WIDER FACE layout whose train and val splits are the same ``n`` mini-set images (every face kept in every
    setting), for an epoch of n / 2 steps."""
    from widerface_eval import read_split_file, write_ground_truth, write_split_file
    entries = [e for e in read_split_file(os.path.join(mini_data, "wider_face_split", "wider_face_train_bbx_gt.txt"))
               if len(e.boxes)][:n]
    os.makedirs(out / "wider_face_split")
    for split in ("train", "val"):
        for e in entries:
            dst = out / f"WIDER_{split}" / "images" / e.name
            os.makedirs(dst.parent, exist_ok=True)
            shutil.copyfile(os.path.join(mini_data, "WIDER_train", "images", e.name), dst)
        write_split_file(str(out / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt"), entries)
    events = sorted({e.event for e in entries})
    files = [[os.path.splitext(os.path.basename(e.name))[0] for e in entries if e.event == ev] for ev in events]
    boxes = [[e.boxes for e in entries if e.event == ev] for ev in events]
    keep = {s: [[np.arange(1, len(e.boxes) + 1) for e in entries if e.event == ev] for ev in events]
            for s in ("easy", "medium", "hard")}
    write_ground_truth(str(out / "ground_truth"), events, files, boxes, keep)
    return out


def test_eval_callback_keeps_the_best_checkpoint(mini_data, tmp_path):
    data = _tiny_wider(mini_data, tmp_path / "tiny")
    out = tmp_path / "run"
    r = run_script(["train.py", f"--config_path={FACE_YAML}", f"--data_path={data}", f"--save_checkpoint_path={out}",
                    "--epoch_size=1", "--run_eval=True", "--num_parallel_workers=1", "--python_multiprocessing=False",
                    *SMALL_FLAGS], cwd=MODEL_DIR, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "epoch 1: evaluation result" in r.stdout and "update best result" in r.stdout
    best, meta = _tensors(out / "best_ckpt" / "best.ckpt")
    last, _ = _tensors(out / "ckpt_0" / "faster_rcnn-1_2.ckpt")
    assert meta["step"] == 2 and meta["epoch"] == 1
    for k in last:
        np.testing.assert_array_equal(best[k], last[k], err_msg=k)
    assert len(os.listdir(out / "eval_epoch1" / "predictions")) >= 1
    best_json = json.load(open(out / "best_ckpt" / "best.json"))
    assert best_json["epoch"] == 1 and best_json["step"] == 2
    assert "epoch 1: evaluation result %.4f" % best_json["metric"] in r.stdout


def test_eval_callback_resumed_keeps_the_best_of_the_run(tmp_path, monkeypatch):
    """A resumed run starts from the best metric of best_ckpt/best.json: a worse evaluation after the resume does
    not replace best.ckpt, a better one does (evaluation and saving stubbed: the bookkeeping only)."""
    import types
    import src.eval_callback as ec
    import src.inference
    from src.fileio import write_json_atomic
    results, saved = [], []
    monkeypatch.setattr(ec, "evaluate", lambda *a, **k: (results.pop(0), None))
    monkeypatch.setattr(ec, "save_checkpoint", lambda path, *a, **k: saved.append((path, k["epoch"])))
    monkeypatch.setattr(src.inference, "Predictor", lambda **k: types.SimpleNamespace(load_weights=lambda p: None))
    cfg = types.SimpleNamespace(interval=1, epoch_size=10, to_dict=dict)
    net = types.SimpleNamespace(get_parameters=lambda: [])
    os.makedirs(tmp_path / "best_ckpt")
    (tmp_path / "best_ckpt" / "best.ckpt").write_bytes(b"best of epochs 1-2")
    write_json_atomic(tmp_path / "best_ckpt" / "best.json", {"metric": 0.5, "epoch": 2, "step": 20})
    cb = ec.EvalCallBack(cfg, net, start_step=20, steps_per_epoch=10, out_dir=str(tmp_path))
    assert (cb.best_res, cb.best_epoch) == (0.5, 2)
    results[:] = [0.4, 0.6]
    cb.evaluate(3, None)
    assert saved == [] and cb.best_res == 0.5
    cb.evaluate(4, None)
    assert saved == [(str(tmp_path / "best_ckpt" / "best.ckpt"), 4)]
    assert json.load(open(tmp_path / "best_ckpt" / "best.json"))["metric"] == 0.6
    fresh = ec.EvalCallBack(cfg, net, start_step=0, steps_per_epoch=10, out_dir=str(tmp_path))
    assert fresh.best_res == float("-inf")
