#!/usr/bin/env python
"""Overfit check of mindspore/RetinaFace: train from scratch on 8 mini WIDER FACE val images, evaluate on the same 8.

The 8 images (with their val/label.txt boxes, no landmarks) become a training set; their WIDER ground truth
(easy/medium/hard keep lists of the mini set) is cut out of ``ground_truth/*.mat`` with ``widerface_eval``; then
``train.py`` runs --epochs epochs (1 step each, batch 8) and ``eval.py --val_origin_size`` scores the result.
A correct loss / matching / decode chain drives easy AP towards 1; the target is easy AP >= 0.8.

    python ci/bench/bench_retinaface_overfit.py [--data_path ci/data/mini_widerface] [--backbone mobilenet0.25]
        [--epochs 300] [--image_size 640] [--lr 0.01] [--out DIR] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPO, "mindspore", "RetinaFace")


def build_subset(data_path, out, n=8):
    """out/{train,val}/label.txt + images links + ground_truth/ for the first n val images with faces."""
    import widerface_eval as we
    src_label = os.path.join(data_path, "val", "label.txt")
    blocks, cur = [], None
    with open(src_label) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                cur = [line]
                blocks.append(cur)
            elif line.strip() and cur is not None:
                cur.append(line)
    blocks = [b for b in blocks if len(b) > 1][:n]
    names = [b[0][1:].strip() for b in blocks]
    for split in ("train", "val"):
        d = os.path.join(out, split)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "label.txt"), "w") as f:
            f.write("\n".join(l for b in blocks for l in b) + "\n")
        link = os.path.join(d, "images")
        if not os.path.exists(link):
            os.symlink(os.path.abspath(os.path.join(data_path, "val", "images")), link)
    gt = we.load_ground_truth(os.path.join(data_path, "ground_truth"))
    events, files, boxes = [], [], []
    keep = {s: [] for s in we.SETTINGS}
    wanted = {tuple(nm[:-4].split("/")) for nm in names}
    for ei, ev in enumerate(gt.events):
        sel = [i for i, stem in enumerate(gt.files[ei]) if (ev, stem) in wanted]
        if not sel:
            continue
        events.append(ev)
        files.append([gt.files[ei][i] for i in sel])
        boxes.append([gt.boxes[ei][i] for i in sel])
        for s in we.SETTINGS:
            keep[s].append([gt.keep[s][ei][i] for i in sel])
    we.write_ground_truth(os.path.join(out, "ground_truth"), events, files, boxes, keep)
    return names


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_path", default=os.environ.get("ZOO_MINI_DATA",
                                                          os.path.join(REPO, "ci", "data", "mini_widerface")))
    p.add_argument("--backbone", default="mobilenet0.25", choices=["mobilenet0.25", "resnet50"])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--image_size", type=int, default=640)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--out", default=os.path.join(REPO, "ci", "output", "retinaface_overfit"))
    p.add_argument("--json", default=None)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = build_subset(args.data_path, args.out)
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    ck = os.path.join(args.out, "ckpt")
    t0 = time.time()
    subprocess.run([sys.executable, "train.py", f"--data_path={args.out}", "--device_target=CPU",
                    f"--backbone={args.backbone}", f"--image_size={args.image_size}", "--batch_size=8",
                    f"--epoch={args.epochs}", f"--lr={args.lr}", "--num_workers=2", f"--ckpt_path={ck}",
                    f"--save_checkpoint_steps={args.epochs}", f"--log_json={os.path.join(args.out, 'train.json')}"],
                   cwd=MODEL, env=env, check=True)
    train_s = time.time() - t0
    ckpt = sorted((os.path.join(ck, "ckpt_0", f) for f in os.listdir(os.path.join(ck, "ckpt_0"))
                   if f.endswith(".ckpt")), key=os.path.getmtime)[-1]
    ev_json = os.path.join(args.out, "eval.json")
    subprocess.run([sys.executable, "eval.py", f"--data_path={args.out}", f"--checkpoint={ckpt}",
                    "--device_target=CPU", "--val_origin_size", f"--pred_dir={os.path.join(args.out, 'pred')}",
                    f"--json={ev_json}"], cwd=MODEL, env=env, check=True)
    with open(ev_json) as f:
        ap = json.load(f)["ap"]
    with open(os.path.join(args.out, "train.json")) as f:
        losses = json.load(f)["losses"]
    res = {"images": names, "backbone": args.backbone, "epochs": args.epochs, "image_size": args.image_size,
           "loss_first": losses[0], "loss_last": losses[-1], "train_s": train_s, "ap": ap,
           "pass": ap["easy"] >= 0.8}
    print(json.dumps(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
