"""Export RetinaFace (predict phase: loc, softmax conf, landmarks) to MINDIR / ONNX / AIR and check the export.

    python export.py --checkpoint=RetinaFace-100_536.ckpt --file_format=MINDIR --height=2176 --width=2176

After writing a MINDIR the script loads it back with ``mindspore.load`` + ``nn.GraphCell`` (an ONNX file: with
onnxruntime) and compares its outputs with the network's on the same input (``--no_check`` skips this). AIR needs
Ascend.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from src.config import cfg_res50 as protocol  # noqa: E402  (src first: sets the oneDNN ISA)
from src.errors import DataError, DeviceError, run_cli  # noqa: E402

EXTENSIONS = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Export RetinaFace")
    p.add_argument("--checkpoint", "--ckpt_file", dest="checkpoint", default=None)
    p.add_argument("--file_name", default="retinaface", help="output path without extension")
    p.add_argument("--file_format", default="MINDIR", choices=["MINDIR", "ONNX", "AIR"])
    p.add_argument("--height", type=int, default=protocol["val_max_size"],
                   help="input height (default: the evaluation canvas, 2176)")
    p.add_argument("--width", type=int, default=protocol["val_max_size"])
    p.add_argument("--batch_size", type=int, default=1)
    p.add_argument("--device_target", "--device", dest="device_target", default="CPU")
    p.add_argument("--no_check", action="store_true", help="skip the GraphCell parity check")
    p.add_argument("--atol", type=float, default=1e-4)
    return p.parse_args(argv)


def export_model(net, file_name, file_format, shape, seed=0):
    """Export ``net`` for an input of ``shape`` to ``file_name`` + the format's extension (written to a temp file
    and renamed); returns (path, the random input used for the parity check)."""
    import mindspore as ms
    from src.fileio import atomic_path
    x = ms.Tensor(np.random.default_rng(seed).uniform(-120, 130, shape).astype(np.float32))
    ext = EXTENSIONS[file_format]
    path = file_name if file_name.endswith(ext) else file_name + ext
    with atomic_path(path) as tmp:
        ms.export(net, x, file_name=tmp, file_format=file_format)
    return path, x


def check_mindir(net, path, x):
    """max |diff| per output between the exported graph (GraphCell) and the network."""
    import mindspore as ms
    from mindspore import nn
    graph = ms.load(path)
    cell = nn.GraphCell(graph)
    ref = [t.asnumpy() for t in net(x)]
    out = [t.asnumpy() for t in cell(x)]
    return [float(np.abs(a - b).max()) for a, b in zip(ref, out)]


def check_onnx(net, path, x):
    """max |diff| per output between onnxruntime on the exported ONNX file and the network."""
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x.asnumpy()})
    ref = [t.asnumpy() for t in net(x)]
    return [float(np.abs(a - b).max()) for a, b in zip(ref, out)]


def main(argv=None):
    args = parse_args(argv)
    if not args.checkpoint:
        raise DataError("--checkpoint is required")
    from src.device import set_context
    from src.inference import load_model
    target = set_context(args.device_target)
    if args.file_format == "AIR" and target != "Ascend":
        raise DeviceError(f"--file_format=AIR needs --device_target=Ascend (MindSpore exports AIR only there), "
                          f"got {target}")
    net, cfg = load_model(args.checkpoint)
    shape = (args.batch_size, 3, args.height, args.width)
    path, x = export_model(net, args.file_name, args.file_format, shape)
    print(f"exported {cfg['backbone']} RetinaFace, input {shape}, to {path}", flush=True)
    if args.file_format != "AIR" and not args.no_check:
        if args.file_format == "MINDIR":
            diffs, what = check_mindir(net, path, x), "GraphCell"
        else:
            try:
                diffs, what = check_onnx(net, path, x), "onnxruntime"
            except ImportError:
                print("onnxruntime not installed: ONNX check skipped")
                return 0
        print(f"{what} vs network max |diff| (loc, conf, landm): " + ", ".join(f"{v:.3g}" for v in diffs))
        if max(diffs) > args.atol:
            print(f"export.py: error: exported {args.file_format} differs from the network by {max(diffs):.3g} > "
                  f"{args.atol}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "export.py"))
