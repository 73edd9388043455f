#!/usr/bin/env python
"""RetinaFace's speed and size figures on this machine, each next to its reference figure (CONTRIBUTING.md §7).

    python tools/benchmark.py [--what params,infer,nms,train] [--json OUT.json] [--data_path ci/data/mini_widerface]
        [--image_size 840] [--batch_size 2] [--steps 4] [--workers 1,2] [--repeat 10]

* params: learnable weights of the inference network, ResNet50 (the reference's README: 27.29 M) and MobileNet0.25
  (counted in the same run from the released ``Final_Retinaface.pth`` when the shared weights are there);
* infer: network latency at 640x480, batch 1, GRAPH mode, median of ``--repeat`` calls, random weights (the latency
  does not depend on the values); no reference figure (the reference publishes none);
* nms: the exact fast NMS of ``src/nms.py`` against the reference's greedy loop (``nms_plain``, measured in the same
  run) on what an untrained MobileNet0.25 sends to NMS at the evaluation canvas (2176x2176, score > 0.02): the
  case of issue 13 #8, ~10^5 boxes; both return the same boxes (checked here too);
* train: ResNet50 training throughput at ``--image_size`` (840 = the reference) with 1 worker and with N msrun
  data-parallel workers, batch ``--batch_size`` per worker, ``train.py``'s throughput (median step time after the
  first two steps, as ``train_log.jsonl`` records them) on the mini WIDER FACE; the reference's published step time
  is on GPUs (4x V100), so only its order of magnitude compares.

Prints ModelZoo's ``Final Performance images/sec : N`` (1 worker) and writes ``{"model", "cpu", "figures": [...]}``
to ``--json``. Run it under the heavy-work lock: ``flock /tmp/zoo_heavy.lock python tools/benchmark.py``.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(MODEL_DIR))
sys.path.insert(0, MODEL_DIR)

import numpy as np  # noqa: E402

from src.errors import run_cli  # noqa: E402  (src first: sets the oneDNN ISA)
from src.benchmark_record import figure, write_benchmark  # noqa: E402
from src.fileio import read_step_log  # noqa: E402

OFFICIAL = "MindSpore models official/cv/RetinaFace_ResNet50 README (r2.0)"
# the official README: 4x V100, batch 8 per GPU, 560 ms/step
PUBLISHED_STEP_S, PUBLISHED_BATCH, PUBLISHED_GPUS = 0.560, 8, 4
WARMUP_STEPS = 2


def bench_params(shared):
    from src.config import get_config
    from src.network import RetinaFace, count_params
    out = []
    for backbone in ("resnet50", "mobilenet0.25"):
        n = count_params(RetinaFace(get_config(backbone)))
        if backbone == "resnet50":
            out.append(figure("parameters ResNet50 (inference network)", n, "parameters", 27.29e6,
                              f"{OFFICIAL} (27.29 M)"))
        else:
            ref, src = None, None
            pth = os.path.join(shared, "weights", "retinaface_mnet025", "Final_Retinaface.pth")
            if os.path.isfile(pth):
                from tools.convert_official import load_torch_state_dict
                sd = load_torch_state_dict(pth)
                ref = sum(int(v.size) for k, v in sd.items()
                          if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
                src = "Final_Retinaface.pth (biubug6/Pytorch_Retinaface), learnable tensors counted in this run"
            out.append(figure("parameters MobileNet0.25 (inference network)", n, "parameters", ref, src))
    return out


def bench_infer(repeat, hw=(480, 640)):
    import mindspore as ms
    from src.config import get_config
    from src.network import RetinaFace
    out = []
    x = ms.Tensor(np.random.default_rng(0).uniform(-120, 130, (1, 3) + tuple(hw)).astype(np.float32))
    for backbone, label in (("resnet50", "ResNet50"), ("mobilenet0.25", "MobileNet0.25")):
        net = RetinaFace(get_config(backbone), phase="predict")
        net.set_train(False)
        net(x)[0].asnumpy()                                  # graph compilation
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            net(x)[0].asnumpy()
            times.append(time.perf_counter() - t0)
        out.append(figure(f"inference {label} {hw[1]}x{hw[0]}, batch 1 (network only, median of {repeat})",
                          1000 * statistics.median(times), "ms"))
    return out


def bench_nms(data_path):
    """Fast vs plain NMS on the detections an untrained MobileNet0.25 gives at the evaluation canvas."""
    import mindspore as ms
    from src.box_coder import decode
    from src.config import get_config
    from src.dataset import parse_label_entries
    from src.inference import Predictor
    from src.network import RetinaFace
    from src.nms import nms, nms_plain
    cfg = get_config("mobilenet0.25")
    ms.set_seed(1)
    net = RetinaFace(cfg, phase="predict")
    net.set_train(False)
    predictor = Predictor(net, cfg, mode="canvas", target_size=cfg["val_target_size"], max_size=cfg["val_max_size"])
    path = parse_label_entries(os.path.join(data_path, "val", "label.txt"))[0][0]
    from src.image_io import read_image
    x, resize = predictor.prepare(read_image(path))
    loc, conf, _ = predictor.raw(x)
    hw = x.shape[2:]
    with np.errstate(over="ignore", invalid="ignore"):
        boxes = decode(loc, predictor.priors(hw), cfg["variance"]) * np.array([hw[1], hw[0]] * 2, np.float32) / resize
        keep = (conf[:, 1] > cfg["val_confidence_threshold"]) & np.isfinite(boxes).all(axis=1)
        dets = np.hstack([boxes[keep], conf[keep, 1:2]]).astype(np.float32)
        t0 = time.perf_counter()
        fast = nms(dets, cfg["val_nms_threshold"])
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        plain = nms_plain(dets, cfg["val_nms_threshold"])
        t_plain = time.perf_counter() - t0
    if not np.array_equal(fast, plain):
        raise RuntimeError("the fast NMS and the plain loop disagree: a bug")
    return [figure(f"NMS of an untrained network at the 2176x2176 eval canvas ({len(dets):,} boxes -> {len(fast):,})",
                   t_fast, "s", t_plain, "the reference's greedy loop (py_cpu_nms), same boxes, measured in this run")]


def _train_run(data_path, workers, image_size, batch_size, steps, tmp):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for k in ("MS_NODE_TIMEOUT", "MS_RECEIVE_MSG_TIMEOUT", "MS_CPU_COMM_OP_TIMEOUT"):   # busy CPUs: late heartbeats
        env.setdefault(k, "600")
    env.setdefault("GLOG_v", "3")
    out = os.path.join(tmp, f"w{workers}")
    args = ["train.py", f"--data_path={data_path}", "--device_target=CPU", "--backbone=resnet50",
            f"--image_size={image_size}", f"--batch_size={batch_size}", f"--steps={steps}", "--num_workers=2",
            f"--output_path={out}"]
    if workers == 1:
        cmd = [sys.executable] + args
    else:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "mindspore.parallel.cluster.run", f"--worker_num={workers}",
               f"--local_worker_num={workers}", f"--master_port={port}", f"--log_dir={os.path.join(tmp, 'msrun')}",
               "--join=True"] + args + ["--is_distributed"]
    log = os.path.join(tmp, f"w{workers}.log")
    with open(log, "w") as lf:
        rc = subprocess.run(cmd, cwd=MODEL_DIR, env=env, stdout=lf, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        with open(log) as lf:
            raise RuntimeError(f"training with {workers} worker(s) failed (exit {rc}):\n{lf.read()[-3000:]}")
    secs = [rec["sec"] for rec in read_step_log(os.path.join(out, "train_log.jsonl"))]
    step = statistics.median(secs[WARMUP_STEPS:] or secs[-1:])
    return workers * batch_size / step, step


def bench_train(data_path, workers, image_size, batch_size, steps):
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in workers:
            ips, step = _train_run(data_path, w, image_size, batch_size, steps, tmp)
            published = PUBLISHED_BATCH * (1 if w == 1 else PUBLISHED_GPUS) / PUBLISHED_STEP_S
            source = (f"{OFFICIAL}: {PUBLISHED_GPUS}x V100, batch {PUBLISHED_BATCH} per GPU, "
                      f"{PUBLISHED_STEP_S * 1000:.0f} ms/step ({'per GPU' if w == 1 else 'all 4 GPUs'}; "
                      f"other hardware)")
            out.append(figure(f"training ResNet50 {image_size}x{image_size}, batch {batch_size} x {w} worker(s) "
                              f"({step:.2f} s/step)", ips, "images/s", published, source))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--what", default="params,infer,nms,train")
    p.add_argument("--data_path", default=os.environ.get("ZOO_MINI_DATA",
                                                          os.path.join(REPO_ROOT, "ci", "data", "mini_widerface")))
    p.add_argument("--shared", default=os.environ.get("ZOO_SHARED", os.path.join(REPO_ROOT, "..", "shared")))
    p.add_argument("--image_size", type=int, default=840)
    p.add_argument("--batch_size", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    what = set(args.what.split(","))
    import mindspore as ms
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    figures = []
    for key, fn in (("params", lambda: bench_params(args.shared)), ("infer", lambda: bench_infer(args.repeat)),
                    ("nms", lambda: bench_nms(args.data_path)),
                    ("train", lambda: bench_train(args.data_path, [int(w) for w in args.workers.split(",")],
                                                  args.image_size, args.batch_size, args.steps))):
        if key in what:
            for fig in fn():
                figures.append(fig)
                print(json.dumps(fig), flush=True)
    train_1p = [f for f in figures if f["name"].startswith("training") and "x 1 worker" in f["name"]]
    if train_1p:
        print(f"Final Performance images/sec : {train_1p[0]['value']:.4f}")
    if args.json:
        write_benchmark(args.json, "RetinaFace", figures)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "benchmark.py"))
