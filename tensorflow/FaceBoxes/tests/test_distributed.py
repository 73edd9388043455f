"""Synchronous data parallelism on TensorFlow's distributed runtime (issue 11): 2 CPU workers on localhost started by
test/train_full_8p.sh. One synchronous step of 2 workers with batch 2 each gives the variables of one 1-process step
with batch 4 on the same 4 images (gradients averaged, loss normaliser and batch-norm statistics of the global
batch), the resumed second step too; only the chief writes run files; a failing worker stops the others."""
import glob
import json
import os

import pytest

from conftest import TRAIN_ARGS, assert_same_variables, read_log, run_sh

# worker k reads shard k of mini_shards: its 2 images are its whole batch at every step, as the 4 are the reference's
TWO_WORKERS = ["--device=cpu", "--device_num=2", "--batch_size=2"] + TRAIN_ARGS
LOG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test", "output")


@pytest.fixture(scope="module")
def two_workers(mini_shards, tmp_path_factory):
    """Step 1 by 2 workers, then a second launch resumes to step 2; paths relative to the caller's folder."""
    cwd = tmp_path_factory.mktemp("caller")
    rel_data = os.path.relpath(mini_shards, cwd)
    runs = []
    for extra in (["--steps=1"], ["--steps=2", "--resume=auto"]):
        r = run_sh("train_full_8p.sh", ["--data_path=" + rel_data, "--output_path=dist"] + TWO_WORKERS + extra,
                   cwd=str(cwd), timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        runs.append(r)
    return str(cwd / "dist"), runs


def test_two_worker_steps_equal_one_process_with_the_global_batch(two_workers, reference_run):
    out, _ = two_workers
    for step in (1, 2):
        assert_same_variables(os.path.join(out, "model.ckpt-%d" % step),
                              os.path.join(reference_run, "model.ckpt-%d" % step))
    dist, ref = read_log(out), read_log(reference_run)[:2]
    assert [r["step"] for r in dist] == [1, 2]
    for key in ("loss", "loc", "cls", "reg"):
        assert [r[key] for r in dist] == pytest.approx([r[key] for r in ref], rel=1e-5)


def test_only_the_chief_writes_run_files(two_workers):
    out, runs = two_workers
    assert len(glob.glob(os.path.join(out, "events.out.tfevents.*"))) == 2       # one per launch, the chief's
    info = json.load(open(os.path.join(out, "model_info.json")))
    assert info["config"]["input_pipeline_params"]["num_workers"] == 2
    text = [open(os.path.join(LOG_DIR, "train_full_8p_rank%d.log" % i)).read() for i in (0, 1)]
    assert "worker 0 of 2" in text[0] and "the chief" in text[0]
    assert "worker 1 of 2" in text[1] and "writes no run files" in text[1]
    # the second launch: both workers resumed from the chief's step-1 checkpoint and logged global step 2
    assert all("(step 1)" in t and "step = 2 " in t for t in text)


def test_a_failing_worker_stops_the_launch(mini_shards, tmp_path):
    r = run_sh("train_full_8p.sh", ["--data_path=" + mini_shards, "--output_path=" + str(tmp_path / "out"),
                                    "--device=cpu", "--device_num=2", "--no_such_option"])
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1].startswith("train_full_8p.sh: error: a worker failed (exit 2), the others were "
                                                "stopped")
