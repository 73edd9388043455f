"""S3FD checkpoints: atomic save, load with a clear word on foreign files, the latest for ``--resume auto``, pruning.

A checkpoint of this folder is a dict ``{"model": "S3FD", "format": FORMAT, "config": {...}, "state_dict": {...}}``
plus, for the training checkpoints ``sfd_face_<global step>.pth``, ``optimizer``, ``amp``, ``step``, ``epoch``,
``epoch_batches``, ``best_val``, ``rng`` and ``run`` (the run's options). ``sfd_face.pth`` (the best validation loss,
as the reference) holds the weights and configuration only. Everything is tensors and plain Python values, so files
load with ``torch.load(weights_only=True)``.

The released formats are recognised by their keys and sent to ``tools/convert_official.py``:
``yxlijun`` (yxlijun/S3FD.pytorch ``sfd_face.pth``: ``vgg.N``, ``L2Norm3_3``, ``extras``, ``loc``, ``conf``; also its
``{'epoch', 'weight'}`` resume file) and ``sfd`` (the official SFD weights converted from Caffe, as face_alignment
distributes them: ``conv1_1`` ... ``conv3_3_norm_mbox_conf`` ...).
"""
import os
import re

import torch

from .errors import CheckpointError
from .fileio import atomic_path

MODEL = "S3FD"
FORMAT = "s3fd-zoo/1"
BEST_NAME = "sfd_face.pth"
_STEP_RE = re.compile(r"^sfd_face_(\d+)\.pth$")

# yxlijun (= this folder's) parameter name -> the official SFD name (face_alignment's net_s3fd.s3fd)
_VGG_CONVS = {0: "conv1_1", 2: "conv1_2", 5: "conv2_1", 7: "conv2_2", 10: "conv3_1", 12: "conv3_2", 14: "conv3_3",
              17: "conv4_1", 19: "conv4_2", 21: "conv4_3", 24: "conv5_1", 26: "conv5_2", 28: "conv5_3", 31: "fc6",
              33: "fc7"}
_SOURCES = ["conv3_3_norm", "conv4_3_norm", "conv5_3_norm", "fc7", "conv6_2", "conv7_2"]
SFD_NAMES = {}
for _i, _n in _VGG_CONVS.items():
    SFD_NAMES.update({f"vgg.{_i}.weight": f"{_n}.weight", f"vgg.{_i}.bias": f"{_n}.bias"})
for _i, _n in enumerate(["conv6_1", "conv6_2", "conv7_1", "conv7_2"]):
    SFD_NAMES.update({f"extras.{_i}.weight": f"{_n}.weight", f"extras.{_i}.bias": f"{_n}.bias"})
for _l in (3, 4, 5):
    SFD_NAMES[f"L2Norm{_l}_3.weight"] = f"conv{_l}_3_norm.weight"
for _i, _s in enumerate(_SOURCES):
    for _h, _suffix in (("loc", "mbox_loc"), ("conf", "mbox_conf")):
        SFD_NAMES.update({f"{_h}.{_i}.weight": f"{_s}_{_suffix}.weight", f"{_h}.{_i}.bias": f"{_s}_{_suffix}.bias"})
YXLIJUN_KEYS = frozenset(SFD_NAMES)
SFD_KEYS = frozenset(SFD_NAMES.values())


def checkpoint_name(step):
    """The training checkpoint of global step ``step`` (the reference's ``sfd_face_<iter>.pth`` pattern)."""
    return f"sfd_face_{int(step)}.pth"


def save_checkpoint(path, payload):
    """Write ``payload`` (a dict) to ``path`` atomically."""
    payload = dict(payload)
    payload.setdefault("model", MODEL)
    payload.setdefault("format", FORMAT)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def strip_module(sd):
    """Remove a DataParallel / DDP ``module.`` prefix."""
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _is_state_dict(obj):
    return isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj) and \
        all(torch.is_tensor(v) for v in obj.values())


def identify(obj):
    """What a loaded file is: ``"zoo"`` (this folder's checkpoint), ``"yxlijun"``, ``"yxlijun_resume"``, ``"sfd"``,
    or a sentence describing something else."""
    if isinstance(obj, dict) and obj.get("model") == MODEL and "state_dict" in obj:
        return "zoo"
    if isinstance(obj, dict) and set(obj) >= {"epoch", "weight"} and _is_state_dict(obj["weight"]) and \
            set(strip_module(obj["weight"])) == YXLIJUN_KEYS:
        return "yxlijun_resume"
    if _is_state_dict(obj):
        keys = set(strip_module(obj))
        if keys == YXLIJUN_KEYS:
            return "yxlijun"
        if keys == SFD_KEYS:
            return "sfd"
        return "a state dict of another network"
    if isinstance(obj, dict) and "model" in obj:
        return f"a checkpoint of another model ({obj['model']!r})"
    if isinstance(obj, dict) and ("config" in obj or "state_dict" in obj or "optimizer" in obj):
        return "a checkpoint of another model"
    return f"not an S3FD checkpoint (a {type(obj).__name__})"


def torch_load(path):
    """``torch.load`` of a file we did not write ourselves, every failure as one ``CheckpointError`` line."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types (pickle, zip, unpickling policy)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({first[:160]})") from None


def read_checkpoint(path):
    """Load a checkpoint of this folder. A released weight file or another model's checkpoint is a
    ``CheckpointError`` that says what it is (released weights: "convert it with tools/convert_official.py")."""
    obj = torch_load(path)
    kind = identify(obj)
    if kind == "zoo":
        if obj.get("format") != FORMAT:
            raise CheckpointError(f"{path}: S3FD checkpoint of format {obj.get('format')!r}; this code reads {FORMAT}")
        return obj
    if kind in ("yxlijun", "yxlijun_resume", "sfd"):
        name = {"yxlijun": "released yxlijun/S3FD.pytorch weights", "yxlijun_resume": "a yxlijun/S3FD.pytorch "
                "resume file", "sfd": "the official SFD weights (face_alignment format)"}[kind]
        raise CheckpointError(f"{path}: {name}, not a checkpoint of this folder: convert it with "
                              f"python tools/convert_official.py --src {path} --dst CKPT")
    raise CheckpointError(f"{path}: {kind}, not an S3FD checkpoint")


def config_of(ck, path):
    """The validated configuration stored in checkpoint ``ck``."""
    from data.config import from_dict
    return from_dict(ck.get("config"), where=path)


def load_weights(net, state_dict, path):
    """Strict ``load_state_dict`` with a one-line error."""
    try:
        net.load_state_dict(strip_module(state_dict))
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise CheckpointError(f"{path}: weights do not fit the network ({' '.join(lines[:2])[:300]})") from None


POINTER = "last_checkpoint"      # names the newest training checkpoint of the folder (as MMEngine's file)


def step_checkpoints(folder):
    """``[(step, path)]`` of the training checkpoints in ``folder``, in the order they were written (oldest first;
    modification time, then step)."""
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        m = _STEP_RE.match(name)
        if m:
            path = os.path.join(folder, name)
            try:
                found.append((os.path.getmtime(path), int(m.group(1)), path))
            except FileNotFoundError:
                continue
    return [(step, path) for _, step, path in sorted(found)]


def mark_latest(folder, path):
    """Record ``path`` as the folder's newest training checkpoint (``last_checkpoint``, written atomically)."""
    from .fileio import write_text_atomic
    write_text_atomic(os.path.join(folder, POINTER), os.path.basename(path) + "\n")


def latest_checkpoint(folder):
    """The folder's newest training checkpoint (the one ``last_checkpoint`` names, else the last written), or
    None."""
    pointer = os.path.join(folder, POINTER)
    if os.path.isfile(pointer):
        with open(pointer, encoding="utf-8") as f:
            name = f.read().strip()
        if name and os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    found = step_checkpoints(folder)
    return found[-1][1] if found else None


def prune_checkpoints(folder, keep):
    """Delete all but the ``keep`` newest training checkpoints of ``folder`` (every one counts, also those of an
    earlier run in this folder); ``keep`` <= 0 keeps all. The one ``last_checkpoint`` names is always kept."""
    if keep <= 0:
        return []
    latest = latest_checkpoint(folder)
    old = [p for _, p in step_checkpoints(folder)[:-keep] if p != latest]
    for path in old:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    return old
