"""Two training steps + resume, eval on a tiny WIDER layout, export equality, and the CLI error paths."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import MODEL_DIR, run_py
from helpers import make_wider_layout


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    from src.preparedata.create_tfrecords import convert

    root = tmp_path_factory.mktemp("wider")
    make_wider_layout(str(root), num_images=4, size=(160, 200))
    convert(str(root), "train", str(root / "train_shards"), num_shards=2, workers=1, progress=False)
    return str(root)


def _read_log(model):
    with open(os.path.join(model, "train_log.jsonl")) as f:
        return [json.loads(x) for x in f]


class _Result(object):
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_train(argv, capsys):
    """train.main in this process (saves the interpreter + TensorFlow start-up of a subprocess)."""
    import train

    capsys.readouterr()
    rc = train.main(argv)
    out = capsys.readouterr()
    return _Result(rc, out.out, out.err)


def test_two_steps_checkpoint_and_exact_resume(shards, tmp_path, capsys):
    from src.tf_compat import tf

    def args(model, steps):
        return ["--data_path", shards, "--output_path", model, "--batch_size", "2", "--image_size",
                "128", "--shuffle_buffer_size", "4", "--save_checkpoints_steps", "2", "--log_step_count_steps", "1",
                "--no_augmentation", "--steps", str(steps)]

    part = str(tmp_path / "part")
    r = run_train(args(part, 2), capsys)
    assert r.returncode == 0, r.stderr[-2000:]
    log = _read_log(part)
    assert [x["step"] for x in log] == [1, 2]
    assert all(np.isfinite(x["loss"]) and x["loss"] > 0 for x in log)
    ckpt2 = tf.train.latest_checkpoint(part)
    assert ckpt2.endswith("model.ckpt-2")
    names = dict(tf.train.list_variables(ckpt2))
    assert "conv1/weights/Momentum" in names and "model_config" in names

    # resume: continues at step 3 from the step-2 checkpoint; records a killed run wrote after the checkpoint
    # (step 3 and a line cut in the middle) are dropped, so every step is logged once
    with open(os.path.join(part, "train_log.jsonl"), "a") as f:
        f.write(json.dumps({"step": 3, "loss": -1.0}) + "\n" + '{"step": 4, "lo')
    r = run_train(args(part, 4), capsys)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resuming from" in r.stdout and "(step 2)" in r.stdout
    log = _read_log(part)
    assert [x["step"] for x in log] == [1, 2, 3, 4] and log[2]["loss"] > 0
    part4 = tf.train.latest_checkpoint(part)
    assert part4.endswith("model.ckpt-4") and tf.train.load_variable(part4, "global_step") == 4
    assert log[-1]["lr"] == pytest.approx(0.004)

    # exact resume: 2 + 2 steps equal 4 uninterrupted steps (weights, BN statistics, momentum, losses)
    ref = str(tmp_path / "ref")
    r = run_train(args(ref, 4), capsys)
    assert r.returncode == 0, r.stderr[-2000:]
    ref4 = tf.train.latest_checkpoint(ref)
    for name in ("conv1/weights", "conv1/batch_norm/moving_mean", "conv2/weights/Momentum",
                 "prediction_layers/class_predictor_0/biases"):
        np.testing.assert_allclose(tf.train.load_variable(part4, name), tf.train.load_variable(ref4, name),
                                   rtol=1e-4, atol=1e-6)
    assert [x["loss"] for x in _read_log(part)] == pytest.approx([x["loss"] for x in _read_log(ref)], rel=1e-4)

    # a run to a step already reached does nothing
    r = run_train(args(part, 4), capsys)
    assert r.returncode == 0 and "nothing to train" in r.stdout and len(_read_log(part)) == 4


def test_resume_refuses_other_architecture(shards, tmp_path, capsys):
    model = str(tmp_path / "model")
    cfg = json.load(open(os.path.join(MODEL_DIR, "config.json")))
    args = ["--data_path", shards, "--output_path", model, "--batch_size", "2", "--image_size", "128",
            "--steps", "1", "--shuffle_buffer_size", "4"]
    assert run_train(args, capsys).returncode == 0
    cfg["architecture"] = {"preset": "pytorch"}
    other = tmp_path / "cfg.json"
    other.write_text(json.dumps(cfg))
    r = run_train(args[:-4] + ["--steps", "2", "--config", str(other)], capsys)
    assert r.returncode == 1 and "model configuration" in r.stderr and "Traceback" not in r.stderr


def test_frozen_graph_equals_checkpoint(converted_ckpt, shared, tmp_path):
    from export import export
    from src.face_detector import FaceDetector
    from src.inference import Predictor, read_rgb

    _, pb = export(converted_ckpt, str(tmp_path / "exp"))
    assert os.path.isfile(os.path.join(str(tmp_path / "exp"), "saved_model", "saved_model.pb"))
    for name in ("astronaut.png", "grace_hopper.jpg"):
        rgb = read_rgb(os.path.join(shared, "data", "real_photos", name))
        ref = Predictor(converted_ckpt)(rgb)
        boxes, scores = FaceDetector(pb)(rgb, score_threshold=0.0)
        got = np.concatenate([boxes[:, [1, 0, 3, 2]], scores[:, None]], 1)
        np.testing.assert_allclose(got, ref, atol=1e-3)
        assert len(ref) >= 1


def test_saved_model_signature(converted_ckpt, tmp_path):
    from export import export
    from src.tf_compat import tf

    export(converted_ckpt, str(tmp_path / "exp"))
    with tf.Graph().as_default(), tf.Session() as s:
        meta = tf.saved_model.loader.load(s, ["serve"], str(tmp_path / "exp" / "saved_model"))
        sig = meta.signature_def["serving_default"]
        assert set(sig.outputs) == {"boxes", "scores", "num_boxes"}
        img = np.zeros((1, 100, 150, 3), np.uint8)
        n = s.run(sig.outputs["num_boxes"].name, {sig.inputs["images"].name: img})
        assert n.shape == (1,)


def test_eval_writes_prediction_folder_and_aps(converted_ckpt, mini_data, tmp_path):
    out = str(tmp_path / "eval")
    stale = os.path.join(out, "predictions", "0--Parade", "stale.txt")  # a previous run's file must not be evaluated
    os.makedirs(os.path.dirname(stale))
    open(stale, "w").write("0--Parade/stale.jpg\n1\n1 1 10 10 0.9\n")
    r = run_py(["eval.py", "--checkpoint", converted_ckpt, "--data_path", mini_data, "--output_path", out,
                "--max_images", "4"])
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.load(open(os.path.join(out, "eval_result.json")))
    assert set(res["ap"]) == {"easy", "medium", "hard"} and res["images"] == 4
    txts = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(out, "predictions")) for f in fs]
    assert len(txts) == 4 and not os.path.exists(stale) and not os.path.exists(os.path.join(out, "predictions.partial"))
    for t in txts:
        lines = open(t).read().splitlines()
        assert int(lines[1]) == len(lines) - 2
        scores = [float(ln.split()[4]) for ln in lines[2:]]
        assert scores == sorted(scores, reverse=True) and all(s >= 0.05 for s in scores)


def test_demo_writes_json_and_image(converted_ckpt, shared, tmp_path):
    r = run_py(["demo.py", "--image", os.path.join(shared, "data", "real_photos", "obama.jpg"), "--checkpoint",
                converted_ckpt, "--output", str(tmp_path / "o.jpg"), "--json", str(tmp_path / "o.json")])
    assert r.returncode == 0, r.stderr[-2000:]
    dets = json.load(open(tmp_path / "o.json"))
    assert len(dets) == 1 and set(dets[0]) == {"box", "score"}
    np.testing.assert_allclose(dets[0]["box"], [376.61, 81.30, 608.09, 418.36], atol=0.05)
    assert os.path.getsize(tmp_path / "o.jpg") > 1000


@pytest.mark.parametrize("args,needle", [
    (["train.py", "--output_path", "/tmp/x"], "--data_path is required"),
    (["train.py", "--data_path", "/nonexistent_dir", "--output_path", "/tmp/x"], "not a directory"),
    (["demo.py", "--image", "/nonexistent.jpg", "--checkpoint", "/nonexistent"], "no such image file"),
    (["eval.py", "--checkpoint", "/nonexistent", "--data_path", "/tmp"], "WIDER_val"),
])
def test_cli_errors_are_one_line(args, needle):
    r = run_py(args)
    assert r.returncode != 0
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_train_without_shards(tmp_path):
    r = run_py(["train.py", "--data_path", str(tmp_path), "--output_path", str(tmp_path / "m")])
    assert r.returncode == 1 and "no *.tfrecords shards" in r.stderr and "Traceback" not in r.stderr


def test_demo_corrupt_image(converted_ckpt, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    r = run_py(["demo.py", "--image", str(bad), "--checkpoint", converted_ckpt])
    assert r.returncode == 1 and "bad.jpg" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("script", ["train_full_1p.sh", "train_performance_1p.sh", "train_full_8p.sh",
                                    "train_performance_8p.sh", "train_smoke.sh"])
def test_shell_scripts_require_data_path(script):
    r = subprocess.run(["bash", os.path.join("test", script)], cwd=MODEL_DIR, capture_output=True, text=True)
    assert r.returncode != 0 and "--data_path" in r.stderr


@pytest.mark.parametrize("script", ["train_full_8p.sh", "train_performance_8p.sh"])
def test_8p_is_ascend_only(script, tmp_path):
    r = subprocess.run(["bash", os.path.join("test", script), "--data_path=%s" % tmp_path, "--device=cpu"],
                       cwd=MODEL_DIR, capture_output=True, text=True)
    assert r.returncode == 1 and "Ascend-only" in r.stderr


def test_npu_device_without_npu_bridge_is_a_clear_error(shards, tmp_path):
    r = run_py(["train.py", "--data_path", shards, "--output_path", str(tmp_path / "m"), "--device", "npu",
                "--steps", "1"])
    assert r.returncode == 1 and "npu_bridge" in r.stderr and "Traceback" not in r.stderr


def test_corrupt_record_in_shards_names_the_record(tmp_path, capsys):
    from src.preparedata.create_tfrecords import make_example
    from src.tf_compat import tf

    shard = tmp_path / "shard-0000.tfrecords"
    with tf.io.TFRecordWriter(str(shard)) as w:
        for i in range(2):
            w.write(make_example("ev/bad%d.jpg" % i, b"\xff\xd8garbage", [(0.1, 0.1, 0.5, 0.5)]).SerializeToString())
    r = run_train(["--data_path", str(tmp_path), "--output_path", str(tmp_path / "m"), "--steps", "1",
                   "--batch_size", "2", "--image_size", "128", "--shuffle_buffer_size", "2"], capsys)
    assert r.returncode == 1
    assert "shard-0000.tfrecords: record 0 (ev/bad0.jpg): undecodable image" in r.stderr


def _main_in_process(module, argv, capsys):
    """module.main(argv) in this process (no interpreter + TensorFlow start-up); returns (rc, stdout, stderr)."""
    import importlib

    capsys.readouterr()
    rc = importlib.import_module(module).main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_demo_and_eval_nonexistent_checkpoint(shared, mini_data, tmp_path, capsys):
    photo = os.path.join(shared, "data", "real_photos", "obama.jpg")
    for module, argv in (("demo", ["--image", photo, "--checkpoint", str(tmp_path / "nope.ckpt")]),
                         ("eval", ["--checkpoint", str(tmp_path / "nope.ckpt"), "--data_path", mini_data,
                                   "--output_path", str(tmp_path / "ev")])):
        rc, _, err = _main_in_process(module, argv, capsys)
        assert rc == 1 and err.count("\n") == 1
        assert err.startswith("error: %s: not a checkpoint" % (tmp_path / "nope.ckpt")), err
    rc, _, err = _main_in_process("demo", ["--image", photo, "--checkpoint", str(tmp_path / "nope.pb")], capsys)
    assert rc == 1 and err == "error: %s: no such frozen graph file\n" % (tmp_path / "nope.pb")
    (tmp_path / "bad.pb").write_bytes(b"\x00garbage")
    rc, _, err = _main_in_process("demo", ["--image", photo, "--checkpoint", str(tmp_path / "bad.pb")], capsys)
    assert rc == 1 and err == "error: %s: not a frozen TensorFlow graph (.pb)\n" % (tmp_path / "bad.pb")


def test_eval_corrupt_image_names_it_and_keeps_what_was_written(converted_ckpt, shared, tmp_path, capsys):
    ev = tmp_path / "data" / "WIDER_val" / "images" / "0--Ev"
    ev.mkdir(parents=True)
    good = open(os.path.join(shared, "data", "real_photos", "grace_hopper.jpg"), "rb").read()
    (ev / "a_good.jpg").write_bytes(good)
    (ev / "b_truncated.jpg").write_bytes(good[: len(good) // 2])
    rc, _, err = _main_in_process("eval", ["--checkpoint", converted_ckpt, "--data_path", str(tmp_path / "data"),
                                           "--output_path", str(tmp_path / "out"), "--no_eval"], capsys)
    assert rc == 1 and "b_truncated.jpg: corrupt or truncated JPEG" in err and "Traceback" not in err
    # the image before the bad one keeps its prediction file (in the partial folder); no complete folder claimed
    assert os.path.isfile(tmp_path / "out" / "predictions.partial" / "0--Ev" / "a_good.txt")
    assert not os.path.exists(tmp_path / "out" / "predictions")


def test_nan_loss_is_a_one_line_error(shards, tmp_path, capsys):
    r = run_train(["--data_path", shards, "--output_path", str(tmp_path / "m"), "--batch_size", "2", "--image_size",
                   "128", "--no_augmentation", "--lr_scale", "1e8", "--steps", "8"], capsys)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "error: training loss became NaN at step" in r.stderr and "learning rate 400000" in r.stderr
