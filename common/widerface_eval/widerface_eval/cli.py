"""``python -m widerface_eval --pred DIR --gt DIR [--iou 0.5] [--json FILE] [--plot FILE.png] [--strict]``"""

import argparse
import sys
import warnings

from .evaluation import evaluate
from .io import WiderFormatError
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not 0.0 < args.iou <= 1.0:
        print(f"widerface_eval: --iou must be in (0, 1], got {args.iou}", file=sys.stderr)
        return 2

    def _warn(message, category, filename, lineno, file=None, line=None):
        print(f"widerface_eval: warning: {message}", file=sys.stderr)

    warnings.showwarning = _warn
    try:
        res = evaluate(args.pred, args.gt, iou_thresh=args.iou, strict=args.strict,
                       score_norm=args.score_norm, progress=not args.quiet)
    except (WiderFormatError, OSError) as exc:
        print(f"widerface_eval: error: {exc}", file=sys.stderr)
        return 1
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
