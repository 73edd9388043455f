#!/usr/bin/env python
"""Generate the mini WIDER FACE used by CI and the smoke runs.

    python ci/make_mini_widerface.py --out ci/data/mini_widerface [--num-train 64 --num-val 32 --seed 0]

Real face photographs (the 100 LFW crops bundled with scikit-image) are pasted at 6 to 300 px, with soft
edges, into cluttered real photographs (scikit-image's non-face samples), with exact boxes, five landmarks,
WIDER attributes and occluders, and written in the official layouts: WIDER_{train,val}/images,
wider_face_split (txt + mat), ground_truth/wider_{face,easy,medium,hard}_val.mat, RetinaFace
{train,val}/label.txt, a Face-Mask (Pascal VOC) set, and mini_widerface_meta.json recording everything.
The same seed gives byte-identical files.  Nothing is downloaded.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (generated sub-folders are replaced)")
    p.add_argument("--num-train", type=int, default=64, help="train images (default 64)")
    p.add_argument("--num-val", type=int, default=32, help="val images (default 32)")
    p.add_argument("--num-facemask", type=int, default=16, help="Face-Mask images (default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: the number of CPUs, at most 4; the output does not depend on it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        p.error("--jobs must be >= 1")
    for k in ("num_train", "num_val", "num_facemask"):
        if getattr(args, k) < 0:
            p.error(f"--{k.replace('_', '-')} must be >= 0")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        print(f"make_mini_widerface: error: --out {args.out} exists and is not a folder", file=sys.stderr)
        return 1
    try:
        from mini_widerface import generate, summary

        meta = generate(args.out, args.num_train, args.num_val, args.num_facemask, args.seed,
                        progress=not args.quiet, jobs=args.jobs)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"make_mini_widerface: error: {e}", file=sys.stderr)
        return 1
    print(f"mini WIDER FACE written to {os.path.abspath(args.out)} in {meta['elapsed_s']:.1f} s (seed {args.seed})")
    for line in summary(meta):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
