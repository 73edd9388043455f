"""FaceBoxes benchmarks, each figure next to the reference's (CONTRIBUTING.md section 7).

    python tools/benchmark.py [--device cpu|gpu] [--runs 20] [--train_steps 6] [--train_batch 16]
                              [--train_size 1024] [--workers 2] [--skip_train] [--json OUT.json] [--work DIR]

* Inference: the released FaceBoxesProd.pth converted (tools/convert_official.py), the full graph (uint8 image ->
  padding -> network -> decode -> score filter -> NMS) through Predictor, batch 1, median wall time of --runs after
  3 warm-up runs, at 640x480 (VGA) and 1024x1024, with TensorFlow's thread pool and with one thread. Reference: the
  paper's 20 FPS (50 ms) at VGA on one core of an E5-2660v3 (published).
* Training: images/s at --train_size (default the reference's 1024x1024), batch --train_batch per worker, on the
  mini WIDER train set: one process (test/train_performance_1p.sh) and --workers synchronous data-parallel CPU
  workers (test/train_performance_8p.sh); images/s = global batch / median step time after the first 2 steps.
  Reference: TropComplique's ~2.6 steps/s of batch 16 on a GTX 1080 (published; another device).
* Parameters and anchors at 1024x1024, the reference's counted in the same run (FaceBoxesProd.pth's learnable
  tensors; the reference's anchor rule).

Prints ModelZoo's ``Final Performance images/sec : N`` (the one-process training figure) and writes --json as
``{"model", "cpu", "figures": [{"name", "value", "unit", "reference", "reference_source"}]}``.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(MODEL_DIR))
sys.path.insert(0, MODEL_DIR)

from src.benchmark_record import figure, write_benchmark  # noqa: E402
from src.errors import DataError, run_cli  # noqa: E402

PAPER_VGA_MS = 50.0                     # FaceBoxes paper: 20 FPS on a single CPU core (E5-2660v3 @ 2.60GHz), VGA
TROPCOMPLIQUE_STEPS_PER_SEC = 2.6       # TropComplique README: ~2.6 batches/s of 16 at 1024x1024 on a GTX 1080


def bench_inference(ckpt, photo, device, runs):
    import cv2

    from src.image_io import read_image
    from src.inference import Predictor

    image = read_image(photo)
    out = []
    for w, h in ((640, 480), (1024, 1024)):
        img = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        for threads in (None, 1):
            pred = Predictor(ckpt, device=device, threads=threads)
            for _ in range(3):
                pred(img)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                pred(img)
                times.append(time.perf_counter() - t0)
            pred.close()
            ms = 1000 * statistics.median(times)
            vga = (w, h) == (640, 480)
            out.append(figure("inference %dx%d, batch 1, %s" % (w, h, "1 thread" if threads else "all threads"),
                              round(ms, 2), "ms",
                              PAPER_VGA_MS if vga else None,
                              "FaceBoxes paper: 20 FPS at VGA on one core of an E5-2660v3 (published)"
                              if vga else None))
            print("%s: %.2f ms" % (out[-1]["name"], ms), flush=True)
    return out


def bench_training(shards, work, device, steps, batch, size, workers):
    """images/s of test/train_performance_1p.sh and, with workers > 1, test/train_performance_8p.sh."""
    from src.fileio import read_step_log

    out = []
    for n in ((1, workers) if workers > 1 else (1,)):
        script = "train_performance_1p.sh" if n == 1 else "train_performance_8p.sh"
        run = os.path.join(work, "train_%dw" % n)
        cmd = ["bash", os.path.join(MODEL_DIR, "test", script), "--data_path=%s" % shards, "--output_path=%s" % run,
               "--device=%s" % device, "--steps=%d" % steps, "--batch_size=%d" % batch, "--image_size=%d" % size]
        if n > 1:
            cmd.append("--device_num=%d" % n)
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=dict(os.environ, PYTHON=sys.executable))
        secs = [r["sec"] for r in read_step_log(os.path.join(run, "train_log.jsonl"))]
        sec = statistics.median(secs[2:] or secs[-1:])
        ips = batch * n / sec
        as_reference = (size, batch) == (1024, 16)   # the reference's figure is for its own setting only
        out.append(figure("training %dx%d, batch %d per worker, %d %s worker%s"
                          % (size, size, batch, n, device.upper(), "s" if n > 1 else ""), round(ips, 2),
                          "images/s", round(TROPCOMPLIQUE_STEPS_PER_SEC * 16, 1) if as_reference else None,
                          "TropComplique README: ~2.6 steps/s of batch 16 at 1024x1024 on a GTX 1080 (published; "
                          "another device)" if as_reference else None))
        print("%s: %.2f (%.3f s/step)" % (out[-1]["name"], ips, sec), flush=True)
    return out


def reference_counts(pth):
    """The learnable parameters of FaceBoxesProd.pth (weights, biases, BN gamma / beta; not the running statistics)
    and the reference's anchor count at 1024x1024 (21 per cell of the 32x32 map, 1 per cell of 16x16 and 8x8)."""
    from tools.convert_official import load_pth

    state = load_pth(pth)
    params = sum(v.size for k, v in state.items() if not k.endswith(("running_mean", "running_var",
                                                                     "num_batches_tracked")))
    return int(params), (1024 // 32) ** 2 * 21 + (1024 // 64) ** 2 + (1024 // 128) ** 2


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--train_steps", type=int, default=6)
    p.add_argument("--train_batch", type=int, default=16)
    p.add_argument("--train_size", type=int, default=1024)
    p.add_argument("--workers", type=int, default=2, help="data-parallel workers of the second training figure")
    p.add_argument("--skip_train", action="store_true")
    p.add_argument("--work", default=os.path.join(REPO_ROOT, "ci", "output", "bench_faceboxes"))
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    shared = os.path.abspath(os.environ.get("ZOO_SHARED") or os.path.join(REPO_ROOT, "..", "shared"))
    data = os.path.abspath(os.environ.get("ZOO_MINI_DATA") or os.path.join(REPO_ROOT, "ci", "data", "mini_widerface"))
    pth = os.path.join(shared, "weights", "faceboxes", "FaceBoxesProd.pth")
    if not os.path.isfile(pth):
        raise DataError("%s: the released weights are not there (set ZOO_SHARED)" % pth)

    from src.config import default_config, num_anchors
    from src.detector import count_parameters
    from tools.convert_official import convert

    if os.path.exists(args.work):
        shutil.rmtree(args.work)
    ckpt = convert(pth, os.path.join(args.work, "ckpt", "faceboxes_prod.ckpt"))
    ref_params, ref_anchors = reference_counts(pth)
    figures = [figure("parameters", count_parameters(default_config()["architecture"]), "count", ref_params,
                      "FaceBoxesProd.pth learnable tensors, counted in this run"),
               figure("anchors at 1024x1024", num_anchors(1024, 1024), "count", ref_anchors,
                      "the reference's anchor rule (TropComplique anchor_generator), counted in this run")]
    figures += bench_inference(ckpt, os.path.join(shared, "data", "real_photos", "obama.jpg"), args.device, args.runs)
    if not args.skip_train:
        if not os.path.isdir(os.path.join(data, "WIDER_train")):
            raise DataError("%s: the mini WIDER set is not there (python ci/make_mini_widerface.py --out %s)"
                            % (data, data))
        from src.preparedata.create_tfrecords import convert as to_shards

        shards = os.path.join(args.work, "train_shards")
        to_shards(data, "train", shards, num_shards=16, workers=2, progress=False)
        train = bench_training(shards, args.work, args.device, args.train_steps, args.train_batch, args.train_size,
                               args.workers)
        figures += train
        print("Final Performance images/sec : %.2f" % train[0]["value"])
    if args.json:
        write_benchmark(args.json, "FaceBoxes", figures)
    for f in figures:
        ref = "" if f["reference"] is None else " (reference %s: %s)" % (f["reference"], f["reference_source"])
        print("%-60s %12s %s%s" % (f["name"], f["value"], f["unit"], ref))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "benchmark.py"))
