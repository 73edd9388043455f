"""Checkpoints: save (atomic, with the configuration), read, load into a network, find the latest, keep the last N.

A checkpoint of this folder is a MindSpore ``.ckpt`` holding the network's parameters under the reference's names
(so that the official code can read it, and its checkpoints can be read here), the optimizer state when written by
training (``accum.*``, ``stat.*``, ``global_step``, ``learning_rate`` as MindSpore's SGD names them) and three extra
entries: ``frcnn_config`` (the JSON of the run's configuration, ``Config.to_dict``), ``frcnn_global_step`` and
``frcnn_epoch``. Names are ``faster_rcnn-<epoch>_<global step>.ckpt`` (the reference's pattern, with the global
step).

A checkpoint of the official code (no configuration) is turned into one of this folder by
``tools/convert_official.py``; ``eval.py`` / ``export.py`` also accept it with ``--config_path``.
"""
import glob
import json
import os
import re

from .errors import CheckpointError
from .fileio import atomic_path
from .mindspore_ckpt import load_ckpt

CONFIG_KEY = "frcnn_config"
STEP_KEY = "frcnn_global_step"
EPOCH_KEY = "frcnn_epoch"
META_KEYS = (CONFIG_KEY, STEP_KEY, EPOCH_KEY)
PREFIX = "faster_rcnn"
_NAME = re.compile(r"^faster_rcnn-(\d+)_(\d+)\.ckpt$")


def checkpoint_name(epoch, step):
    return f"{PREFIX}-{epoch}_{step}.ckpt"


def _sniff(path):
    """A one-line reason when ``path`` is clearly not a MindSpore checkpoint, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({e.strerror or e})") from None
    if not head:
        return "an empty file"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return "a PyTorch / pickle file, not a MindSpore checkpoint (this model reads MindSpore .ckpt files)"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 (Keras) file, not a MindSpore checkpoint"
    return None


def read_checkpoint(path):
    """``(params, meta)``: the tensors of ``path`` by name, and ``meta`` = ``{"config": dict or None, "step": int
    or None, "epoch": int or None}``. Raises ``CheckpointError`` for a missing, unreadable or foreign file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint")
    reason = _sniff(path)
    if reason:
        raise CheckpointError(f"{path}: {reason}")
    try:
        raw = load_ckpt(path)
    except (ValueError, RuntimeError, OSError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable MindSpore checkpoint ({first})") from None
    meta = {"config": None, "step": None, "epoch": None}
    if CONFIG_KEY in raw:
        try:
            meta["config"] = json.loads(str(raw.pop(CONFIG_KEY)))
        except ValueError:
            raise CheckpointError(f"{path}: its stored configuration ({CONFIG_KEY}) is not valid JSON") from None
    for key, name in ((STEP_KEY, "step"), (EPOCH_KEY, "epoch")):
        if key in raw:
            meta[name] = int(raw.pop(key).asnumpy())
    return raw, meta


def mend_names(params):
    """The reference's old parameter typo ``fpn_ncek`` -> ``fpn_neck`` (as its eval.py does)."""
    out = {}
    for key, val in params.items():
        out[key.replace("fpn_ncek", "fpn_neck") if key.startswith("fpn_ncek") else key] = val
    return out


def _shape(p):
    return tuple(int(s) for s in p.shape)


def load_into_network(net, params, source, prefix=""):
    """Load the tensors named like ``net``'s parameters (after ``prefix``) from ``params``; every parameter of
    ``net`` must be found with its shape. Returns the number loaded; ``CheckpointError`` names what is wrong."""
    import mindspore as ms
    params = mend_names(params)
    wanted = {p.name: p for p in net.get_parameters()}
    found = {n: params.get(n[len(prefix):] if n.startswith(prefix) else n) for n in wanted}
    missing = [n for n, v in found.items() if v is None]
    if len(missing) == len(wanted):
        sample = ", ".join(sorted(k for k in params)[:3]) or "nothing"
        raise CheckpointError(f"{source}: not a Faster R-CNN checkpoint (none of the network's {len(wanted)} "
                              f"parameters is in it; it holds e.g. {sample})")
    for name, val in found.items():
        if val is None or _shape(val) == _shape(wanted[name]):
            continue
        key = name[len(prefix):] if name.startswith(prefix) else name
        got, exp = _shape(val), _shape(wanted[name])
        if key.endswith("reg_scores.weight") and got[-1] == exp[-1] + 4:
            hint = ("its regression head has background deltas (an older checkpoint): set --without_bg_loss=False")
        elif key.endswith(("cls_scores.weight", "cls_scores.bias")):
            hint = (f"its head has {got[-1]} classes, the configuration {exp[-1]} (num_classes, background "
                    f"included): use the configuration it was trained with")
        elif key.endswith(("reg_scores.weight", "reg_scores.bias")):
            hint = f"its head has {got[-1] // 4} regression classes, the configuration {exp[-1] // 4}"
        else:
            hint = "another backbone or size than the configuration's"
        raise CheckpointError(f"{source}: {key} has shape {list(got)}, the network expects {list(exp)}: {hint}")
    if missing:
        raise CheckpointError(f"{source}: {len(missing)} of the network's {len(wanted)} parameters are missing, "
                              f"e.g. {', '.join(missing[:3])}")
    not_loaded, _ = ms.load_param_into_net(net, {n: v for n, v in found.items()}, strict_load=True)
    if not_loaded:
        raise CheckpointError(f"{source}: {len(not_loaded)} parameters were not loaded, e.g. {not_loaded[:3]}")
    return len(found)


def save_checkpoint(path, params, config_dict, step=None, epoch=None):
    """Write ``params`` (a Cell or a list of ``{"name", "data"}``) and the run's configuration to ``path``,
    atomically."""
    import mindspore as ms
    append = {CONFIG_KEY: json.dumps(config_dict, sort_keys=True)}
    if step is not None:
        append[STEP_KEY] = int(step)
    if epoch is not None:
        append[EPOCH_KEY] = int(epoch)
    with atomic_path(path) as tmp:
        ms.save_checkpoint(params, tmp, append_dict=append)
    return path


def list_checkpoints(folder):
    """The ``faster_rcnn-<epoch>_<step>.ckpt`` files of ``folder``, oldest (lowest global step) first."""
    found = []
    for path in glob.glob(os.path.join(folder, f"{PREFIX}-*.ckpt")):
        m = _NAME.match(os.path.basename(path))
        if m:
            found.append((int(m.group(2)), int(m.group(1)), path))
    return [p for _, _, p in sorted(found)]


def latest_checkpoint(folder):
    """The checkpoint of the highest global step in ``folder`` (``--resume auto``), or None."""
    ckpts = list_checkpoints(folder)
    return ckpts[-1] if ckpts else None


def prune_checkpoints(folder, keep):
    """Remove all but the ``keep`` latest checkpoints of ``folder`` (every checkpoint of the folder counts)."""
    ckpts = list_checkpoints(folder)
    for path in ckpts[:max(0, len(ckpts) - keep)]:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def inference_config(path, meta, config=None):
    """The configuration to run ``path`` with: the one stored in it, else ``config``; a checkpoint of the
    official code without ``config`` is refused with the command that converts it."""
    from .model_utils.config import Config
    if meta.get("config") is not None:
        try:
            return Config.from_dict(meta["config"])
        except Exception as e:                       # noqa: BLE001 - a stored config this version cannot use
            raise CheckpointError(f"{path}: its stored configuration is not usable ({e})") from None
    if config is not None:
        return config
    raise CheckpointError(f"{path}: holds no configuration (a checkpoint of the official MindSpore code?): convert "
                          f"it with tools/convert_official.py --src {path} --dst OUT.ckpt")
