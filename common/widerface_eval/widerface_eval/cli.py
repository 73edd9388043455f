"""``python -m widerface_eval --pred DIR --gt DIR [--iou 0.5] [--json FILE] [--plot FILE.png] [--strict]``"""

import argparse
import sys
import warnings

from .evaluation import _default_workers, evaluate
from .io import NoMatchingPredictionsError, WiderFormatError
from .plot import plot_pr_curves, write_json


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m widerface_eval",
        description="Evaluate a WIDER FACE prediction folder (<event>/<image>.txt) with the official protocol.")
    p.add_argument("--pred", required=True, help="prediction folder: <event>/<image stem>.txt files")
    p.add_argument("--gt", required=True, help="folder with wider_{face,easy,medium,hard}_val.mat")
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold (default 0.5)")
    p.add_argument("--json", help="write APs and PR curves to this JSON file")
    p.add_argument("--plot", help="draw the PR curves to this PNG file")
    p.add_argument("--legend", default=None, help="method name for the plot legend")
    p.add_argument("--strict", action="store_true", help="a missing prediction file is an error")
    p.add_argument("--score-norm", choices=("python", "matlab"), default="python",
                   help="global score normalisation: min/max initialised at 1/0 as the Python evaluator "
                        "(default) or the plain min/max of the MATLAB code")
    p.add_argument("--workers", type=int, default=0,
                   help="processes reading and matching the prediction files (default 0: the available "
                        "CPUs, at most 4; 1: none forked)")
    p.add_argument("--quiet", action="store_true", help="no progress bar (there is one only on a terminal)")
    return p


def _keep_freed_memory():
    """Let glibc keep freed heap memory for the rest of this (short) process.

    The evaluation allocates and frees NumPy temporaries of a few hundred KB, thousands of times; by default
    glibc hands such memory back to the system and takes page faults to get it again, which costs about a third
    of the evaluation time. Only the CLI does this: it owns its process.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 32 << 20)    # M_MMAP_THRESHOLD: blocks up to 32 MB come from the heap
        libc.mallopt(-1, 1 << 30)     # M_TRIM_THRESHOLD: do not shrink the heap
    except (OSError, AttributeError):  # pragma: no cover (not glibc)
        pass


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not 0.0 < args.iou <= 1.0:
        print(f"widerface_eval: --iou must be in (0, 1], got {args.iou}", file=sys.stderr)
        return 2
    if args.workers < 0:
        print(f"widerface_eval: --workers must be >= 0, got {args.workers}", file=sys.stderr)
        return 2

    def _warn(message, category, filename, lineno, file=None, line=None):
        print(f"widerface_eval: warning: {message}", file=sys.stderr)

    warnings.showwarning = _warn
    _keep_freed_memory()
    try:
        res = evaluate(args.pred, args.gt, iou_thresh=args.iou, strict=args.strict,
                       score_norm=args.score_norm, progress=not args.quiet,
                       workers=args.workers or _default_workers())
    except (NoMatchingPredictionsError, WiderFormatError, OSError) as exc:
        print(f"widerface_eval: error: {exc}", file=sys.stderr)   # bad input: one line, exit 2 (as argparse)
        return 2
    print("==================== Results ====================")
    print(res.summary())
    print("=================================================")
    if args.json:
        write_json(res, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        plot_pr_curves(res, args.plot, legend=args.legend)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
