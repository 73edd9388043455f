"""test/*.sh: the options of test/common.sh are honoured or refused in one line; paths relative to the caller."""
import os
import subprocess

import pytest

from helpers import MODEL_DIR


def _bash(args, cwd, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run(["bash"] + args, cwd=cwd, capture_output=True, text=True, env=e, timeout=120)


@pytest.mark.parametrize("script, option, needle", [
    ("train_full_1p.sh", "--device_num=2", "--device_num has no use in train_full_1p.sh"),
    ("train_smoke.sh", "--device_num=2", "--device_num has no use in train_smoke.sh"),
    ("train_full_8p.sh", "--device_id=1", "--device_id has no use in train_full_8p.sh"),
    ("train_performance_1p.sh", "--epochs=2", "--epochs has no use in train_performance_1p.sh"),
    ("train_full_1p.sh", "--config_path=nope.yaml", "--config_path="),
    ("train_full_1p.sh", "--steps=two", "--steps must be a whole number"),
])
def test_scripts_refuse_in_one_line(mini_data, tmp_path, script, option, needle):
    r = _bash([os.path.join(MODEL_DIR, "test", script), f"--data_path={mini_data}", f"--output_path={tmp_path}",
               option], cwd=str(tmp_path))
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_missing_data_path_relative_to_caller(tmp_path):
    r = _bash([os.path.join(MODEL_DIR, "test", "train_smoke.sh"), "--data_path=not/here"], cwd=str(tmp_path))
    assert r.returncode == 2 and f"{tmp_path}/not/here: no such directory" in r.stderr


def test_train_args_map_the_options(tmp_path):
    """test/lib/args.sh turns common.sh's options into train.py / eval.py flags (checked without running Python)."""
    probe = tmp_path / "probe.sh"
    probe.write_text('source "$MODEL/test/common.sh"\nsource "$MODEL/test/lib/args.sh"\n'
                     'printf "%s\\n" "${TRAIN_ARGS[@]}" ; echo EVAL; printf "%s\\n" "${EVAL_ARGS[@]}"\n')
    model = tmp_path / "model"
    os.makedirs(model / "test" / "lib")
    for f in ("common.sh", "lib/args.sh"):
        os.symlink(os.path.join(MODEL_DIR, "test", f), model / "test" / f)
    os.symlink(os.path.join(MODEL_DIR, "fasterrcnn_widerface_config.yaml"), model / "fasterrcnn_widerface_config.yaml")
    os.makedirs(tmp_path / "data")
    r = subprocess.run(["bash", str(probe), "--data_path=data", "--output_path=out", "--steps=3",
                        "--epochs=2", "--batch_size=4", "--resume=auto", "--device=cpu", "--base_lr=0.01",
                        "--eval_max_images=4"],
                       cwd=str(tmp_path), capture_output=True, text=True,
                       env=dict(os.environ, PYTHON="true", MODEL=str(model)))
    assert r.returncode == 0, r.stderr
    train, ev = r.stdout.split("EVAL\n")
    t = train.split()
    assert f"--data_path={tmp_path}/data" in t and f"--save_checkpoint_path={tmp_path}/out" in t
    assert {"--steps=3", "--epoch_size=2", "--batch_size=4", "--resume=auto", "--device_target=CPU",
            "--base_lr=0.01", "--eval_max_images=4"} <= set(t)
    assert f"--output_path={tmp_path}/out/eval" in ev.split() and "--eval_max_images=4" in ev.split()
    assert "--base_lr=0.01" not in ev.split()


@pytest.mark.parametrize("script, ckpt_dir", [("train_smoke.sh", "ckpt_0"), ("train_performance_1p.sh", "ckpt_0"),
                                              ("train_performance_8p.sh", "ckpt_1")])
def test_resume_keeps_the_run_a_fresh_run_clears_it(mini_data, tmp_path, script, ckpt_dir):
    """--resume is honoured: the scripts that start a fresh run remove the old checkpoints only without it (a stub
    interpreter and msrun record what would run)."""
    stub = tmp_path / "bin"
    os.makedirs(stub)
    calls = tmp_path / "calls.txt"
    for name in ("python", "msrun"):
        (stub / name).write_text(f'#!/usr/bin/env bash\necho "$*" >> {calls}\n'
                                 '[[ "$1" == -c ]] && echo /nonexistent/faster_rcnn-1_2.ckpt\nexit 0\n')
        os.chmod(stub / name, 0o755)
    out = tmp_path / "out"
    for resume, kept in ((["--resume=auto"], True), ([], False)):
        os.makedirs(out / ckpt_dir, exist_ok=True)
        (out / ckpt_dir / "faster_rcnn-1_2.ckpt").write_text("x")
        r = _bash([os.path.join(MODEL_DIR, "test", script), f"--data_path={mini_data}", f"--output_path={out}",
                   *resume], cwd=str(tmp_path),
                  env={"PYTHON": str(stub / "python"), "PATH": f"{stub}:{os.environ['PATH']}"})
        assert r.returncode == 0, r.stderr
        assert (out / ckpt_dir / "faster_rcnn-1_2.ckpt").exists() == kept, (script, resume)
        train = [ln for ln in calls.read_text().splitlines() if "train.py" in ln][-1]
        assert ("--resume=auto" in train.split()) == kept
