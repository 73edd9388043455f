#!/usr/bin/env python
"""Speed of `widerface_eval` on the real WIDER FACE val ground truth, against the widely used Python evaluator.

Two cases, each a synthetic prediction folder like a detector's for all 3,226 val images (per image: jittered
ground-truth faces, ~80 % of them, plus random false positives, score-sorted), written once:

* ``26``: about 26 lines per image (~97 k lines), a detector at a usual confidence threshold;
* ``460``: about 460 lines per image (~1.5 M lines), what a detector emits at threshold 0.02.

Each evaluation is timed from process start to exit (``python -m widerface_eval --pred P --gt G``, as a user
runs it); with ``--reference-dir`` the reference evaluator (``python evaluation.py -p P -g G`` in a built
checkout of wondervictor/WiderFace-Evaluation, see the package README) is timed the same way, the two
alternately, and the best of ``--repeat`` runs of each gives the ratio. The APs of both are compared (ours from
an untimed ``--json`` run). The ground-truth cache of ``widerface_eval`` lives in a temporary folder per case
and is filled by an untimed first run, whose time is reported too ("cold").

    python ci/bench/bench_widerface_eval.py [--gt ../shared/data/widerface_val_gt] [--cases 26,460]
        [--repeat 3] [--reference-dir /tmp/wfref/WiderFace-Evaluation --reference-python /tmp/wfref/venv/bin/python]
        [--json figures.json]
"""

import argparse
import glob
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "ci"))
import harness  # noqa: E402
PACKAGE = os.path.join(REPO, "common", "widerface_eval")


def make_predictions(gt, out_dir, per_image, seed=0):
    """Detector-like predictions for every val image; returns the number of lines written."""
    rng = np.random.default_rng(seed)
    total = 0
    for ev, stems, boxes in zip(gt.events, gt.files, gt.boxes):
        os.makedirs(os.path.join(out_dir, ev), exist_ok=True)
        for stem, b in zip(stems, boxes):
            b = b.astype(np.float64)
            keep = rng.random(len(b)) < 0.8                       # the detector misses ~20 %
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


def timed(cmd, cwd=None, env=None):
    """Wall seconds from process start to exit, and its stdout (the command must succeed)."""
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    sec = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"bench_widerface_eval: {' '.join(cmd)} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    return sec, r.stdout


def cpu_model():
    return f"{harness.cpu_model()} ({os.cpu_count()} CPUs)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", default=os.path.join(REPO, "..", "shared", "data", "widerface_val_gt"))
    ap.add_argument("--cases", default="26,460", help="lines per image of each case (default 26,460)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each evaluator per case (best counts)")
    ap.add_argument("--reference-dir", help="built checkout of wondervictor/WiderFace-Evaluation")
    ap.add_argument("--reference-python", default=sys.executable, help="Python with the reference's packages")
    ap.add_argument("--python", default=sys.executable, help="Python with widerface_eval's packages")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    if args.reference_dir and not glob.glob(os.path.join(args.reference_dir, "bbox*.so")):
        sys.exit(f"bench_widerface_eval: {args.reference_dir} has no built bbox extension: build it first "
                 "(python setup.py build_ext --inplace, see common/widerface_eval/README.md)")

    sys.path.insert(0, PACKAGE)
    from widerface_eval import load_ground_truth

    gt = load_ground_truth(args.gt, cache=False)
    print(f"CPU: {cpu_model()}; Python {platform.python_version()}, NumPy {np.__version__}")
    figures = {"cpu": cpu_model(), "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=PACKAGE + os.pathsep + os.environ.get("PYTHONPATH", ""))
        ours_cmd = lambda pred, *extra: [args.python, "-m", "widerface_eval", "--pred", pred, "--gt", args.gt,
                                         *extra]
        for case in [int(c) for c in args.cases.split(",")]:
            pred = os.path.join(tmp, f"pred{case}")
            n = make_predictions(gt, pred, case)
            js = os.path.join(tmp, f"ours{case}.json")
            env["WIDERFACE_EVAL_CACHE"] = os.path.join(tmp, f"gt_cache{case}")      # cold for each case
            cold, _ = timed(ours_cmd(pred, "--json", js), env=env)      # fills the ground-truth cache
            aps = json.load(open(js))["aps"]
            aps = [aps[s] for s in ("easy", "medium", "hard")]
            ours, ref, raps = [], [], None
            for _ in range(args.repeat):
                ours.append(timed(ours_cmd(pred), env=env)[0])
                if args.reference_dir:
                    sec, out = timed([args.reference_python, "evaluation.py", "-p", pred, "-g", args.gt],
                                     cwd=args.reference_dir)
                    ref.append(sec)
                    raps = [float(x) for x in re.findall(r"Val AP: ([0-9.eE+-]+)", out)]
            res = {"lines": n, "lines_per_image": round(n / gt.num_images, 1), "ours_seconds": min(ours),
                   "ours_runs": ours, "ours_cold_seconds": cold, "lines_per_second": n / min(ours), "aps": aps}
            print(f"case {case}: {n:,} lines ({n / gt.num_images:.1f} per image, {gt.num_images:,} files)")
            print(f"  widerface_eval: {min(ours):.3f} s (best of {args.repeat}: "
                  f"{', '.join(f'{t:.3f}' for t in ours)}; cold ground-truth cache {cold:.3f} s), "
                  f"{n / min(ours):,.0f} lines/s, AP easy {aps[0]:.6f} medium {aps[1]:.6f} hard {aps[2]:.6f}")
            if args.reference_dir:
                diff = float(np.max(np.abs(np.array(raps) - np.array(aps))))
                res.update(reference_seconds=min(ref), reference_runs=ref, reference_aps=raps,
                           ratio=min(ref) / min(ours), max_abs_ap_diff=diff)
                print(f"  reference (wondervictor): {min(ref):.2f} s (best of {args.repeat}: "
                      f"{', '.join(f'{t:.2f}' for t in ref)}), AP easy {raps[0]:.6f} medium {raps[1]:.6f} "
                      f"hard {raps[2]:.6f}")
                print(f"  ratio: {min(ref) / min(ours):.1f}x; max |dAP| = {diff:.1e}")
            figures["cases"][str(case)] = res
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
