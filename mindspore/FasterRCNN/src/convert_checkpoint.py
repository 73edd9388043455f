"""ImageNet ResNet checkpoint -> Faster R-CNN backbone checkpoint (the reference's renaming), and pre-trained loading.

A ResNet of the MindSpore model zoo names its parameters ``conv1.weight``, ``bn1.gamma``,
``layer1.0.down_sample_layer.0.weight``, ``end_point.weight`` ...; the Faster R-CNN backbone expects
``backbone.conv1.weight``, ``backbone.layer1.0.conv_down_sample.weight`` and ``bn_down_sample``. Offline:

    python -m src.convert_checkpoint --ckpt_file=resnet50_imagenet.ckpt [--output=backbone.ckpt]

``train.py --pre_trained=X`` applies the same renaming on load (either checkpoint works), keeps only the backbone
tensors (float32), and with ``--finetune=True`` loads a whole Faster R-CNN checkpoint instead, without its class
heads (``cls_scores``, ``reg_scores``) and with the old ``fpn_ncek`` typo mended.
"""
import argparse
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "src"  # noqa: A001 - run as a script: python src/convert_checkpoint.py

from .checkpoint import mend_names, read_checkpoint  # noqa: E402
from .errors import CheckpointError, run_cli  # noqa: E402
from .fileio import atomic_path  # noqa: E402

KEEP_PREFIXES = ("backbone", "end_point", "global_step", "learning_rate", "moments", "momentum")
RENAMES = (("down_sample_layer.0", "conv_down_sample"), ("down_sample_layer.1", "bn_down_sample"))
HEAD_PARAMS = ("rcnn.cls_scores.", "rcnn.reg_scores.")


def backbone_name(name):
    """The Faster R-CNN name of an ImageNet ResNet parameter (``None`` for what the backbone does not use)."""
    if not name.startswith(KEEP_PREFIXES):
        name = "backbone." + name
    for old, new in RENAMES:
        name = name.replace(old, new)
    return name if name.startswith("backbone.") else None


def convert_backbone(params):
    """``{name: array}`` of the backbone tensors of an ImageNet ResNet checkpoint, float32, renamed."""
    out = {}
    for key, val in params.items():
        new = backbone_name(key)
        if new is not None and hasattr(val, "asnumpy"):
            out[new] = val.asnumpy().astype("float32")
    return out


def pretrained_params(path, finetune=False):
    """The tensors ``train.py --pre_trained`` loads from ``path`` (see the module docstring)."""
    params, _ = read_checkpoint(path)
    if finetune:
        params = mend_names(params)
        return {k: v.asnumpy() for k, v in params.items()
                if hasattr(v, "asnumpy") and not k.startswith(("accum.", "stat.", "moments.", "learning_rate",
                                                               "global_step"))
                and not any(h in k for h in HEAD_PARAMS)}
    out = convert_backbone(params)
    if not out:
        raise CheckpointError(f"{path}: no ResNet backbone parameter in it (expected names like conv1.weight or "
                              f"backbone.conv1.weight)")
    return out


def load_pretrained(net, path, finetune=False, log=print):
    """Load ``--pre_trained`` into ``net``; returns the number of tensors loaded."""
    import mindspore as ms
    params = pretrained_params(path, finetune)
    own = {p.name: p for p in net.get_parameters()}
    usable = {}
    for key, val in params.items():
        if key in own:
            if tuple(own[key].shape) != tuple(val.shape):
                hint = " (set --without_bg_loss=False for a checkpoint with background deltas)" \
                    if key.endswith("reg_scores.weight") else ""
                raise CheckpointError(f"{path}: {key} has shape {list(val.shape)}, the network expects "
                                      f"{list(own[key].shape)}{hint}")
            usable[key] = ms.Parameter(ms.Tensor(val), name=key)
    if not usable:
        raise CheckpointError(f"{path}: none of its tensors matches a parameter of this network")
    ms.load_param_into_net(net, usable)
    log(f"Loaded {len(usable)} tensors from {path}" + (" (finetune: class heads left out)" if finetune else ""))
    return len(usable)


def main(argv=None):
    p = argparse.ArgumentParser(description="ImageNet ResNet checkpoint -> Faster R-CNN backbone checkpoint")
    p.add_argument("--ckpt_file", required=True, help="ResNet checkpoint of the MindSpore model zoo")
    p.add_argument("--output", default="backbone.ckpt", help="backbone checkpoint to write (default backbone.ckpt)")
    args = p.parse_args(argv)
    import mindspore as ms
    weights = pretrained_params(args.ckpt_file)
    with atomic_path(args.output) as tmp:
        ms.save_checkpoint([{"name": k, "data": ms.Tensor(v)} for k, v in weights.items()], tmp)
    print(f"wrote {args.output}: {len(weights)} backbone tensors")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "convert_checkpoint.py"))
