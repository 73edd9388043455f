"""FaceBoxes (TensorFlow) benchmarks: inference latency with the released weights and training throughput.

    python ci/bench/bench_faceboxes.py [--device cpu|gpu] [--threads N] [--runs 20] [--train_steps 6]
                                       [--train_batch 16] [--skip_train] [--json OUT.json]

Inference: FaceBoxesProd.pth converted to a TF checkpoint, full graph (uint8 input -> padding -> network ->
decode -> score filter -> NMS), median wall time over --runs after 3 warm-up runs, at 640x480 (VGA) and 1024x1024,
batch 1, once with the default thread pool and once with a single thread (the paper's "20 FPS on one CPU core").
Training: train.py on TFRecords of the mini WIDER train set at 1024x1024 (the reference size), batch --train_batch,
median seconds per step after the first 2 steps -> images/s.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "tensorflow", "FaceBoxes")
sys.path.insert(0, MODEL)


def shared():
    return os.environ.get("ZOO_SHARED") or os.path.join(ROOT, "..", "shared")


def mini_data():
    d = os.environ.get("ZOO_MINI_DATA") or os.path.join(ROOT, "ci", "data", "mini_widerface")
    if not os.path.isdir(d):
        subprocess.check_call([sys.executable, os.path.join(ROOT, "ci", "make_mini_widerface.py"), "--out", d])
    return d


def bench_inference(ckpt, device, threads, runs):
    import cv2
    import numpy as np

    from src.inference import Predictor, read_rgb

    photo = read_rgb(os.path.join(shared(), "data", "real_photos", "obama.jpg"))
    out = {}
    for label, (w, h) in (("640x480", (640, 480)), ("1024x1024", (1024, 1024))):
        img = np.ascontiguousarray(cv2.resize(photo, (w, h), interpolation=cv2.INTER_LINEAR))
        for th in ([threads] if threads else [None, 1]):
            pred = Predictor(ckpt, device=device, threads=th)
            for _ in range(3):
                pred(img)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                pred(img)
                times.append(time.perf_counter() - t0)
            pred.close()
            key = "%s_%s" % (label, "threads%d" % th if th else "default_threads")
            out[key] = {"ms_median": 1000 * statistics.median(times), "ms_min": 1000 * min(times),
                        "fps": 1.0 / statistics.median(times)}
            print("inference %-28s median %.1f ms (min %.1f ms, %.1f FPS)"
                  % (key, out[key]["ms_median"], out[key]["ms_min"], out[key]["fps"]), flush=True)
    return out


def bench_train(work, device, steps, batch, size):
    data = mini_data()
    shards = os.path.join(work, "train_shards")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.check_call([sys.executable, "-m", "src.preparedata.create_tfrecords", "--data_path", data,
                           "--output_dir", shards, "--num_shards", "4"], cwd=MODEL, env=env)
    model = os.path.join(work, "model")
    subprocess.check_call([sys.executable, "train.py", "--data_path", shards, "--output_path", model, "--steps",
                           str(steps), "--batch_size", str(batch), "--image_size", str(size), "--device", device,
                           "--save_checkpoints_steps", "1000000", "--log_step_count_steps", "1",
                           "--shuffle_buffer_size", "64"], cwd=MODEL, env=env)
    with open(os.path.join(model, "train_log.jsonl")) as f:
        secs = [json.loads(x)["sec"] for x in f][2:]
    sec = statistics.median(secs)
    res = {"image_size": size, "batch_size": batch, "steps_timed": len(secs), "sec_per_step": sec,
           "images_per_sec": batch / sec}
    print("training %dx%d batch %d: %.2f s/step, %.2f images/s" % (size, size, batch, sec, batch / sec), flush=True)
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--train_steps", type=int, default=6)
    p.add_argument("--train_batch", type=int, default=16)
    p.add_argument("--train_size", type=int, default=1024)
    p.add_argument("--skip_train", action="store_true")
    p.add_argument("--work", default=os.path.join(ROOT, "ci", "output", "bench_faceboxes"))
    p.add_argument("--json", default=None)
    a = p.parse_args()
    from tools.convert_official import convert

    if os.path.exists(a.work):
        shutil.rmtree(a.work)
    os.makedirs(a.work)
    ckpt = convert(os.path.join(shared(), "weights", "faceboxes", "FaceBoxesProd.pth"),
                   os.path.join(a.work, "ckpt", "faceboxes_prod.ckpt"))
    import platform

    res = {"device": a.device, "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
           "inference": bench_inference(ckpt, a.device, a.threads, a.runs)}
    if not a.skip_train:
        res["training"] = bench_train(a.work, a.device, a.train_steps, a.train_batch, a.train_size)
    print(json.dumps(res))
    if a.json:
        from src.io_utils import write_json_atomic

        write_json_atomic(a.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
