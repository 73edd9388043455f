"""Checkpoints: written atomically (temp file + fsync + rename); every checkpoint carries its model config."""
import os

import torch

from .fileio import atomic_file
from .model import CenterFace, get_config


class CheckpointError(Exception):
    pass


def save_atomic(obj, path):
    with atomic_file(path) as f:
        torch.save(obj, f)


def read_checkpoint(path):
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - report any unpickling failure as a bad file
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({e.__class__.__name__}: {e})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{path}: not a CenterFace checkpoint (expected keys 'model' and 'config'; "
                              "convert released weights with tools/convert_official.py)")
    return ckpt


def strip_module(sd):
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def load_model(path, device="cpu"):
    """Returns (model in eval mode, config) from a checkpoint written by train.py or convert_official.py."""
    ckpt = read_checkpoint(path)
    cfg = get_config(ckpt["config"])
    model = CenterFace(cfg)
    try:
        model.load_state_dict(strip_module(ckpt["model"]))
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the {cfg['variant']} configuration: "
                              f"{str(e).splitlines()[0]}") from None
    return model.to(device).eval(), cfg
