"""CenterFace benchmarks on this machine.

    .venv/bin/python ci/bench/bench_centerface.py infer [--runs 30]
        official weights at 640x480: PyTorch (converted checkpoint, BN folded; eager channels-last = the default
        inference path, and TorchScript-frozen = --jit) vs onnxruntime running the original centerface.onnx
        (initializers removed from the graph inputs, full graph optimisation: the fair baseline of weights/README.md);
        interleaved runs, median ms, and the ratios PyTorch / onnxruntime.
    .venv/bin/python ci/bench/bench_centerface.py train [--size 800 --batch 8 --steps 4 --nproc 1]
        training images/s through train.py on the mini WIDER FACE (full augmentation, 2 loader workers per process);
        --nproc 2 runs torchrun with 2 gloo processes (batch per process = --batch / 2); OMP threads per process =
        --threads / --nproc.

Results are appended as json lines to ci/output/bench_centerface.jsonl.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(REPO, "pytorch", "CenterFace")
sys.path.insert(0, MODEL)


def record(res):
    os.makedirs(os.path.join(REPO, "ci", "output"), exist_ok=True)
    with open(os.path.join(REPO, "ci", "output", "bench_centerface.jsonl"), "a") as f:
        f.write(json.dumps(res) + "\n")
    print(json.dumps(res))


def bench_infer(a):
    import numpy as np
    import torch
    from src.convert_onnx import convert_official_onnx, ort_session
    from src.model import fuse_bn, optimize_for_cpu
    from src.paths import official_onnx
    torch.set_num_threads(a.threads)
    model, _ = convert_official_onnx(official_onnx())
    eager = fuse_bn(model).to(memory_format=torch.channels_last)  # Detector's default CPU path
    jit = optimize_for_cpu(model)  # Detector(jit=True), eval.py / demo.py --jit
    sess = ort_session(official_onnx(), drop_initializer_inputs=True, threads=a.threads, optimize=True)
    x = np.random.RandomState(0).rand(1, 3, 480, 640).astype(np.float32) * 255
    xt = torch.from_numpy(x)
    xc = xt.contiguous(memory_format=torch.channels_last)
    times = {"pytorch_eager_ms": [], "pytorch_jit_ms": [], "onnxruntime_ms": []}
    runs = [("pytorch_eager_ms", lambda: eager(xc)), ("pytorch_jit_ms", lambda: jit(xt)),
            ("onnxruntime_ms", lambda: sess.run(None, {"input.1": x}))]
    with torch.inference_mode():
        for i in range(a.warmup + a.runs):
            for key, fn in runs:  # interleaved, so that load changes hit all three alike
                t = time.perf_counter()
                fn()
                if i >= a.warmup:
                    times[key].append((time.perf_counter() - t) * 1000)
    res = {"bench": "infer_640x480_official", "threads": a.threads, "runs": a.runs,
           "load_avg_1min": round(os.getloadavg()[0], 2)}
    res.update({k: round(statistics.median(v), 2) for k, v in times.items()})
    res["ratio_eager_over_ort"] = round(res["pytorch_eager_ms"] / res["onnxruntime_ms"], 3)
    res["ratio_jit_over_ort"] = round(res["pytorch_jit_ms"] / res["onnxruntime_ms"], 3)
    record(res)


def bench_train(a):
    data = a.data or os.environ.get("ZOO_MINI_DATA") or os.path.join(REPO, "ci", "data", "mini_widerface")
    out = tempfile.mkdtemp(prefix="bench_cf_")
    summ = os.path.join(out, "s.json")
    per = a.batch // a.nproc
    cmd = ["train.py", "--data_path", data, "--output_path", out, "--input_size", str(a.size), "--batch_size",
           str(per), "--num_epochs", "1", "--max_steps", str(a.steps), "--no_val", "--num_workers", "2",
           "--summary_json", summ]
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, a.threads // a.nproc)))
    if a.nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={a.nproc}"] + cmd
    else:
        cmd = [sys.executable] + cmd
    subprocess.run(cmd, cwd=MODEL, check=True, env=env, stdout=subprocess.DEVNULL)
    s = json.load(open(summ))
    res = {"bench": "train", "size": a.size, "global_batch": per * a.nproc, "nproc": a.nproc,
           "threads_per_proc": max(1, a.threads // a.nproc), "load_avg_1min": round(os.getloadavg()[0], 2),
           "steps": s["steps"],
           "sec_per_step": round(s["sec_per_step"], 3),
           "images_per_s": round(per * a.nproc / s["sec_per_step"], 3)}
    record(res)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["infer", "train"])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=800)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--nproc", type=int, default=1)
    p.add_argument("--data")
    a = p.parse_args()
    bench_infer(a) if a.what == "infer" else bench_train(a)


if __name__ == "__main__":
    main()
