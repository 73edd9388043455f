"""train.py: the run files, exact resume with global steps, the resume rules (settings restored, a differing flag
refused unless --allow_changes, --resume auto required to continue), and its one-line errors."""
import json
import os

import numpy as np
import pytest

from conftest import TRAIN_ARGS, read_log, run_main


def _args(shards, out, steps, *extra):
    return ["--data_path", shards, "--output_path", out, "--batch_size", "4", "--steps", str(steps)] + TRAIN_ARGS + \
        list(extra)


@pytest.fixture(scope="module")
def resumed_run(mini_shards, tmp_path_factory, reference_run):
    """The reference run as if killed after its step-2 checkpoint (its records of step 3 and a torn line logged),
    resumed to step 4 with --allow_changes keeping the last 3 checkpoints of the folder."""
    import shutil

    from src.errors import run_cli
    import train

    out = str(tmp_path_factory.mktemp("resumed_run"))
    for name in os.listdir(reference_run):
        if name.startswith(("model.ckpt-1.", "model.ckpt-2.", "model_info")):
            shutil.copy(os.path.join(reference_run, name), out)
    first = sorted(os.listdir(out))
    with open(os.path.join(out, "train_log.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in read_log(reference_run)[:3])
        f.write('{"step": 4, "lo')
    keep3 = os.path.join(out, "..", "keep3.json")
    with open(keep3, "w") as f:
        json.dump({"model_params": {"keep_checkpoint_max": 3}}, f)
    assert run_cli(train.main, "train.py", ["--data_path", mini_shards, "--output_path", out, "--steps", "4",
                                            "--resume", "auto", "--config", keep3, "--allow_changes"]) == 0
    return out, first


def test_run_files_and_global_steps(reference_run):
    from src.config import num_anchors

    log = read_log(reference_run)
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert all(np.isfinite(r["loss"]) and r["loss"] > 0 and r["sec"] > 0 for r in log)
    assert all(r["loss"] == pytest.approx(r["loc"] + r["cls"] + r["reg"], rel=1e-6) for r in log)
    assert log[-1]["lr"] == pytest.approx(0.004)
    info = json.load(open(os.path.join(reference_run, "model_info.json")))
    assert (info["model"], info["framework"], info["params"]) == ("FaceBoxes", "tensorflow", 1007330)
    # anchors at the run's training size: 4x4 cells x 21 + 2x2 + 1x1
    assert info["anchors_input_hw"] == [128, 128] and info["anchors"] == 4 * 4 * 21 + 4 + 1 == num_anchors(128, 128)
    assert info["config"]["input_pipeline_params"]["batch_size"] == 4
    names = sorted(f for f in os.listdir(reference_run) if f.endswith(".index"))
    assert names == ["model.ckpt-%d.index" % i for i in range(1, 5)]


def test_exact_resume_global_steps_and_keep_last(resumed_run, reference_run):
    """2 + 2 resumed steps equal 4 uninterrupted ones (weights, BN statistics, momentum, losses); the step log has
    every global step once (the killed run's records after the checkpoint are dropped); "keep the last 3" counts the
    checkpoints of the first run too."""
    from src.tf_compat import tf

    out, first = resumed_run
    assert [f for f in first if f.endswith(".index")] == ["model.ckpt-1.index", "model.ckpt-2.index"]
    log = read_log(out)
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert sorted(f for f in os.listdir(out) if f.endswith(".index")) == \
        ["model.ckpt-2.index", "model.ckpt-3.index", "model.ckpt-4.index"]
    part4, ref4 = os.path.join(out, "model.ckpt-4"), os.path.join(reference_run, "model.ckpt-4")
    assert tf.train.load_variable(part4, "global_step") == 4
    for name in ("conv1/weights", "conv1/batch_norm/moving_mean", "conv2/weights/Momentum",
                 "prediction_layers/class_predictor_0/biases"):
        np.testing.assert_allclose(tf.train.load_variable(part4, name), tf.train.load_variable(ref4, name),
                                   rtol=1e-4, atol=1e-6)
    assert [r["loss"] for r in log] == pytest.approx([r["loss"] for r in read_log(reference_run)], rel=1e-4)


def test_resume_rules(resumed_run, mini_shards, tmp_path, capsys):
    out, _ = resumed_run
    base = ["--data_path", mini_shards, "--output_path", out]
    # a new run into a folder that holds one: refused, nothing touched
    before = sorted(os.listdir(out))
    r = run_main("train", base + ["--steps", "6"], capsys)
    assert r.returncode == 2 and r.stderr == "train.py: error: %s already holds the checkpoints of a run (latest: " \
        "step 4): pass --resume auto to continue it, or give another --output_path\n" % out
    # the run's own settings come back; an explicit flag that differs is refused, naming the flag and both values
    r = run_main("train", base + ["--steps", "6", "--resume", "auto", "--batch_size", "2"], capsys)
    assert r.returncode == 2 and r.stderr == "train.py: error: --batch_size=2 asks for input_pipeline_params." \
        "batch_size = 2, the resumed run (%s/model.ckpt-4) has 4: pass --allow_changes to change it\n" % out
    r = run_main("train", base + ["--steps", "4", "--resume", "auto", "--batch_size", "2", "--allow_changes"], capsys)
    assert r.returncode == 0 and "changing the resumed run's settings: --batch_size=2 asks for" in r.stdout
    assert "already at step 4 >= 4: nothing to train" in r.stdout
    # a flag equal to the run's setting is no change
    r = run_main("train", base + ["--steps", "4", "--resume", "auto", "--image_size", "128"], capsys)
    assert r.returncode == 0 and "nothing to train" in r.stdout
    # an older checkpoint of the folder would mix two runs in it
    r = run_main("train", base + ["--steps", "6", "--resume", os.path.join(out, "model.ckpt-3")], capsys)
    assert r.returncode == 2 and "already holds the checkpoints of a run up to step 4" in r.stderr
    # another architecture is never a resumable change
    other = tmp_path / "pytorch.json"
    other.write_text(json.dumps({"architecture": {"preset": "pytorch"}}))
    r = run_main("train", base + ["--steps", "6", "--resume", "auto", "--config", str(other), "--allow_changes"],
                 capsys)
    assert r.returncode == 2 and r.stderr.startswith("train.py: error: %s/model.ckpt-4: the resumed run was trained "
                                                     "with architecture" % out)
    r = run_main("train", base + ["--resume", "auto", "--checkpoint", os.path.join(out, "model.ckpt-4")], capsys)
    assert r.returncode == 2 and "give one of them" in r.stderr
    assert sorted(os.listdir(out)) == before


def test_checkpoint_starts_a_new_run_with_its_architecture(converted_ckpt, mini_shards, tmp_path):
    """--checkpoint (fine-tuning the converted release) takes the checkpoint's architecture unless a --config says
    otherwise; a released .pth is pointed to tools/convert_official.py."""
    import train
    from src.config import model_config
    from src.errors import CheckpointError

    args = train.parse_args(["--data_path", mini_shards, "--output_path", str(tmp_path / "ft"), "--checkpoint",
                             converted_ckpt])
    cfg, start, resume_from, init_from = train.resolve_run(args, 1)
    assert cfg["architecture"] == model_config("pytorch") and (start, resume_from, init_from) == (0, None,
                                                                                                  converted_ckpt)
    tropcomplique = tmp_path / "trop.json"
    tropcomplique.write_text(json.dumps({"architecture": {"preset": "tropcomplique"}}))
    args.config = str(tropcomplique)
    with pytest.raises(CheckpointError, match="--checkpoint was trained with architecture"):
        train.resolve_run(args, 1)


def test_nan_loss_is_a_one_line_error(mini_shards, tmp_path, capsys):
    r = run_main("train", _args(mini_shards, str(tmp_path / "m"), 8, "--lr_scale", "1e8"), capsys)
    assert r.returncode == 2 and r.stderr.startswith("train.py: error: training loss became NaN at step ")
    assert "learning rate 400000" in r.stderr and r.stderr.count("\n") == 1


def test_corrupt_record_in_shards_names_the_record(tmp_path, capsys):
    from src.preparedata.create_tfrecords import make_example
    from src.tf_compat import tf

    shard = tmp_path / "shard-0000.tfrecords"
    with tf.io.TFRecordWriter(str(shard)) as w:
        for i in range(2):
            w.write(make_example("ev/bad%d.jpg" % i, b"\xff\xd8garbage", [(0.1, 0.1, 0.5, 0.5)]).SerializeToString())
    r = run_main("train", ["--data_path", str(tmp_path), "--output_path", str(tmp_path / "m"), "--steps", "1",
                           "--batch_size", "2", "--image_size", "128", "--shuffle_buffer_size", "2"], capsys)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("train.py: error: %s: record 0 (ev/bad0.jpg): undecodable image (truncated JPEG" % shard)


@pytest.mark.parametrize("argv,message", [
    (["--output_path", "/tmp/x"], "--data_path is required (a folder with *.tfrecords shards, or a WIDER FACE root's "
                                  "train_shards/)"),
    (["--data_path", "/nonexistent_dir", "--output_path", "/tmp/x"], "/nonexistent_dir: data path is not a directory"),
    (["--data_path", "{tmp}", "--output_path", "{tmp}/m"], "{tmp}: no *.tfrecords shards found (in it or in its "
                                                           "train_shards/); create them with python -m "
                                                           "src.preparedata.create_tfrecords"),
    (["--data_path", "{shards}", "--output_path", "{tmp}/m", "--device", "npu"],
     "--device npu: the Ascend TF adapter (npu_bridge) is not installed; found a CPU only"),
    (["--data_path", "{shards}", "--output_path", "{tmp}/m", "--device", "gpu"],
     "--device gpu: no GPU visible to TensorFlow (found CPU:0, and this TensorFlow build has no CUDA support; "
     "CUDA_VISIBLE_DEVICES=unset)"),
    (["--data_path", "{shards}", "--output_path", "{tmp}/m", "--checkpoint", "{pth}"],
     "{pth} is a PyTorch weight file (the released FaceBoxesProd.pth?), not a checkpoint of this folder: convert it "
     "with python tools/convert_official.py --src {pth} --dst pretrained/faceboxes_prod.ckpt and pass that"),
    (["--data_path", "{shards}", "--output_path", "{tmp}/m", "--batch_size", "0"],
     "the flags: input_pipeline_params.batch_size = 0 must be >= 1"),
])
def test_cli_errors_are_one_line(argv, message, mini_shards, shared_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    subst = {"tmp": str(tmp_path), "shards": mini_shards,
             "pth": os.path.join(shared_dir, "weights", "faceboxes", "FaceBoxesProd.pth")}
    r = run_main("train", [a.format(**subst) for a in argv], capsys)
    assert (r.returncode, r.stderr) == (2, "train.py: error: %s\n" % message.format(**subst))
    assert not os.path.exists(tmp_path / "m")
