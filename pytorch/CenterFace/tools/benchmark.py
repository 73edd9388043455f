"""CenterFace speed figures on this machine, each next to its reference figure measured in the same run.

    python tools/benchmark.py [--json OUT.json] [--only infer|train] [--threads 1] [--runs 15]
        [--train_size 800 --train_batch 8 --train_steps 6 --nproc 2] [--data DIR] [--onnx centerface.onnx]

* Inference, official weights, 640x480, one image: the Predictor's PyTorch network (BatchNorms folded,
  channels-last: the default path of demo.py / eval.py) and its TorchScript-frozen variant (--jit), against
  onnxruntime running the released centerface.onnx (initializers removed from the graph inputs, full graph
  optimisation: the fair baseline of shared/weights/README.md), which is the reference. Runs are interleaved so that
  load changes hit all three alike; median milliseconds.
* Training throughput through train.py on the mini WIDER FACE (full augmentation, 2 loader workers per process):
  one process, and --nproc processes with torchrun (gloo DDP on CPU; same global batch). images/s = global batch /
  the median step time after the first two steps (train_log.jsonl). The reference's training code is not run here,
  so these figures have no reference next to them.

Prints ModelZoo's "Final Performance images/sec : N" (the one-process training figure) and writes the JSON of
CONTRIBUTING.md §7 to --json. Compare speeds only as ratios measured in the same run.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(MODEL_DIR))
sys.path.insert(0, MODEL_DIR)

from src.benchmark_record import figure, write_benchmark  # noqa: E402
from src.config import RECIPES, ArgumentParser, Config  # noqa: E402
from src.engine import images_per_second  # noqa: E402
from src.errors import ConfigError, DataError, run_cli  # noqa: E402
from src.fileio import read_step_log  # noqa: E402

ORT_SOURCE = "onnxruntime on the released centerface.onnx, same run, same machine"


def bench_infer(a):
    import numpy as np
    import torch

    from src.inference import OnnxRunner, TorchRunner
    from src.official_onnx import convert_official_onnx, ort_session
    torch.set_num_threads(a.threads)
    model, _ = convert_official_onnx(a.onnx)
    runners = {"eager": TorchRunner(model), "jit": TorchRunner(model, jit=True),
               "onnxruntime": OnnxRunner(ort_session(a.onnx, threads=a.threads, optimize=True))}
    x = (np.random.RandomState(0).rand(1, 3, 480, 640) * 255).astype(np.float32)
    times = {k: [] for k in runners}
    with torch.inference_mode():
        for i in range(a.warmup + a.runs):
            for k, run in runners.items():
                t = time.perf_counter()
                run(x)
                if i >= a.warmup:
                    times[k].append((time.perf_counter() - t) * 1000)
    ms = {k: statistics.median(v) for k, v in times.items()}
    load = round(os.getloadavg()[0], 2)
    return [figure("inference_640x480_pytorch_eager", round(ms["eager"], 2), "ms", round(ms["onnxruntime"], 2),
                   ORT_SOURCE, threads=a.threads, runs=a.runs, load_avg_1min=load),
            figure("inference_640x480_pytorch_jit", round(ms["jit"], 2), "ms", round(ms["onnxruntime"], 2),
                   ORT_SOURCE, threads=a.threads, runs=a.runs, load_avg_1min=load)]


def bench_train(a, nproc):
    if a.train_batch % nproc:
        raise ConfigError(f"--train_batch {a.train_batch} does not split over {nproc} processes")
    per = a.train_batch // nproc
    with tempfile.TemporaryDirectory(prefix="bench_centerface_") as out:  # its checkpoint and json go with it
        cmd = [os.path.join(MODEL_DIR, "train.py"), "--data_path", a.data, "--output_path", out, "--input_size",
               str(a.train_size), "--batch_size", str(per), "--max_steps", str(a.train_steps), "--no_val",
               "--num_workers", "2", "--keep_checkpoints", "1"]
        if nproc > 1:  # --standalone: a rendezvous on a free port
            cmd = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] + cmd
        env = dict(os.environ, OMP_NUM_THREADS=str(max(1, a.threads // nproc)))
        r = subprocess.run([sys.executable] + cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"train.py failed ({r.returncode}):\n" + "\n".join(r.stderr.splitlines()[-15:]))
        secs = [r["sec"] for r in read_step_log(os.path.join(out, "train_log.jsonl"))]
    name = "train_images_per_s_1p" if nproc == 1 else f"train_images_per_s_ddp{nproc}"
    return figure(name, round(images_per_second(secs, a.train_batch), 3), "images/s", None,
                  "none: the reference's training code is not run on this machine", input_size=a.train_size,
                  global_batch=a.train_batch, processes=nproc, steps=len(secs),
                  threads_per_process=max(1, a.threads // nproc), load_avg_1min=round(os.getloadavg()[0], 2))


def main(argv=None):
    shared = os.environ.get("ZOO_SHARED") or os.path.join(REPO_ROOT, "..", "shared")
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--only", choices=["infer", "train"])
    p.add_argument("--threads", type=int, default=1, help="threads in all (split over the training processes)")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--train_size", type=int, default=Config().input_size, help="the reference's 800")
    p.add_argument("--train_batch", type=int, default=RECIPES["reference"]["batch_size"],
                   help="global batch (the reference's 8)")
    p.add_argument("--train_steps", type=int, default=6)
    p.add_argument("--nproc", type=int, default=2, help="processes of the data-parallel figure (1: none)")
    p.add_argument("--data", default=os.environ.get("ZOO_MINI_DATA") or
                   os.path.join(REPO_ROOT, "ci", "data", "mini_widerface"))
    p.add_argument("--onnx", default=os.path.join(shared, "weights", "centerface", "centerface.onnx"))
    a = p.parse_args(argv)
    if a.only != "infer" and not os.path.isdir(a.data):
        raise DataError(f"--data {a.data}: no such folder (the mini WIDER FACE: python ci/make_mini_widerface.py)")
    figures = []
    if a.only in (None, "infer"):
        figures += bench_infer(a)
    if a.only in (None, "train"):
        figures.append(bench_train(a, 1))
        if a.nproc > 1:
            figures.append(bench_train(a, a.nproc))
    for f in figures:
        ref = f"  (reference {f['reference']} {f['unit']}: {f['reference_source']})" if f["reference"] else ""
        print(f"{f['name']}: {f['value']} {f['unit']}{ref}")
    if a.json:
        write_benchmark(a.json, "CenterFace", figures)
    if a.only in (None, "train"):
        print(f"Final Performance images/sec : {figures[-2 if a.nproc > 1 else -1]['value']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "benchmark.py"))
