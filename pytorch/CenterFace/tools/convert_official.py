"""Converts the released official CenterFace ONNX (centerface.onnx / centerface_bnmerged.onnx) into a checkpoint of
the ``official`` configuration that demo.py, eval.py and export.py accept.

    python tools/convert_official.py --src ../../../shared/weights/centerface/centerface.onnx \
        --dst centerface_official.pth
"""
import argparse
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.checkpoint import save_atomic  # noqa: E402
from src.convert_onnx import ConversionError, convert_official_onnx  # noqa: E402
from src.paths import official_onnx  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", default=official_onnx(), help="official ONNX file (default: the shared copy)")
    p.add_argument("--dst", required=True, help="output checkpoint (.pth)")
    a = p.parse_args(argv)
    if not os.path.isfile(a.src):
        print(f"error: {a.src}: file not found", file=sys.stderr)
        return 2
    try:
        model, sd = convert_official_onnx(a.src)
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with open(a.src, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    try:
        save_atomic({"model": sd, "config": model.cfg, "epoch": 0,
                     "source": {"onnx": os.path.abspath(a.src), "sha256": sha}}, a.dst)
    except OSError as e:
        print(f"error: {a.dst}: cannot write ({e.strerror or e})", file=sys.stderr)
        return 2
    print(f"wrote {a.dst}: {sum(v.numel() for k, v in sd.items() if 'num_batches' not in k)} values, "
          f"config {model.cfg['variant']} (source sha256 {sha[:12]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
