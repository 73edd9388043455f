#!/usr/bin/env python
"""Benchmark of `widerface_eval` on the real WIDER FACE val ground truth.

Writes a synthetic prediction folder like a detector's (per image: jittered ground-truth faces plus
random false positives, ~460 lines per image, score-sorted), then times a full evaluation including
parsing, in a fresh process. With ``--reference-dir`` pointing at a built checkout of
wondervictor/WiderFace-Evaluation (kept outside this repository), it also times that evaluator on the same
folder and compares the APs.

    python ci/bench/bench_widerface_eval.py [--gt ../shared/data/widerface_val_gt] [--per-image 460]
        [--reference-dir /tmp/wv --reference-python /tmp/wvenv/bin/python]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_predictions(gt_dir, out_dir, per_image=460, seed=0):
    """Detector-like predictions for every val image; returns the number of lines written."""
    from widerface_eval import load_ground_truth

    gt = load_ground_truth(gt_dir)
    rng = np.random.default_rng(seed)
    total = 0
    for ev, stems, boxes in zip(gt.events, gt.files, gt.boxes):
        os.makedirs(os.path.join(out_dir, ev), exist_ok=True)
        for stem, b in zip(stems, boxes):
            b = b.astype(np.float64)
            keep = rng.random(len(b)) < 0.8                       # detector misses ~20 %
            tp = b[keep].copy()
            if len(tp):
                s = np.maximum(tp[:, 2:4], 1.0)
                tp[:, 0:2] += rng.normal(0, 0.08, (len(tp), 2)) * s
                tp[:, 2:4] = s * np.exp(rng.normal(0, 0.08, (len(tp), 2)))
            tp_scores = rng.beta(5, 1.5, len(tp))
            n_fp = max(per_image - len(tp), 0)
            fp = np.empty((n_fp, 4))
            fp[:, 2:4] = np.exp(rng.uniform(np.log(4), np.log(300), (n_fp, 2)))
            fp[:, 0] = rng.uniform(0, 1024, n_fp)
            fp[:, 1] = rng.uniform(0, 1024, n_fp)
            fp_scores = rng.beta(1.2, 6, n_fp)
            dets = np.concatenate([np.concatenate([tp, tp_scores[:, None]], 1),
                                   np.concatenate([fp, fp_scores[:, None]], 1)])
            dets = dets[np.argsort(-dets[:, 4], kind="stable")]
            lines = [f"{stem}.jpg", str(len(dets))]
            lines += [f"{x:.1f} {y:.1f} {w:.1f} {h:.1f} {s:.6f}" for x, y, w, h, s in dets]
            with open(os.path.join(out_dir, ev, stem + ".txt"), "w") as f:
                f.write("\n".join(lines) + "\n")
            total += len(dets)
    return total


def run_ours(pred_dir, gt_dir):
    code = ("import time,sys;t=time.perf_counter();from widerface_eval import evaluate;"
            f"r=evaluate({pred_dir!r},{gt_dir!r});"
            "print('APS',r.easy,r.medium,r.hard);print('SECONDS',time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    aps = [float(x) for x in re.search(r"APS (\S+) (\S+) (\S+)", out).groups()]
    return aps, float(re.search(r"SECONDS (\S+)", out).group(1))


def run_reference(pred_dir, gt_dir, ref_dir, ref_python):
    t = time.perf_counter()
    out = subprocess.run([ref_python, "evaluation.py", "-p", pred_dir, "-g", gt_dir], cwd=ref_dir,
                         capture_output=True, text=True, check=True).stdout
    sec = time.perf_counter() - t
    aps = [float(x) for x in re.findall(r"Val AP: ([0-9.eE+-]+)", out)]
    return aps, sec


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", default=os.path.join(REPO, "..", "shared", "data", "widerface_val_gt"))
    ap.add_argument("--per-image", type=int, default=460)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reference-dir", help="built checkout of wondervictor/WiderFace-Evaluation")
    ap.add_argument("--reference-python", default=sys.executable)
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pred = os.path.join(tmp, "pred")
        n = make_predictions(args.gt, pred, args.per_image)
        print(f"prediction lines: {n:,} over {sum(len(fs) for _, _, fs in os.walk(pred)):,} files")
        times = []
        for _ in range(args.repeat):
            aps, sec = run_ours(pred, args.gt)
            times.append(sec)
        res = {"lines": n, "ours_seconds": min(times), "ours_aps": aps}
        print(f"widerface_eval: {min(times):.2f} s (best of {args.repeat}), "
              f"AP easy {aps[0]:.6f} medium {aps[1]:.6f} hard {aps[2]:.6f}")
        if args.reference_dir:
            raps, rsec = run_reference(pred, args.gt, args.reference_dir, args.reference_python)
            res.update(reference_seconds=rsec, reference_aps=raps,
                       max_abs_ap_diff=float(np.max(np.abs(np.array(raps) - np.array(aps)))))
            print(f"reference (wondervictor): {rsec:.2f} s, AP easy {raps[0]:.6f} medium {raps[1]:.6f} "
                  f"hard {raps[2]:.6f}; max |dAP| = {res['max_abs_ap_diff']:.2e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
