#!/usr/bin/env python
"""Benchmarks of mindspore/RetinaFace on this machine (figures for its README).

* params: trainable parameters of both backbones (the reference states 27.29 M for ResNet50);
* infer: inference latency (GRAPH mode, batch 1, network only, median of --repeat runs) at 640x480 for both
  backbones, random weights (latency does not depend on the values);
* train: ResNet50 training throughput at --image_size (840 = the reference) with 1 worker and with 2 msrun
  data-parallel workers (batch --batch_size per worker), images/s = workers * batch / median step time over the
  steps after the first (graph compilation); data from the mini WIDER FACE train split.

    python ci/bench/bench_retinaface.py [--what params,infer,train] [--data_path ci/data/mini_widerface]
        [--image_size 840] [--batch_size 2] [--steps 4] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPO, "mindspore", "RetinaFace")


def bench_params():
    sys.path.insert(0, MODEL)
    from src.config import get_config
    from src.network import RetinaFace, count_params
    out = {}
    for b in ("resnet50", "mobilenet0.25"):
        net = RetinaFace(get_config(b))
        fc = sum(int(p.size) for p in net.trainable_params() if "end_point" in p.name)
        out[b] = {"params": count_params(net) - fc, "unused_imagenet_fc": fc}
    return out


def bench_infer(repeat=10, hw=(480, 640)):
    import numpy as np
    import mindspore as ms
    sys.path.insert(0, MODEL)
    from src.config import get_config
    from src.network import RetinaFace
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    out = {}
    x = ms.Tensor(np.random.default_rng(0).uniform(-120, 130, (1, 3) + tuple(hw)).astype(np.float32))
    for b in ("resnet50", "mobilenet0.25"):
        net = RetinaFace(get_config(b), phase="predict")
        net.set_train(False)
        t0 = time.time()
        net(x)[0].asnumpy()
        first = time.time() - t0
        times = []
        for _ in range(repeat):
            t0 = time.time()
            net(x)[0].asnumpy()
            times.append(time.time() - t0)
        out[b] = {"ms_median": 1000 * statistics.median(times), "ms_min": 1000 * min(times),
                  "first_call_s": first, "input_hw": list(hw)}
    return out


def _free_port():
    """A TCP port free now (the OS picks it): msrun must not depend on a fixed port."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_run(data_path, workers, image_size, batch_size, steps, tmp):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for k in ("MS_NODE_TIMEOUT", "MS_RECEIVE_MSG_TIMEOUT", "MS_CPU_COMM_OP_TIMEOUT"):   # busy CPUs: late heartbeats
        env.setdefault(k, "600")
    log_json = os.path.join(tmp, f"w{workers}.json")
    args = ["train.py", f"--data_path={data_path}", "--device_target=CPU", "--backbone=resnet50",
            f"--image_size={image_size}", f"--batch_size={batch_size}", f"--max_steps={steps}",
            "--num_workers=2", "--save_checkpoint_steps=1000000", f"--ckpt_path={os.path.join(tmp, f'ck{workers}')}",
            f"--log_json={log_json}"]
    if workers == 1:
        cmd = [sys.executable] + args
    else:
        cmd = [sys.executable, "-m", "mindspore.parallel.cluster.run", f"--worker_num={workers}",
               f"--local_worker_num={workers}", f"--master_port={_free_port()}", f"--log_dir={os.path.join(tmp, 'msrun')}",
               "--join=True"] + args + ["--is_distributed"]
    t0 = time.time()
    log = os.path.join(tmp, f"w{workers}.log")
    with open(log, "w") as lf:
        rc = subprocess.run(cmd, cwd=MODEL, env=env, stdout=lf, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        with open(log) as lf:
            tail = lf.read()[-3000:]
        raise RuntimeError(f"training with {workers} worker(s) failed (exit {rc}):\n{tail}")
    wall = time.time() - t0
    files = [log_json] if workers == 1 else [log_json.replace(".json", f"_rank{r}.json") for r in range(workers)]
    per_rank = []
    for f in files:
        with open(f) as fh:
            t = json.load(fh)["step_times"]
        per_rank.append(statistics.median(t[1:] or t))
    step = max(per_rank)
    return {"workers": workers, "batch_per_worker": batch_size, "image_size": image_size, "steps": steps,
            "sec_per_step": step, "images_per_s": workers * batch_size / step, "wall_s": wall}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--what", default="params,infer,train")
    p.add_argument("--data_path", default=os.environ.get("ZOO_MINI_DATA",
                                                          os.path.join(REPO, "ci", "data", "mini_widerface")))
    p.add_argument("--image_size", type=int, default=840)
    p.add_argument("--batch_size", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    what = set(args.what.split(","))
    res = {}
    if "params" in what:
        res["params"] = bench_params()
        print(json.dumps({"params": res["params"]}), flush=True)
    if "infer" in what:
        res["infer_640x480"] = bench_infer(args.repeat)
        print(json.dumps({"infer_640x480": res["infer_640x480"]}), flush=True)
    if "train" in what:
        res["train"] = []
        with tempfile.TemporaryDirectory() as tmp:
            for w in (int(v) for v in args.workers.split(",")):
                r = _train_run(args.data_path, w, args.image_size, args.batch_size, args.steps, tmp)
                res["train"].append(r)
                print(json.dumps(r), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
