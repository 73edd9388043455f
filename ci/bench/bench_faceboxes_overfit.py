"""FaceBoxes (TensorFlow) overfit check: train on 8 mini-WIDER val images and evaluate on the same images.

    python ci/bench/bench_faceboxes_overfit.py [--steps 300] [--image_size 640] [--batch_size 8] [--out DIR]

Shows that the whole loop (TFRecords -> augmentation-free input -> matching -> OHEM loss -> Nesterov SGD ->
post-processing -> WIDER evaluation) learns: easy AP on the training images should exceed 0.8. The 8 images are the
first 8 of the mini val split with at least one 'easy' face; a WIDER ground-truth folder restricted to them is
written with widerface_eval.write_ground_truth. Evaluation resizes to the training size (eval.py --image_size).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "tensorflow", "FaceBoxes")


def mini_data():
    d = os.environ.get("ZOO_MINI_DATA") or os.path.join(ROOT, "ci", "data", "mini_widerface")
    if not os.path.isdir(d):
        subprocess.check_call([sys.executable, os.path.join(ROOT, "ci", "make_mini_widerface.py"), "--out", d])
    return d


def build_subset(data, out, n=8):
    import numpy as np
    import widerface_eval as we

    gt = we.load_ground_truth(os.path.join(data, "ground_truth"))
    chosen = []
    for i, ev in enumerate(gt.events):
        for j, stem in enumerate(gt.files[i]):
            if len(gt.keep["easy"][i][j]) and len(chosen) < n:
                chosen.append((i, j))
    events = sorted(set(gt.events[i] for i, _ in chosen))
    files = [[gt.files[i][j] for i, j in chosen if gt.events[i] == e] for e in events]
    boxes = [[gt.boxes[i][j] for i, j in chosen if gt.events[i] == e] for e in events]
    keep = {s: [[gt.keep[s][i][j] for i, j in chosen if gt.events[i] == e] for e in events] for s in gt.keep}
    we.write_ground_truth(os.path.join(out, "ground_truth"), events, files, boxes, keep)
    os.makedirs(os.path.join(out, "wider_face_split"), exist_ok=True)
    lines = []
    for e, fl, bl in zip(events, files, boxes):
        for stem, b in zip(fl, bl):
            rel = "%s/%s.jpg" % (e, stem)
            for split in ("train", "val"):
                dst = os.path.join(out, "WIDER_%s" % split, "images", rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(os.path.join(data, "WIDER_val", "images", rel), dst)
            lines.append(rel)
            lines.append(str(len(b)))
            lines += ["%d %d %d %d 0 0 0 0 0 0" % tuple(np.round(x).astype(int)) for x in b] or ["0 0 0 0 0 0 0 0 0 0"]
    for split in ("train", "val"):
        with open(os.path.join(out, "wider_face_split", "wider_face_%s_bbx_gt.txt" % split), "w") as f:
            f.write("\n".join(lines) + "\n")
    return len(chosen)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--image_size", type=int, default=640)
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--out", default=os.path.join(ROOT, "ci", "output", "bench_faceboxes_overfit"))
    a = p.parse_args()
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    data = os.path.join(a.out, "data")
    n = build_subset(mini_data(), data, a.images)
    py = sys.executable
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.check_call([py, "-m", "src.preparedata.create_tfrecords", "--data_path", data, "--split", "train",
                           "--output_dir", os.path.join(data, "train_shards"), "--num_shards", "2"], cwd=MODEL, env=env)
    t0 = time.time()
    subprocess.check_call([py, "train.py", "--data_path", data, "--output_path", os.path.join(a.out, "model"),
                           "--steps", str(a.steps), "--batch_size", str(a.batch_size), "--image_size",
                           str(a.image_size), "--no_augmentation", "--shuffle_buffer_size", "16",
                           "--save_checkpoints_steps", str(a.steps), "--log_step_count_steps", "25"],
                          cwd=MODEL, env=env)
    train_s = time.time() - t0
    subprocess.check_call([py, "eval.py", "--checkpoint", os.path.join(a.out, "model"), "--data_path", data,
                           "--output_path", os.path.join(a.out, "eval"), "--image_size", str(a.image_size)],
                          cwd=MODEL, env=env)
    with open(os.path.join(a.out, "eval", "eval_result.json")) as f:
        ap = json.load(f)["ap"]
    with open(os.path.join(a.out, "model", "train_log.jsonl")) as f:
        log = [json.loads(x) for x in f]
    res = {"images": n, "steps": a.steps, "image_size": a.image_size, "batch_size": a.batch_size,
           "loss_first": log[0]["loss"], "loss_last": log[-1]["loss"], "train_seconds": round(train_s, 1), "ap": ap}
    print(json.dumps(res))
    sys.path.insert(0, MODEL)
    from src.io_utils import write_json_atomic

    write_json_atomic(os.path.join(a.out, "result.json"), res)
    return 0 if ap["easy"] >= 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
