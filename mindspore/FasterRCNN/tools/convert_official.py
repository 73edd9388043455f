"""Convert a checkpoint of the official MindSpore Faster R-CNN into a checkpoint of this folder.

    python tools/convert_official.py --src OFFICIAL.ckpt --dst OUT.ckpt [--config_path YAML] [--KEY=VALUE ...]

The official checkpoints (``faster_rcnn-12_7393.ckpt``, the fixture's ``make_weights.py`` output) hold the
network's tensors under the names this folder uses, but no configuration. The output holds the same tensors
(optimizer state left out, the old ``fpn_ncek`` typo mended) and the configuration, so that demo.py, eval.py and
export.py need no other flag. Without ``--config_path`` the shipped YAML whose head and backbone match the
checkpoint's shapes is taken, and named: 4 classes -> fasterrcnn_facemask_config_cpu.yaml, 2 ->
fasterrcnn_widerface_config.yaml, 81 -> default_config.yaml (ResNet50), default_config_101.yaml,
default_config_152.yaml or default_config_InceptionResnetV2.yaml by the backbone's layers. Other flags override the
YAML (e.g. ``--backbone=resnet_v1_50``, whose tensors have the same shapes as ResNet50 v1.5's). Every parameter of
the configured network must be found with its shape.
"""
import argparse
import os
import sys

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, MODEL_DIR)

import src  # noqa: E402,F401  (caps oneDNN at AVX2 before MindSpore loads)
from src.errors import CheckpointError, run_cli  # noqa: E402


def pick_config(params, source):
    """``(yaml path, reason)`` of the shipped config matching the checkpoint's head and backbone."""
    cls = params.get("rcnn.cls_scores.weight")
    if cls is None:
        raise CheckpointError(f"{source}: no rcnn.cls_scores.weight: not a Faster R-CNN checkpoint")
    num_classes = int(cls.shape[-1])
    if "backbone.conv2d_1a.conv.weight" in params:
        name, backbone = "default_config_InceptionResnetV2.yaml", "Inception-ResNet-v2"
    elif "backbone.layer2.7.conv1.weight" in params:
        name, backbone = "default_config_152.yaml", "ResNet152"
    elif "backbone.layer3.22.conv1.weight" in params:
        name, backbone = "default_config_101.yaml", "ResNet101"
    else:
        name = {4: "fasterrcnn_facemask_config_cpu.yaml", 2: "fasterrcnn_widerface_config.yaml",
                81: "default_config.yaml"}.get(num_classes)
        backbone = "ResNet50"
        if name is None:
            raise CheckpointError(f"{source}: its head has {num_classes} classes; no shipped config has that many "
                                  f"(4, 2 or 81): give --config_path")
    return os.path.join(MODEL_DIR, name), f"{num_classes} classes, {backbone}"


def convert(src_path, dst_path, config_path=None, overrides=(), log=print):
    """Write ``dst_path``; returns the configuration used."""
    from src.checkpoint import load_into_network, mend_names, read_checkpoint, save_checkpoint
    from src.FasterRcnn.faster_rcnn import Faster_Rcnn
    from src.model_utils.config import get_config
    params, meta = read_checkpoint(src_path)
    if meta["config"] is not None:
        log(f"note: {src_path} already carries a configuration (written by this folder); re-writing it")
    params = mend_names(params)
    if config_path is None:
        config_path, why = pick_config(params, src_path)
        log(f"config: {os.path.basename(config_path)} (the checkpoint's head and backbone: {why})")
    cfg = get_config(list(overrides) + [f"--config_path={config_path}"])
    net = Faster_Rcnn(cfg)
    n = load_into_network(net, params, src_path)
    save_checkpoint(dst_path, net, cfg.to_dict())
    log(f"wrote {dst_path}: {n} tensors + the configuration ({cfg.backbone}, {cfg.num_classes} classes incl. "
        f"background, {cfg.img_height}x{cfg.img_width})")
    return cfg


def main(argv=None):
    p = argparse.ArgumentParser(description="official MindSpore Faster R-CNN checkpoint -> checkpoint of this folder")
    p.add_argument("--src", required=True, help="checkpoint of the official code")
    p.add_argument("--dst", required=True, help="checkpoint to write")
    p.add_argument("--config_path", default=None, help="YAML (default: the shipped one matching the checkpoint)")
    args, overrides = p.parse_known_args(argv)
    import mindspore as ms
    ms.set_context(mode=ms.GRAPH_MODE)
    convert(args.src, args.dst, args.config_path, overrides)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "convert_official.py"))
