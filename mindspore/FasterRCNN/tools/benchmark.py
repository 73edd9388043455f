"""Faster R-CNN benchmarks, each figure next to the reference's measured in the same run on the same machine.

    python tools/benchmark.py [--ref_dir DIR] [--json OUT.json] [--steps 3] [--skip ...]
    python tools/benchmark.py --performance_from RUN_DIR --devices N     # test/train_performance_*.sh

Figures (``--skip train,infer,mindrecord`` leaves some out):

* ``train_step``: seconds per training step at 768 x 1280, batch 2, the FaceMask CPU config (4 classes), on one
  fixed preprocessed batch; median of the steps after the first (which compiles the graph). The reference's step
  is measured in a subprocess that imports the official code from ``--ref_dir`` (a checkout of mindspore-ai/models
  ``official/cv/FasterRCNN``, e.g. ``git archive 3edbe94 official/cv/FasterRCNN | tar -x -C /tmp/frcnn_ref``;
  never inside this repository) with its own ``Faster_Rcnn``, ``WithLossCell``, ``LossNet`` and CPU training cell.
  Also written as ModelZoo's ``Final Performance images/sec : N``.
* ``train_compile``: the first step (graph compilation included), both.
* ``infer_ms``: milliseconds per image of the evaluation network at 768 x 1280 (batch 1), both.
* ``params``: trainable parameters of the FaceMask config, against the reference's 41,133,087.
* ``mindrecord``: images/s writing a training MindRecord of ``--mindrecord_images`` images (the mini set's, repeated;
  read from the page cache by both), this folder's writer (worker processes, rows written in batches, every image
  checked) against a one-row-at-a-time writer (the reference's loop: one ``write_raw_data([row])`` per image into an
  8-shard ``FileWriter``).
* ``overfit`` (with ``--overfit_from DIR``, the output folder of test/train_overfit.sh): its easy AP and wall time.

``ONEDNN_MAX_CPU_ISA=AVX2`` holds for both sides. Run it under the zoo's heavy-work lock.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(MODEL_DIR))
sys.path.insert(0, MODEL_DIR)

import src  # noqa: E402,F401  (caps oneDNN at AVX2 before MindSpore loads)
from src.benchmark_record import figure, write_benchmark  # noqa: E402

REF_PARAMS = 41133087
DEFAULT_REF_DIR = "/tmp/frcnn_ref/official/cv/FasterRCNN"
FACEMASK = os.path.join(MODEL_DIR, "fasterrcnn_facemask_config_cpu.yaml")

# Runs in a subprocess with the reference on sys.path (its package is also called ``src``). Our code, calling only
# the reference's own classes; the training cell is the reference's TrainOneStepCellCPU from its train.py.
REF_DRIVER = r'''
import contextlib, io, json, os, sys, time
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
ref_dir, batch_npz, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, ref_dir)
sys.argv = [sys.argv[0], "--config_path=" + os.path.join(ref_dir, "fasterrcnn_facemask_config_cpu.yaml")]
import numpy as np
import mindspore as ms
ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU", max_call_depth=2000)
with contextlib.redirect_stdout(io.StringIO()):
    from src.model_utils.config import config
    from src.FasterRcnn.faster_rcnn import Faster_Rcnn
    from src.network_define import WithLossCell, LossNet
    import train as ref_train
z = np.load(batch_npz)
res = {}
ms.set_seed(1)
net = Faster_Rcnn(config)
net.set_train(True)
opt = ms.nn.SGD(net.trainable_params(), learning_rate=0.000625, momentum=config.momentum,
                weight_decay=config.weight_decay)
step = ref_train.TrainOneStepCellCPU(WithLossCell(net, LossNet()), opt, sens=config.loss_scale)
step.set_train(True)
args = [ms.Tensor(z[k]) for k in ("img", "metas", "boxes", "labels", "valid")]
times = []
for i in range(steps):
    t = time.time(); loss = float(step(*args).asnumpy().reshape(-1)[0]); times.append(time.time() - t)
res["train_times"] = times
res["params"] = sum(int(p.size) for p in net.trainable_params())
enet = Faster_Rcnn(config)
enet.set_train(False)
img = ms.Tensor(z["img"][:1]); metas = ms.Tensor(z["eval_metas"][:1])
inf = []
for i in range(3):
    t = time.time(); out_ = [o.asnumpy() for o in enet(img, metas, None, None, None)]; inf.append(time.time() - t)
res["infer_times"] = inf
json.dump(res, open(out, "w"))
'''


def make_batch(cfg, path):
    """One fixed training batch (2 synthetic photo-like images with faces-sized boxes) and eval metas."""
    import numpy as np
    from export import synthetic_image
    from src.dataset import preprocess_eval, preprocess_fn
    items, metas = [], []
    for i in range(2):
        img = synthetic_image(seed=i, h=600, w=800)
        box = np.array([[100 + 40 * i, 120, 260, 300, 1, 0], [420, 200, 520, 330, 2, 0], [600, 80, 700, 190, 1, 0]],
                       np.int32)
        items.append(preprocess_fn(img, box, True, cfg, seed=i))
        metas.append(preprocess_eval(img, cfg)[1])
    keys = ("img", "metas", "boxes", "labels", "valid", "rpn_priority", "rcnn_priority")
    batch = {k: np.stack([it[j] for it in items]) for j, k in enumerate(keys)}
    batch["eval_metas"] = np.stack(metas)
    np.savez(path, **batch)
    return batch


def our_train_and_infer(cfg, batch, steps):
    import mindspore as ms
    from src.FasterRcnn.faster_rcnn import Faster_Rcnn
    from src.network_define import LossNet, TrainOneStepCell, WithLossCell
    ms.set_seed(1)
    net = Faster_Rcnn(cfg)
    net.set_train(True)
    opt = ms.nn.SGD(net.trainable_params(), learning_rate=0.000625, momentum=cfg.momentum,
                    weight_decay=cfg.weight_decay)
    step = TrainOneStepCell(WithLossCell(net, LossNet()), opt, scale_sense=cfg.loss_scale)
    step.set_train(True)
    args = [ms.Tensor(batch[k]) for k in ("img", "metas", "boxes", "labels", "valid", "rpn_priority",
                                          "rcnn_priority")]
    times = []
    for _ in range(steps):
        t = time.time()
        step(*args)[0].asnumpy()
        times.append(time.time() - t)
    params = sum(int(p.size) for p in net.trainable_params())
    enet = Faster_Rcnn(cfg)
    enet.set_train(False)
    img, metas = ms.Tensor(batch["img"][:1]), ms.Tensor(batch["eval_metas"][:1])
    inf = []
    for _ in range(3):
        t = time.time()
        [o.asnumpy() for o in enet(img, metas)]
        inf.append(time.time() - t)
    return {"train_times": times, "infer_times": inf, "params": params}


def reference_run(ref_dir, batch_npz, steps, log):
    out = tempfile.mktemp(suffix=".json")
    env = dict(os.environ, PYTHONPATH=ref_dir)
    t = time.time()
    r = subprocess.run([sys.executable, "-c", REF_DRIVER, ref_dir, batch_npz, str(steps), out], cwd=ref_dir,
                       env=env, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(out):
        log(f"reference run failed (exit {r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
        return None
    with open(out) as f:
        res = json.load(f)
    os.remove(out)
    log(f"reference run done in {time.time() - t:.0f} s")
    return res


def mindrecord_figures(n_images, log):
    """images/s of this folder's writer and of a one-row-at-a-time writer on the same files."""
    import numpy as np
    from mindspore.mindrecord import FileWriter
    from src.dataset import MINDRECORD_SCHEMA, create_wider_label, write_mindrecord
    from src.model_utils.config import get_config
    mini = os.path.join(REPO_ROOT, "ci", "data", "mini_widerface")
    cfg = get_config([f"--config_path={os.path.join(MODEL_DIR, 'fasterrcnn_widerface_config.yaml')}",
                      f"--wider_root={mini}"])
    files, annos = create_wider_label(True, cfg)
    work = tempfile.mkdtemp(prefix="frcnn_mr_bench_")
    try:
        paths = [files[k % len(files)] for k in range(n_images)]       # the mini set's images, repeated
        rows = {p: annos[p] for p in files}
        for p in files:                                                # both writers read from the page cache
            with open(p, "rb") as f:
                f.read()
        t = time.time()
        write_mindrecord(paths, rows, os.path.join(work, "ours"), "FasterRcnn.mindrecord", progress=False)
        ours = n_images / (time.time() - t)
        t = time.time()
        os.makedirs(os.path.join(work, "rowwise"))
        writer = FileWriter(os.path.join(work, "rowwise", "FasterRcnn.mindrecord"), 8)
        writer.add_schema(MINDRECORD_SCHEMA, "fasterrcnn_json")
        for p in paths:
            with open(p, "rb") as f:
                data = f.read()
            writer.write_raw_data([{"image": data, "annotation": np.asarray(rows[p], np.int32).reshape(-1, 6)}])
        writer.commit()
        rowwise = n_images / (time.time() - t)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"MindRecord: {ours:.1f} images/s (ours) vs {rowwise:.1f} images/s (one row at a time)")
    return ours, rowwise


def performance_from(run_dir, devices, batch=None):
    """``Final Performance images/sec`` of a finished run: batch x devices / the median step time after the first
    two steps (ci/smoke.py's definition)."""
    sys.path.insert(0, os.path.join(REPO_ROOT, "ci"))
    from smoke import sec_per_step
    from src.fileio import read_step_log
    log = read_step_log(os.path.join(run_dir, "train_log.jsonl"))
    with open(os.path.join(run_dir, "model_info.json")) as f:
        info = json.load(f)
    batch = batch or info["config"]["batch_size"]
    sec = sec_per_step([r["sec"] for r in log])
    fps = batch * devices / sec
    print(f"{len(log)} steps, {sec:.3f} s/step (median after the first two), batch {batch} x {devices} device(s)")
    print(f"Final Performance images/sec : {fps:.4f}")
    return fps


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref_dir", default=os.environ.get("FRCNN_REF_DIR", DEFAULT_REF_DIR),
                   help="official/cv/FasterRCNN of mindspore-ai/models, outside the repository (default $FRCNN_REF_DIR, "
                        f"else {DEFAULT_REF_DIR}); missing: the figures without the reference's")
    p.add_argument("--json", default=None, help="write the figures to this JSON file")
    p.add_argument("--steps", type=int, default=3, help="training steps per side (the first compiles)")
    p.add_argument("--skip", default="", help="comma-separated: train, infer, mindrecord")
    p.add_argument("--mindrecord_images", type=int, default=4096)
    p.add_argument("--overfit_from", default=None, help="output folder of test/train_overfit.sh")
    p.add_argument("--performance_from", default=None, help="a train.py output folder: print images/sec and exit")
    p.add_argument("--devices", type=int, default=1, help="with --performance_from: data-parallel workers")
    args = p.parse_args(argv)
    if args.performance_from:
        performance_from(args.performance_from, args.devices)
        return 0
    import mindspore as ms
    from src.model_utils.config import get_config
    ms.set_context(mode=ms.GRAPH_MODE, max_call_depth=2000)
    ms.set_device("CPU")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    figures = []

    def log(msg):
        print(f"[benchmark] {msg}", flush=True)

    def fig(name, value, unit, reference=None, source=None):
        figures.append(figure(name, value, unit, reference, source))

    cfg = get_config([f"--config_path={FACEMASK}"])
    if "train" not in skip or "infer" not in skip:
        work = tempfile.mkdtemp(prefix="frcnn_bench_")
        batch_npz = os.path.join(work, "batch.npz")
        batch = make_batch(cfg, batch_npz)
        log(f"our network: {args.steps} training steps + 3 inferences at {cfg.img_height}x{cfg.img_width}")
        ours = our_train_and_infer(cfg, batch, args.steps)
        have_ref = args.ref_dir and os.path.isfile(os.path.join(args.ref_dir, "train.py"))
        if not have_ref:
            log(f"no reference checkout at {args.ref_dir!r}: its figures are left out (see --ref_dir)")
        ref = reference_run(args.ref_dir, batch_npz, args.steps, log) if have_ref else None
        shutil.rmtree(work, ignore_errors=True)
        src_name = "reference run in this benchmark (--ref_dir)" if ref else None
        steady = statistics.median(ours["train_times"][1:] or ours["train_times"])
        ref_steady = statistics.median(ref["train_times"][1:] or ref["train_times"]) if ref else None
        fig("train_step_s (768x1280, batch 2)", round(steady, 2), "s", ref_steady and round(ref_steady, 2), src_name)
        if ref_steady:
            fig("train_step_ratio (ours / reference)", round(steady / ref_steady, 3), "x", 1.0, src_name)
        fig("train_compile_first_step_s", round(ours["train_times"][0], 1), "s",
            ref and round(ref["train_times"][0], 1), src_name)
        fig("train_images_per_s", round(2 / steady, 4), "images/s", ref_steady and round(2 / ref_steady, 4), src_name)
        inf = statistics.median(ours["infer_times"][1:])
        ref_inf = statistics.median(ref["infer_times"][1:]) if ref else None
        fig("infer_ms (768x1280, batch 1)", round(inf * 1000, 1), "ms", ref_inf and round(ref_inf * 1000, 1), src_name)
        fig("params (FaceMask config, trainable)", ours["params"], "parameters",
            ref["params"] if ref else REF_PARAMS, src_name or "fixture param_shapes.json (num_trainable_elements)")
        print(f"Final Performance images/sec : {2 / steady:.4f}")
    if "mindrecord" not in skip:
        mine, rowwise = mindrecord_figures(args.mindrecord_images, log)
        fig(f"mindrecord_write ({args.mindrecord_images} images)", round(mine, 1), "images/s", round(rowwise, 1),
            "one write_raw_data([row]) per image, 8 shards (the reference's writer loop), same run")
    if args.overfit_from:
        with open(os.path.join(args.overfit_from, "overfit_result.json")) as f:
            over = json.load(f)
        fig("overfit easy AP (8 mini images)", over["easy_ap"], "AP", 0.8, "target of the zoo (issue 10)")
        fig("overfit wall time", over["wall_s"], "s", None, None)
    for f in figures:
        ref = "" if f["reference"] is None else f"   (reference {f['reference']} {f['unit']})"
        print(f"{f['name']:<44} {f['value']} {f['unit']}{ref}")
    if args.json:
        write_benchmark(args.json, "FasterRCNN", figures)
    return 0


if __name__ == "__main__":
    from src.errors import run_cli
    sys.exit(run_cli(main, "benchmark.py"))
