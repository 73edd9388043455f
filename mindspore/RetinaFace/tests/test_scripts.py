"""End to end: training with global steps and exact resume, 2-worker msrun, eval.py, export.py + GraphCell, demo.py,
and the one-line errors of the entry points."""
import glob
import json
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import MODEL_DIR
from zoo_fixtures import run_script
from src.errors import run_cli

SMALL = ["--device_target=CPU", "--image_size=160", "--num_workers=1"]


def _log(folder):
    from src.fileio import read_step_log
    return read_step_log(os.path.join(folder, "train_log.jsonl"))


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory, shared_dir):
    """The three real photos of pseudo_gt.json as a training set: with batch 1, 3 steps per epoch."""
    import cv2
    data = tmp_path_factory.mktemp("tiny")
    img_dir = data / "train" / "images" / "ev"
    img_dir.mkdir(parents=True)
    with open(os.path.join(shared_dir, "data", "real_photos", "pseudo_gt.json"), encoding="utf-8") as f:
        gt = json.load(f)
    lines = []
    for name, info in gt["images"].items():
        stem = os.path.splitext(name)[0]
        cv2.imwrite(str(img_dir / f"{stem}.jpg"), cv2.imread(os.path.join(shared_dir, "data", "real_photos", name)))
        lines.append(f"# ev/{stem}.jpg")
        for face in info["faces"]:
            x1, y1, x2, y2 = face["box"]
            lm = " ".join(f"{x} {y} 0.0" for x, y in face["landmarks"])
            lines.append(f"{x1} {y1} {x2 - x1} {y2 - y1} {lm} 0.9")
    (data / "train" / "label.txt").write_text("\n".join(lines) + "\n")
    return data


def test_global_steps_and_exact_resume_mid_epoch(tiny_data, tmp_path):
    """3 images, batch 1: 3 steps per epoch. 7 uninterrupted steps == 4 steps, then ``--resume=auto --steps=7``
    (the last global step): bit-identical losses, one train_log.jsonl numbered 1..7, checkpoint names with the
    global step, keep-2 over the whole folder (issue 13 #7), the per-step time of an epoch cut short, the temp file
    of a save cut short by kill -9 removed."""
    common = [f"--data_path={tiny_data}", "--backbone=mobilenet0.25", "--batch_size=1", "--epoch=3",
              "--save_checkpoint_steps=2", "--keep_checkpoint_max=2"] + SMALL
    with ThreadPoolExecutor(2) as pool:                          # the two fresh runs side by side (2 processes)
        a, b = pool.map(lambda args: run_script(["train.py"] + args + common, cwd=MODEL_DIR),
                        [["--steps=7", f"--output_path={tmp_path / 'a'}"],
                         ["--steps=4", f"--output_path={tmp_path / 'b'}"]])
    assert a.returncode == 0, a.stderr[-3000:]
    assert b.returncode == 0, b.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "b")) == ["model_info.json", "retinaface_step2.ckpt",
                                                  "retinaface_step4.ckpt", "train_log.jsonl"]
    # the epoch cut short after 1 of its 3 steps: per step time = epoch time / 1
    epoch_lines = re.findall(r"epoch time: ([\d.]+) ms, per step time: ([\d.]+) ms", b.stdout)
    assert len(epoch_lines) == 2
    assert float(epoch_lines[0][1]) == pytest.approx(float(epoch_lines[0][0]) / 3, abs=0.01)
    assert float(epoch_lines[1][1]) == pytest.approx(float(epoch_lines[1][0]) / 1, abs=0.01)
    (tmp_path / "b" / ".tmp_k1ll3d.ckpt").write_bytes(b"half a checkpoint")    # a save cut short by kill -9
    c = run_script(["train.py", "--resume=auto", "--steps=7", f"--output_path={tmp_path / 'b'}"] + common,
                   cwd=MODEL_DIR)
    assert c.returncode == 0, c.stderr[-3000:]
    assert f"Resume from [{tmp_path / 'b' / 'retinaface_step4.ckpt'}] at step 4." in c.stdout
    assert "steps 4->7" in c.stdout
    assert f"removed {tmp_path / 'b' / '.tmp_k1ll3d.ckpt'}: a checkpoint save that an interrupted run" in c.stdout
    # the reference's LossMonitor line (step within the epoch) with the global step
    assert re.search(r"^epoch: 2 step: 2, loss is [\d.]+ \(global step 5, lr [\d.e-]+, [\d.]+ s\)$", c.stdout, re.M)
    assert re.search(r"^epoch: 3 step: 1, loss is [\d.]+ \(global step 7, ", c.stdout, re.M)
    full, resumed = _log(tmp_path / "a"), _log(tmp_path / "b")
    assert [r["step"] for r in resumed] == [r["step"] for r in full] == list(range(1, 8))
    assert [r["loss"] for r in resumed] == [r["loss"] for r in full]      # same data, augmentation, SGD state, LR
    assert [r["lr"] for r in resumed] == [r["lr"] for r in full]
    assert sorted(os.listdir(tmp_path / "b")) == ["model_info.json", "retinaface_step6.ckpt",
                                                  "retinaface_step7.ckpt", "train_log.jsonl"]
    from src.checkpoint import device_num, global_step, load
    params, cfg, extras = load(str(tmp_path / "b" / "retinaface_step7.ckpt"))
    assert global_step(params) == 7 and cfg["backbone"] == "mobilenet0.25" and cfg["batch_size"] == 1
    assert device_num(extras) == 1
    a_params, _, _ = load(str(tmp_path / "a" / "retinaface_step7.ckpt"))
    assert all(np.array_equal(params[k].asnumpy(), a_params[k].asnumpy()) for k in a_params)
    with open(tmp_path / "b" / "model_info.json") as f:
        info = json.load(f)
    assert info["params"] == 426_608 and info["anchors"] == 1050 and info["anchors_input_hw"] == [160, 160]
    assert info["config"]["image_size"] == 160 and info["framework"] == "mindspore"


def test_resume_restores_the_settings_and_refuses_a_changed_flag(tiny_data, tmp_path, capsys):
    """What ``--resume`` reads from the checkpoint; a flag that contradicts it is one line unless --allow_changes
    (checked in-process up to the configuration: no training)."""
    import train
    from src.checkpoint import save
    from src.config import get_config
    cfg = get_config("mobilenet0.25", batch_size=1, image_size=160, epoch=3)
    import mindspore as ms
    save({"global_step": ms.Parameter(ms.Tensor([4], ms.int32))}, str(tmp_path / "retinaface_step4.ckpt"), cfg)
    args = train.parse_args([f"--data_path={tiny_data}", "--resume=auto", "--num_workers=3"])
    got, resume, _, _ = train.build_config(args, str(tmp_path))
    assert resume == str(tmp_path / "retinaface_step4.ckpt")
    assert (got["backbone"], got["batch_size"], got["image_size"], got["epoch"]) == ("mobilenet0.25", 1, 160, 3)
    assert got["num_workers"] == 3                                  # a run setting: may change freely
    argv = [f"--data_path={tiny_data}", "--resume=auto", "--batch_size=2", f"--output_path={tmp_path}"]
    assert run_cli(train.main, "train.py", argv + ["--device_target=CPU"]) == 2
    assert capsys.readouterr().err == (f"train.py: error: --batch_size=2 differs from the resumed run's 1 "
                                       f"({tmp_path / 'retinaface_step4.ckpt'}); pass --allow_changes to change it\n")
    got, _, _, _ = train.build_config(train.parse_args(argv + ["--allow_changes"]), str(tmp_path))
    assert got["batch_size"] == 2 and "--allow_changes: batch_size 1 -> 2" in capsys.readouterr().out
    # a new run into a folder that holds one is refused (its checkpoints would mix with the new run's)
    assert run_cli(train.main, "train.py", [f"--data_path={tiny_data}", f"--output_path={tmp_path}",
                                            "--device_target=CPU"]) == 2
    assert "the output folder already holds a run; continue it with --resume=auto" in capsys.readouterr().err


def test_resume_on_another_number_of_devices_is_refused(tiny_data, tmp_path, capsys):
    """A checkpoint stores its run's data-parallel width: resuming a 2-worker run in one process (other steps per
    epoch, data order and schedule) is one line unless --allow_changes; checkpoints that predate it still resume."""
    import mindspore as ms
    import train
    from src.checkpoint import DEVICE_NUM_KEY, save
    from src.config import get_config
    from src.errors import ConfigError
    cfg = get_config("mobilenet0.25", batch_size=1, image_size=160, epoch=3)
    ckpt = str(tmp_path / "retinaface_step4.ckpt")
    save({"global_step": ms.Parameter(ms.Tensor([4], ms.int32))}, ckpt, cfg, extra={DEVICE_NUM_KEY: "2"})
    args = [f"--data_path={tiny_data}", "--resume=auto"]
    assert train.build_config(train.parse_args(args), str(tmp_path), device_num=2)[1] == ckpt
    with pytest.raises(ConfigError) as e:
        train.build_config(train.parse_args(args), str(tmp_path), device_num=1)
    assert str(e.value) == (f"{ckpt}: the run trained on 2 device(s), this launch has 1: its data order and "
                            f"schedule would change; launch 2 worker(s) or pass --allow_changes")
    capsys.readouterr()
    assert train.build_config(train.parse_args(args + ["--allow_changes"]), str(tmp_path), device_num=1)[1] == ckpt
    assert "--allow_changes: devices 2 -> 1" in capsys.readouterr().out
    save({"global_step": ms.Parameter(ms.Tensor([5], ms.int32))}, str(tmp_path / "retinaface_step5.ckpt"), cfg)
    assert train.build_config(train.parse_args(args), str(tmp_path), device_num=1)[1].endswith("step5.ckpt")


def test_msrun_two_workers_data_parallel(mini_data, tmp_path, free_port):
    if shutil.which("msrun", path=os.path.dirname(sys.executable)) is None:
        pytest.fail("msrun is not installed next to the interpreter (MindSpore's launcher)")
    r = run_script(["-m", "mindspore.parallel.cluster.run", "--worker_num=2", "--local_worker_num=2",
                    f"--master_port={free_port}", f"--log_dir={tmp_path / 'log'}", "--join=True", "train.py",
                    f"--data_path={mini_data}", "--is_distributed", "--backbone=mobilenet0.25", "--batch_size=2",
                    "--steps=2", f"--output_path={tmp_path / 'out'}"] + SMALL,
                   cwd=MODEL_DIR, timeout=300,
                   env={"MS_NODE_TIMEOUT": "240", "MS_RECEIVE_MSG_TIMEOUT": "240", "MS_CPU_COMM_OP_TIMEOUT": "240"})
    logs = {rank: open(tmp_path / "log" / f"worker_{rank}.log").read() for rank in (0, 1)}
    assert r.returncode == 0, r.stderr[-2000:] + logs[0][-2000:] + logs[1][-2000:]
    assert "batch 2 x 2 device(s)" in logs[0]
    digests = {rank: re.search(r"rank \d: weights digest (\w+), batch-norm statistics digest (\w+)", logs[rank])
               for rank in (0, 1)}
    # each rank saw different images, yet the weights stay identical: the gradients were all-reduced
    assert digests[0].group(1) == digests[1].group(1)
    assert digests[0].group(2) != digests[1].group(2)
    # rank 0 writes the run: 2 global steps, 4 images per step
    assert [rec["step"] for rec in _log(tmp_path / "out")] == [1, 2]
    assert sorted(os.listdir(tmp_path / "out")) == ["model_info.json", "retinaface_step2.ckpt", "train_log.jsonl"]
    from src.checkpoint import device_num, load
    assert device_num(load(str(tmp_path / "out" / "retinaface_step2.ckpt"))[2]) == 2
    assert "4 images/step" in logs[0]


def test_eval_writes_predictions_and_scores(mini_data, mnet_ckpt, tmp_path, capsys):
    import eval as evaluation
    assert evaluation.main([f"--data_path={mini_data}", f"--checkpoint={mnet_ckpt}", "--device_target=CPU",
                            f"--output_path={tmp_path}", "--target_size=480", "--max_size=640"]) == 0
    pred = tmp_path / "predictions"
    assert len(glob.glob(str(pred / "*" / "*.txt"))) == 32
    assert "Easy   Val AP :" in capsys.readouterr().out
    with open(tmp_path / "eval_result.json", encoding="utf-8") as f:
        res = json.load(f)
    ap = res["aps"]
    assert ap["easy"] > 0.8 and ap["medium"] > 0.75 and 0.3 < ap["hard"] <= ap["medium"]
    assert res["images"] == 32 and res["protocol"]["max_size"] == 640
    assert len(res["curves"]["hard"]["precision"]) == len(res["curves"]["hard"]["recall"]) > 0
    one = sorted(glob.glob(str(pred / "*" / "*.txt")))[0]
    lines = open(one).read().splitlines()
    assert lines[0] == os.path.basename(one)[:-4] + ".jpg" and int(lines[1]) == len(lines) - 2
    x, y, w, h, s = (float(v) for v in lines[2].split())
    assert x == int(x) and y == int(y) and w == int(w) and h == int(h)        # reference int truncation


def test_eval_replaces_old_predictions_and_rejects_a_truncated_image(mini_data, mnet_ckpt, tmp_path, shared_dir,
                                                                     capsys):
    import eval as evaluation
    pred = tmp_path / "predictions"
    (pred / "0--Parade").mkdir(parents=True)
    stale = pred / "0--Parade" / "stale_image.txt"
    stale.write_text("stale_image.jpg\n1\n1 1 50 50 0.99\n")
    args = [f"--checkpoint={mnet_ckpt}", "--device_target=CPU", f"--output_path={tmp_path}", "--no_eval",
            "--target_size=160", "--max_size=320"]
    assert evaluation.main(args + [f"--data_path={mini_data}", "--max_images=2"]) == 0
    files = sorted(glob.glob(str(pred / "*" / "*.txt")))
    assert len(files) == 2 and str(stale) not in files            # an earlier run's files never reach the AP
    assert sorted(os.listdir(tmp_path)) == ["predictions"]        # no temp folder left behind
    # a val image cut short (issue 13 #1): one line naming it, exit 2, the earlier predictions kept
    val = tmp_path / "bad" / "val"
    (val / "images" / "ev").mkdir(parents=True)
    data = open(os.path.join(shared_dir, "data", "real_photos", "obama.jpg"), "rb").read()
    (val / "images" / "ev" / "a.jpg").write_bytes(data[:len(data) // 2])
    (val / "label.txt").write_text("# ev/a.jpg\n10 10 50 50\n")
    capsys.readouterr()
    assert run_cli(evaluation.main, "eval.py", args + [f"--data_path={tmp_path / 'bad'}"]) == 2
    assert capsys.readouterr().err == (f"eval.py: error: {val / 'images' / 'ev' / 'a.jpg'}: truncated JPEG (no "
                                       f"end-of-image marker after the last scan): the file does not decode "
                                       f"completely\n")
    assert sorted(glob.glob(str(pred / "*" / "*.txt"))) == files


def test_export_mindir_graphcell_parity(mnet_ckpt, tmp_path, capsys):
    import export
    assert export.main([f"--checkpoint={mnet_ckpt}", f"--file_name={tmp_path / 'rf'}", "--height=96",
                        "--width=128"]) == 0
    assert (tmp_path / "rf.mindir").is_file() and sorted(os.listdir(tmp_path)) == ["rf.mindir"]
    assert "GraphCell vs network max |diff|" in capsys.readouterr().out


def test_export_resnet50_mindir_in_process(tmp_path):
    from export import check_mindir, export_model
    from src.config import get_config
    from src.network import RetinaFace
    net = RetinaFace(get_config("resnet50"), phase="predict")
    net.set_train(False)
    path, x = export_model(net, str(tmp_path / "r50"), "MINDIR", (1, 3, 64, 96))
    assert max(check_mindir(net, path, x)) <= 1e-4


def test_demo_json_and_image(shared_dir, mnet_ckpt, tmp_path):
    import demo
    img = os.path.join(shared_dir, "data", "real_photos", "grace_hopper.jpg")
    assert demo.main(["--image", img, "--checkpoint", mnet_ckpt, "--output", str(tmp_path / "o.jpg"),
                      "--json", str(tmp_path / "o.json"), "--device", "cpu"]) == 0
    dets = json.load(open(tmp_path / "o.json"))
    assert len(dets) == 1 and set(dets[0]) == {"box", "score", "landmarks"} and len(dets[0]["landmarks"]) == 5
    np.testing.assert_allclose(dets[0]["box"], [177.37, 107.94, 352.13, 333.64], atol=0.05)
    assert (tmp_path / "o.jpg").stat().st_size > 1000


def test_malformed_label_and_truncated_training_image(tmp_path, shared_dir, capsys):
    import cv2
    import train
    d = tmp_path / "d" / "train"
    (d / "images" / "ev").mkdir(parents=True)
    cv2.imwrite(str(d / "images" / "ev" / "a.jpg"), np.full((64, 64, 3), 100, np.uint8))
    (d / "label.txt").write_text("# ev/a.jpg\n1 2 3 4 5\n")
    assert run_cli(train.main, "train.py", [f"--data_path={tmp_path / 'd'}", "--device_target=CPU",
                                            f"--output_path={tmp_path / 'ck'}"]) == 2
    assert capsys.readouterr().err == (f"train.py: error: {d / 'label.txt'}:2: expected 4 or 20 numbers (x y w h, 5 "
                                       f"landmark triples, 1 trailing value), got 5\n")
    # a training image cut short (issue 13 #1), read by a MindSpore map worker process
    (d / "label.txt").write_text("# ev/a.jpg\n300 50 350 400\n")
    data = open(os.path.join(shared_dir, "data", "real_photos", "obama.jpg"), "rb").read()
    (d / "images" / "ev" / "a.jpg").write_bytes(data[:len(data) // 2])
    r = run_script(["train.py", f"--data_path={tmp_path / 'd'}", "--batch_size=1", "--steps=1",
                    "--backbone=mobilenet0.25", f"--output_path={tmp_path / 'ck'}"] + SMALL, cwd=MODEL_DIR)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (f"train.py: error: {d / 'images' / 'ev' / 'a.jpg'}: truncated JPEG "
                                                 f"(no end-of-image marker after the last scan): the file does not "
                                                 f"decode completely")
    assert not glob.glob(str(tmp_path / "ck" / "*.ckpt"))


@pytest.mark.parametrize("entry, argv, device", [
    ("train", ["--data_path={mini}", "--device_target=Ascend"], "Ascend"),
    ("demo", ["--image={photo}", "--checkpoint={ckpt}", "--device", "gpu"], "GPU"),
    ("modelarts_entry", ["--data_url={mini}", "--train_url={tmp}"], "Ascend")])     # its default device
def test_missing_device_is_one_line(entry, argv, device, mini_data, mnet_ckpt, shared_dir, tmp_path, capsys):
    """issue 13 #2: asking for a device that is not there names it and what was found; exit 2, no C++ stack."""
    import importlib
    import mindspore as ms
    main = importlib.import_module(entry).main
    photo = os.path.join(shared_dir, "data", "real_photos", "obama.jpg")
    argv = [a.format(mini=mini_data, photo=photo, ckpt=mnet_ckpt, tmp=tmp_path) for a in argv]
    assert run_cli(main, f"{entry}.py", argv) == 2
    assert capsys.readouterr().err == (f"{entry}.py: error: device {device} was asked for, but this MindSpore "
                                       f"{ms.__version__} has no {device} backend (found: CPU)\n")


def test_released_pth_as_checkpoint_suggests_the_converter(release_pth, tmp_path, capsys):
    import demo
    assert run_cli(demo.main, "demo.py", ["--image", release_pth, "--checkpoint", release_pth]) == 2
    assert "not a complete image" in capsys.readouterr().err        # the image is checked first
    photo = os.path.join(os.path.dirname(release_pth), "..", "..", "data", "real_photos", "obama.jpg")
    assert run_cli(demo.main, "demo.py", ["--image", photo, "--checkpoint", release_pth]) == 2
    assert capsys.readouterr().err == (f"demo.py: error: {release_pth}: a PyTorch weight file, not a MindSpore "
                                       f"checkpoint of this folder; convert it with python tools/convert_official.py "
                                       f"--src {release_pth} --dst retinaface_mnet025.ckpt\n")


def test_resnet50_training_steps_in_process(mini_data):
    """The ResNet50 training graph (the reference's network; the scripts above train the MobileNet0.25 for speed):
    two SGD steps of train.py's cells on a real batch of the pipeline, finite losses in the range of an untrained
    network, the weights and the step counter moved."""
    import mindspore as ms
    import train
    from src.config import get_config
    from src.dataset import create_dataset, training_entries
    from src.network import TrainingWrapper
    cfg = get_config("resnet50", image_size=160, batch_size=2)
    ms.set_seed(cfg["seed"])
    entries = training_entries(os.path.join(mini_data, "train"), 2)
    ds, sampler = create_dataset(entries, cfg, num_workers=1, python_multiprocessing=False)
    net, loss_net = train.build_network(cfg)
    opt, lrs = train.build_optimizer(cfg, net, sampler.steps_per_epoch)
    step = TrainingWrapper(loss_net, opt, grad_clip=cfg["grad_clip"])
    step.set_train()
    w0 = net.body.conv1.weight.asnumpy().copy()
    losses = []
    for _, batch in zip(range(2), ds.create_dict_iterator(num_epochs=1, output_numpy=True)):
        losses.append(float(step(*(ms.Tensor(batch[k]) for k in ("image", "truths", "conf", "landm"))).asnumpy()))
    assert len(losses) == 2 and all(5 < v < 100 for v in losses), losses
    assert not np.array_equal(net.body.conv1.weight.asnumpy(), w0)
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == 2 and lrs[0] == pytest.approx(0.01 / 3)
