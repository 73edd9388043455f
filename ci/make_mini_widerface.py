#!/usr/bin/env python
"""Generate the mini WIDER FACE used by CI and the smoke runs.

    python ci/make_mini_widerface.py --out ci/data/mini_widerface [--num-train 64 --num-val 32 --seed 0]
    python ci/make_mini_widerface.py --overfit 8 --out DIR      # train = val = 8 images (the overfit runs)

Real face photographs (the 100 LFW crops bundled with scikit-image) are pasted at 6 to 300 px, with soft
edges, into cluttered real photographs (scikit-image's non-face samples), with exact boxes, five landmarks,
WIDER attributes and occluders, and written in the official layouts: WIDER_{train,val}/images,
wider_face_split (txt + mat), ground_truth/wider_{face,easy,medium,hard}_val.mat, RetinaFace
{train,val}/label.txt, a Face-Mask (Pascal VOC) set, and mini_widerface_meta.json recording everything.
The same seed gives byte-identical files.  Nothing is downloaded.

--overfit N writes the same layouts with train and val both holding the same N images: the first N train images
(in generation order) that have a face of the easy setting and no valid face under 30 px, i.e. faces a detector can
learn at a reduced input size; for N <= 16 they are images of the default set (same names, same bytes).  The
models' test/train_overfit.sh train on them until they detect them (CONTRIBUTING.md §5).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (generated sub-folders are replaced)")
    p.add_argument("--num-train", type=int, default=None, help="train images (default 64)")
    p.add_argument("--num-val", type=int, default=None, help="val images (default 32)")
    p.add_argument("--num-facemask", type=int, default=None, help="Face-Mask images (default 16; N with --overfit)")
    p.add_argument("--overfit", type=int, default=None, metavar="N",
                   help="train and val are the same N images with faces of a trainable size (see above)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: the number of CPUs, at most 4; the output does not depend on it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        p.error("--jobs must be >= 1")
    if args.overfit is not None:
        if not 1 <= args.overfit <= 64:
            p.error("--overfit must be between 1 and 64 (an overfit run learns a few images)")
        if args.num_train is not None or args.num_val is not None:
            p.error("--overfit N sets both splits to the same N images: leave out --num-train / --num-val")
    for k, default in (("num_train", 64), ("num_val", 32), ("num_facemask", args.overfit or 16)):
        if getattr(args, k) is None:
            setattr(args, k, default)
        if getattr(args, k) < 0:
            p.error(f"--{k.replace('_', '-')} must be >= 0")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        print(f"make_mini_widerface: error: --out {args.out} exists and is not a folder", file=sys.stderr)
        return 1
    try:
        from mini_widerface import generate, summary

        meta = generate(args.out, args.num_train, args.num_val, args.num_facemask, args.seed,
                        progress=not args.quiet, jobs=args.jobs, overfit=args.overfit)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"make_mini_widerface: error: {e}", file=sys.stderr)
        return 1
    print(f"mini WIDER FACE written to {os.path.abspath(args.out)} in {meta['elapsed_s']:.1f} s (seed {args.seed})")
    for line in summary(meta):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
