"""CenterFace overfit check: train the chenjun2hao configuration from scratch on 8 mini WIDER val images (plain
letterbox, no augmentation) until the WIDER easy AP on those same 8 images reaches the target.

    .venv/bin/python ci/bench/bench_centerface_overfit.py [--data DIR] [--out DIR] [--input_size 384]
        [--epochs_per_round 25] [--max_rounds 16] [--target 0.8]

Writes OUT/overfit.json with the AP after every round and the training time.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(REPO, "pytorch", "CenterFace")


def build_subset(data, out, n):
    """OUT/sub: annotations/train_wider_face.json of the first n val images, image -> WIDER_val/images,
    ground_truth/ restricted to those images, WIDER_val/images link for eval.py."""
    sys.path.insert(0, MODEL)
    import numpy as np
    import widerface_eval as we
    from src.coco_convert import convert
    sub = os.path.join(out, "sub")
    os.makedirs(sub, exist_ok=True)
    gt = we.load_ground_truth(os.path.join(data, "ground_truth"))
    picked = [(e, i) for e in range(len(gt.events)) for i in range(len(gt.files[e]))][:n]
    names = {f"{gt.events[e]}/{gt.files[e][i]}.jpg" for e, i in picked}
    lines, keep = [], False
    for line in open(os.path.join(data, "val", "label.txt")):
        if line.startswith("#"):
            keep = line[1:].strip() in names
        if keep:
            lines.append(line)
    with open(os.path.join(sub, "label.txt"), "w") as f:
        f.writelines(lines)
    img_dir = os.path.join(data, "WIDER_val", "images")
    convert(os.path.join(sub, "label.txt"), img_dir, os.path.join(sub, "annotations", "train_wider_face.json"))
    for link, target in ((os.path.join(sub, "image"), img_dir),):
        if not os.path.exists(link):
            os.symlink(img_dir, link)
    os.makedirs(os.path.join(sub, "WIDER_val"), exist_ok=True)
    if not os.path.exists(os.path.join(sub, "WIDER_val", "images")):
        os.symlink(img_dir, os.path.join(sub, "WIDER_val", "images"))
    evs = sorted({e for e, _ in picked})
    files = [[gt.files[e][i] for ee, i in picked if ee == e] for e in evs]
    boxes = [[gt.boxes[e][i] for ee, i in picked if ee == e] for e in evs]
    keep_d = {s: [[gt.keep[s][e][i] for ee, i in picked if ee == e] for e in evs] for s in ("easy", "medium", "hard")}
    we.write_ground_truth(os.path.join(sub, "ground_truth"), [gt.events[e] for e in evs], files, boxes, keep_d)
    return sub, int(sum(len(b) for ev in boxes for b in ev)), int(np.sum([len(k) for ev in keep_d["easy"] for k in ev]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.environ.get("ZOO_MINI_DATA") or os.path.join(REPO, "ci", "data",
                                                                                      "mini_widerface"))
    p.add_argument("--out", default=os.path.join(REPO, "ci", "output", "bench_centerface_overfit"))
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--input_size", type=int, default=384)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--epochs_per_round", type=int, default=25)
    p.add_argument("--max_rounds", type=int, default=16)
    p.add_argument("--target", type=float, default=0.8)
    a = p.parse_args()
    sub, n_faces, n_easy = build_subset(a.data, a.out, a.images)
    py = sys.executable
    ck_dir = os.path.join(a.out, "train")
    rounds, t_train = [], 0.0
    prev = os.path.join(a.out, "overfit.json")
    if os.path.isfile(prev) and os.path.isfile(os.path.join(ck_dir, "model_last.pth")):  # continue an earlier run
        old = json.load(open(prev))
        rounds, t_train = old["rounds"], old["rounds"][-1]["train_seconds"] if old["rounds"] else 0.0
    for r in range(len(rounds) + 1, a.max_rounds + 1):
        t = time.time()
        subprocess.run([py, "train.py", "--data_path", sub, "--output_path", ck_dir, "--input_size",
                        str(a.input_size), "--batch_size", str(a.images), "--num_workers", "2", "--no_val",
                        "--no_augment", "--lr", str(a.lr), "--lr_step", "1000", "--num_epochs",
                        str(r * a.epochs_per_round), "--resume", "auto"], cwd=MODEL, check=True)
        t_train += time.time() - t
        subprocess.run([py, "eval.py", "--checkpoint", os.path.join(ck_dir, "model_last.pth"), "--data_path", sub,
                        "--output_path", os.path.join(a.out, "eval"), "--input_size", str(a.input_size)],
                       cwd=MODEL, check=True)
        ap = json.load(open(os.path.join(a.out, "eval", "wider_ap.json")))["ap"]
        rounds.append({"epochs": r * a.epochs_per_round, "ap": ap, "train_seconds": round(t_train, 1)})
        print(f"round {r}: {r * a.epochs_per_round} steps, AP {ap}", flush=True)
        res = {"images": a.images, "faces": n_faces, "easy_faces": n_easy, "input_size": a.input_size, "lr": a.lr,
               "batch_size": a.images, "rounds": rounds, "target_easy": a.target,
               "reached": ap["easy"] >= a.target}
        with open(os.path.join(a.out, "overfit.json"), "w") as f:
            json.dump(res, f, indent=1)
        if ap["easy"] >= a.target:
            break
    print(json.dumps(res))
    return 0 if res["reached"] else 1


if __name__ == "__main__":
    sys.exit(main())
