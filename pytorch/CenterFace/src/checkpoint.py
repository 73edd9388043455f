"""Checkpoints: written atomically (src/fileio.py), each carrying the run's configuration (``config``).

A training checkpoint is ``<output>/centerface_step<N>.pth``, N the global step, and holds the weights, optimizer,
AMP scaler, epoch / step counters, best val loss, RNG states and ``config`` (``Config.to_dict()``). ``model_best.pth``
is the checkpoint of the lowest val loss (the reference's name). A converted released model
(tools/convert_official.py) holds ``model`` and ``config`` only.
"""
import glob
import os
import random
import re

import numpy as np
import torch

from .config import Config
from .errors import CheckpointError, UserError
from .fileio import atomic_path

PREFIX = "centerface_step"
_STEP_NAME = re.compile(re.escape(PREFIX) + r"(\d+)\.pth$")
BEST = "model_best.pth"


def step_path(folder, step):
    return os.path.join(folder, f"{PREFIX}{step}.pth")


def step_checkpoints(folder):
    """``[(step, path)]`` of every ``centerface_step<N>.pth`` in ``folder``, by step."""
    found = []
    for p in glob.glob(os.path.join(glob.escape(folder), PREFIX + "*.pth")):
        m = _STEP_NAME.search(os.path.basename(p))
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest(folder):
    """The checkpoint of the highest global step in ``folder`` (``--resume auto``), or None."""
    found = step_checkpoints(folder)
    return found[-1][1] if found else None


def save(obj, path):
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def keep_last(folder, n):
    """Deletes all but the ``n`` latest step checkpoints of ``folder`` (every one counts, whichever session wrote
    it); ``n`` = 0 keeps all."""
    if n > 0:
        for _, p in step_checkpoints(folder)[:-n]:
            os.remove(p)


def read_checkpoint(path):
    """The checkpoint dict at ``path`` (a folder: its latest step checkpoint), with ``config`` as a ``Config``."""
    if os.path.isdir(path):
        found = latest(path)
        if found is None:
            raise CheckpointError(f"{path}: no {PREFIX}<N>.pth checkpoint in this folder")
        path = found
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.endswith(".onnx"):
        raise CheckpointError(f"{path}: an ONNX file, not a checkpoint; convert released weights with "
                              "tools/convert_official.py")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling failure: not a checkpoint
        first = (str(e).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({e.__class__.__name__}: {first})") \
            from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{path}: not a CenterFace checkpoint (expected keys 'model' and 'config'; "
                              "convert released weights with tools/convert_official.py)")
    try:
        ckpt["config"] = Config.from_dict(ckpt["config"])
    except UserError as e:
        raise CheckpointError(f"{path}: not a CenterFace checkpoint ({e})") from None
    ckpt["path"] = path
    return ckpt


def strip_module(sd):
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def load_weights(model, ckpt):
    try:
        model.load_state_dict(strip_module(ckpt["model"]))
    except RuntimeError as e:
        raise CheckpointError(f"{ckpt['path']}: weights do not fit the {model.cfg.variant} configuration: "
                              f"{str(e).splitlines()[0]}") from None


def restore(ckpt, model, optimizer, amp):
    """A resumed run's weights, optimizer, AMP scaler and RNG states from the training checkpoint ``ckpt``."""
    load_weights(model, ckpt)
    try:
        optimizer.load_state_dict(ckpt["optimizer"])
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{ckpt['path']}: optimizer state does not fit this run ({e})") from None
    amp.load_state_dict(ckpt.get("scaler"))
    set_rng_state(ckpt.get("rng"))


def load_model(path, device="cpu"):
    """(model in eval mode, Config) from a checkpoint written by train.py or tools/convert_official.py."""
    from .model import CenterFace
    ckpt = read_checkpoint(path)
    model = CenterFace(ckpt["config"])
    load_weights(model, ckpt)
    return model.to(device).eval(), ckpt["config"]


class Checkpointer:
    """Writes the training checkpoints of a run (rank 0 only): ``centerface_step<N>.pth`` after every epoch and
    where a step limit stops the run, the ``keep`` latest of the folder kept (0: all), and ``model_best.pth``
    when the val loss improved."""

    def __init__(self, folder, model, optimizer, amp, cfg, world, enabled=True, keep=0):
        self.folder, self.model, self.optimizer, self.amp, self.cfg = folder, model, optimizer, amp, cfg
        self.world, self.enabled, self.keep = world, enabled, keep

    def state_dict(self, state):
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.amp.state_dict(), **state.to_dict(), "world": self.world,
                "config": self.cfg.to_dict(), "rng": rng_state()}

    def save(self, state, best=False):
        if not self.enabled:
            return None
        ck = self.state_dict(state)
        path = save(ck, step_path(self.folder, state.step))
        if best:
            save(ck, os.path.join(self.folder, BEST))
        keep_last(self.folder, self.keep)
        return path


def rng_state():
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(st):
    if st:
        torch.set_rng_state(st["torch"])
        np.random.set_state(st["numpy"])
        random.setstate(st["python"])
