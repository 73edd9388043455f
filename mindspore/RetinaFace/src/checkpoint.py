"""Checkpoints of this folder: save (atomic), load (with a clear error for anything else), the latest of a folder,
keep the last N.

A checkpoint is a MindSpore ``.ckpt`` of the training cell (network, optimizer state, the optimizer's
``global_step``) or of the bare network (``tools/convert_official.py``), plus the run's configuration as JSON under
``CONFIG_KEY`` (``src.config.to_dict``), so that ``demo.py``, ``eval.py`` and ``export.py`` need no model flag and
``--resume`` restores the run's settings. A training checkpoint also stores the number of data-parallel devices of
its run under ``DEVICE_NUM_KEY`` (steps per epoch, data order and schedule depend on it). Training writes
``retinaface_step<global step>.ckpt`` into its output folder.
"""
import json
import os
import re
import zipfile

from .config import from_dict, to_dict
from .errors import CheckpointError
from .fileio import atomic_path
from .mindspore_ckpt import load_ckpt

CONFIG_KEY = "zoo_model_config"
DEVICE_NUM_KEY = "zoo_device_num"
NAME_PATTERN = re.compile(r"^retinaface_step(\d+)\.ckpt$")
PARTIAL_PATTERN = re.compile(r"^\.tmp_\w+\.ckpt$")     # fileio.atomic_path's temp file of a save in progress


def checkpoint_name(step):
    """``retinaface_step<step>.ckpt``: the global step is in every checkpoint name."""
    return f"retinaface_step{int(step)}.ckpt"


def save(net_or_params, path, cfg, extra=None):
    """Write ``mindspore.save_checkpoint(net_or_params)`` with the configuration ``cfg`` (and the string / number
    entries of ``extra``) embedded, through a temp file renamed into place (a reader never sees half a file)."""
    import mindspore as ms
    append = {CONFIG_KEY: json.dumps(to_dict(cfg), sort_keys=True)}
    append.update(extra or {})
    with atomic_path(path) as tmp:
        ms.save_checkpoint(net_or_params, tmp, append_dict=append)
    return path


def _pytorch_file(path):
    """Whether ``path`` is a PyTorch weight file (a zip with ``data.pkl``, or a legacy pickle)."""
    if path.endswith((".pth", ".pt", ".pth.tar")):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if head[:1] == b"\x80":                         # pickle protocol 2+ (torch.save before zip files)
            return True
        if head == b"PK" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return any(n.endswith("/data.pkl") or n == "data.pkl" for n in z.namelist())
    except OSError:
        return False
    return False


def load(path):
    """``(params, cfg or None, extras)``: the parameters (name -> Parameter), the stored configuration
    (``src.config.from_dict``; ``None`` for a checkpoint written elsewhere, e.g. by the official MindSpore
    RetinaFace), and the other stored strings / numbers. Raises ``CheckpointError`` for a missing or unreadable
    file, a PyTorch file (convert it with tools/convert_official.py) or a checkpoint of another model."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint")
    if _pytorch_file(path):
        raise CheckpointError(f"{path}: a PyTorch weight file, not a MindSpore checkpoint of this folder; convert it "
                              f"with python tools/convert_official.py --src {path} --dst retinaface_mnet025.ckpt")
    try:
        params = load_ckpt(path)
    except Exception as e:  # noqa: BLE001 - MindSpore raises ValueError / RuntimeError for corrupt files
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(f"{path}: not a readable MindSpore checkpoint ({e.__class__.__name__}: {first})") \
            from None
    cfg, extras = None, {}
    for k in list(params):
        v = params[k]
        if k == CONFIG_KEY:
            try:
                stored = json.loads(str(v))
            except ValueError:
                raise CheckpointError(f"{path}: its {CONFIG_KEY} entry is not JSON") from None
            cfg = from_dict(stored, where=path)
            del params[k]
        elif isinstance(v, (str, int, float)):
            extras[k] = v
            del params[k]
    return params, cfg, extras


def global_step(params):
    """The optimizer's step counter stored in a training checkpoint (0 for a network-only checkpoint)."""
    p = params.get("global_step")
    return int(p.asnumpy().reshape(-1)[0]) if p is not None else 0


def device_num(extras):
    """The data-parallel devices of the run that wrote a checkpoint (``load``'s extras); ``None`` when not stored."""
    v = extras.get(DEVICE_NUM_KEY)
    return int(v) if v is not None else None


def list_checkpoints(folder):
    """``[(step, path)]`` of this folder's training checkpoints, by step."""
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        m = NAME_PATTERN.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(folder, name)))
    return sorted(found)


def latest(folder):
    """The checkpoint of the highest global step in ``folder`` (``--resume auto``), or ``None``."""
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def remove_partial(folder):
    """Delete the temp files of checkpoint saves that never finished (a run killed while saving leaves its
    ``.tmp_*.ckpt``; only complete files are renamed to a checkpoint name); returns the deleted paths. Called
    by the run that writes ``folder``, before it trains."""
    if not os.path.isdir(folder):
        return []
    old = [os.path.join(folder, name) for name in sorted(os.listdir(folder)) if PARTIAL_PATTERN.match(name)]
    for p in old:
        os.remove(p)
    return old


def keep_last(folder, n):
    """Delete all but the ``n`` checkpoints of the highest steps in ``folder`` (every one of the folder counts,
    whichever run wrote it); returns the deleted paths."""
    found = list_checkpoints(folder)
    old = [p for _, p in found[:-n]] if n > 0 else []
    for p in old:
        os.remove(p)
    return old
