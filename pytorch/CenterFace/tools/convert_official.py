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

from src.checkpoint import save  # noqa: E402
from src.config import ArgumentParser  # noqa: E402
from src.errors import run_cli  # noqa: E402
from src.official_onnx import convert_official_onnx  # noqa: E402


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", required=True, help="the released ONNX file")
    p.add_argument("--dst", required=True, help="output checkpoint (.pth)")
    a = p.parse_args(argv)
    model, sd = convert_official_onnx(a.src)
    with open(a.src, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    save({"model": sd, "config": model.cfg.to_dict(), "source": {"onnx": os.path.abspath(a.src), "sha256": sha}},
         a.dst)
    print(f"wrote {a.dst}: {sum(v.numel() for k, v in sd.items() if 'num_batches' not in k)} values, "
          f"config {model.cfg.variant} (source sha256 {sha[:12]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "convert_official.py"))
