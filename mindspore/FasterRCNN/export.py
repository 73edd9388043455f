"""Export a Faster R-CNN checkpoint (MINDIR by default; ONNX; AIR on Ascend) and check the export.

    python export.py --ckpt_file=CKPT [--file_name=faster_rcnn] [--file_format=MINDIR] [--device_target=CPU]
    python export.py --config_path=fasterrcnn_facemask_config_cpu.yaml --ckpt_file=OFFICIAL.ckpt ...

The exported graph is the reference's ``FasterRcnn_Infer`` (``restore_bbox``): inputs ``img_data (B, 3, H, W)``
(the evaluation preprocessing) and ``img_metas (B, 4)`` ``(h, w, scale_h, scale_w)``; outputs ``all_bbox``,
``all_label``, ``all_mask`` (see ``src/FasterRcnn/faster_rcnn.py``). The settings come from the checkpoint.

After a MINDIR export the file is loaded back (``mindspore.load`` + ``nn.GraphCell``) and run on ``--check_image``
(default: a seeded synthetic photo-like image) next to the network it came from, before it takes the file's name;
the outputs must be identical, else the new file is removed (an earlier export of that name stays) and the command
fails. ``--no_check`` skips it. ONNX is exported with the reference's
all-levels RoIAlign (static shapes; the same numbers) and, when onnxruntime is installed, run next to the network:
the share of the network's detections it reproduces is printed (onnxruntime's arithmetic differs slightly, so
this is a report, not an equality). AIR needs an Ascend device.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import src  # noqa: E402,F401  (caps oneDNN at AVX2 before MindSpore loads)
from src.errors import run_cli  # noqa: E402

EXTENSIONS = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}


def extra_flags():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--check_image", default=None, help="image for the MINDIR check (default: a synthetic image)")
    p.add_argument("--no_check", action="store_true", help="skip the MINDIR check")
    return p


def synthetic_image(seed=0, h=480, w=640):
    """A smooth photo-like BGR image (gradients, blobs, texture), deterministic."""
    import numpy as np
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w * 200, yy / h * 200, (xx + yy) / (w + h) * 255], -1)
    for _ in range(12):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(15, 90)
        col = rng.uniform(0, 255, 3)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
        img[mask] = 0.4 * img[mask] + 0.6 * col
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def build_infer_net(cfg, params, source):
    from src.checkpoint import load_into_network
    from src.FasterRcnn.faster_rcnn import FasterRcnn_Infer
    net = FasterRcnn_Infer(cfg, restore_bbox=True)
    load_into_network(net, params, source, prefix="network.")
    net.set_train(False)
    return net


def export_network(net, inputs, file_name, file_format, check=None):
    """``ms.export`` to ``file_name`` + extension, atomically; returns the path. ``check(tmp_path)``, when given,
    runs on the new file before it replaces anything: when it raises, the new file is removed and a file of the
    same name from an earlier export is left as it was."""
    import mindspore as ms
    from src.errors import ConfigError
    from src.fileio import atomic_path
    path = file_name + EXTENSIONS[file_format]
    with atomic_path(path) as tmp:
        base = tmp[:-len(EXTENSIONS[file_format])]
        try:
            ms.export(net, *inputs, file_name=base, file_format=file_format)
        except (RuntimeError, ValueError, TypeError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"{file_format} export failed in MindSpore {ms.__version__}: {first}") from None
        if check is not None:
            check(tmp)
    return path


def check_onnx(path, net, inputs, num_gts):
    """onnxruntime on the exported ONNX next to the network: ``(matched, total)`` of the network's kept detections
    (eval.py's rule) found in the ONNX outputs (same label, IoU >= 0.99, score within 1e-3), or None without
    onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from src.inference import eval_detections, match_detections
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {i.name: t.asnumpy() for i, t in zip(sess.get_inputs(), inputs)}
    got = sess.run(None, feeds)
    want = [o.asnumpy() for o in net(*inputs)]
    a = eval_detections(got[0][0], got[1][0], got[2][0], num_gts)
    b = eval_detections(want[0][0], want[1][0], want[2][0], num_gts)
    return match_detections(a, b, top=len(b)), len(b)


def check_mindir(path, net, inputs):
    """Run the exported MINDIR (``mindspore.load`` + ``nn.GraphCell``) and the network on ``inputs``; returns the
    max |difference| of each output (all must be 0)."""
    import mindspore as ms
    import numpy as np
    graph = ms.load(path)
    cell = ms.nn.GraphCell(graph)
    got = [o.asnumpy() for o in cell(*inputs)]
    want = [o.asnumpy() for o in net(*inputs)]
    return [float(np.abs(g.astype(np.float64) - w.astype(np.float64)).max()) if g.shape == w.shape else float("inf")
            for g, w in zip(got, want)]


def main(argv=None):
    from src.model_utils.config import get_config
    from src.model_utils.moxing_adapter import moxing_wrapper
    cfg = get_config(argv, description="Export a Faster R-CNN checkpoint (MINDIR, ONNX, AIR)", parents=[extra_flags()])

    @moxing_wrapper(cfg)
    def run():
        return export_fasterrcnn(cfg, cfg._extra)

    return run()


def export_fasterrcnn(cfg, extra):
    import mindspore as ms
    import numpy as np
    from src.dataset import preprocess_eval
    from src.device import mixed_precision, set_context
    from src.errors import ConfigError, DeviceError
    from src.image_io import read_image
    from src.inference import read_for_inference
    if not cfg.ckpt_file:
        raise ConfigError("--ckpt_file=CKPT is required (the checkpoint to export)")
    ecfg, params = read_for_inference(cfg.ckpt_file, cfg)
    if ecfg.file_format == "ONNX" and ecfg.roi_align_per_level:
        # ONNX has no dynamic-shape gather of the per-level RoIAlign: the reference's all-levels path, same numbers
        ecfg = type(ecfg).from_dict(dict(ecfg.to_dict(), roi_align_per_level=False))
    target = set_context(ecfg.device_target, ecfg.device_id)
    if ecfg.file_format == "AIR" and target != "Ascend":
        raise DeviceError(f"AIR export needs an Ascend device (this run is on {target}); use --file_format=MINDIR")
    net = build_infer_net(ecfg, params, cfg.ckpt_file)
    mixed_precision(net, target)
    image = read_image(extra.check_image) if extra.check_image else synthetic_image()
    x, m = preprocess_eval(image, ecfg)
    inputs = (ms.Tensor(np.repeat(x[None], ecfg.test_batch_size, 0)),
              ms.Tensor(np.repeat(m[None], ecfg.test_batch_size, 0)))
    out_path = ecfg.file_name + EXTENSIONS[ecfg.file_format]

    def mindir_check(tmp):
        diffs = check_mindir(tmp, net, inputs)
        if any(d != 0 for d in diffs):
            raise ConfigError(f"{out_path}: the exported graph's outputs differ from the network's (max |diff| "
                              f"all_bbox {diffs[0]}, all_label {diffs[1]}, all_mask {diffs[2]}); not written")

    checked = ecfg.file_format == "MINDIR" and not extra.no_check
    path = export_network(net, inputs, ecfg.file_name, ecfg.file_format, check=mindir_check if checked else None)
    print(f"exported {path} ({ecfg.file_format}; inputs img_data {list(inputs[0].shape)}, img_metas "
          f"{list(inputs[1].shape)})", flush=True)
    if checked:
        print(f"check: {path} loaded with mindspore.load + nn.GraphCell gives the network's outputs exactly "
              f"({'a synthetic image' if not extra.check_image else extra.check_image})", flush=True)
    if ecfg.file_format == "ONNX" and not extra.no_check:
        agree = check_onnx(path, net, inputs, ecfg.num_gts)
        if agree is None:
            print("check: onnxruntime is not installed, the ONNX file was not run", flush=True)
        else:
            print(f"check: onnxruntime on {path} finds {agree[0]} of the network's {agree[1]} kept detections (same "
                  f"label, IoU >= 0.99, score within 1e-3; near-tied scores of an untrained network may swap)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "export.py"))
