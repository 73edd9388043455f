"""Checkpoints: TensorFlow checkpoints (``model.ckpt-<global step>``) that carry their configuration.

Every checkpoint holds the string variable ``config``: the JSON of the run's configuration (``src/config.py``), so
``demo.py``, ``eval.py``, ``export.py`` and a resumed ``train.py`` need no other flag. Checkpoints are written by
``tf.train.Saver`` (temporary files renamed into place, the ``checkpoint`` index rewritten atomically), the last
``keep_checkpoint_max`` of the folder are kept, counting those of earlier runs of the same folder.
"""
import glob
import json
import os
import re

from src.config import from_dict, to_dict
from src.errors import CheckpointError
from src.tf_compat import tf

CONFIG_VARIABLE = "config"
LEGACY_CONFIG_VARIABLE = "model_config"   # checkpoints written before the configuration was stored whole
PREFIX = "model.ckpt"
_STEP = re.compile(r"model\.ckpt-(\d+)\.index$")
_TORCH_MAGICS = (b"PK\x03\x04", b"\x80\x02\x8a\x0a", b"\x80\x02")


def add_config_variable(cfg):
    """Create the (non-trainable) variable holding the configuration as JSON."""
    return tf.get_variable(CONFIG_VARIABLE, initializer=tf.constant(json.dumps(to_dict(cfg), sort_keys=True)),
                           trainable=False)


def _not_a_checkpoint(path):
    """The CheckpointError for a file that is not a TensorFlow checkpoint, saying what it is when we can tell."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        head = b""
    if path.endswith((".pth", ".pt", ".pth.tar")) or head.startswith(_TORCH_MAGICS):
        return CheckpointError("%s is a PyTorch weight file (the released FaceBoxesProd.pth?), not a checkpoint of "
                               "this folder: convert it with python tools/convert_official.py --src %s --dst "
                               "pretrained/faceboxes_prod.ckpt and pass that" % (path, path))
    if path.endswith(".pb"):
        return CheckpointError("%s is a frozen graph (export.py's model.pb): it can only run inference (demo.py); "
                               "give the checkpoint it was exported from" % path)
    return CheckpointError("%s: not a TensorFlow checkpoint (expected a prefix with a .index file, such as "
                           "model.ckpt-5000, or a folder holding checkpoints)" % path)


def checkpoint_step_of(prefix):
    """The global step in a checkpoint name (``model.ckpt-<N>``), or None."""
    m = _STEP.search(os.path.basename(prefix) + ".index")
    return int(m.group(1)) if m else None


def all_checkpoints(folder):
    """The ``model.ckpt-<N>`` prefixes in ``folder``, by increasing global step."""
    found = []
    for index in glob.glob(os.path.join(glob.escape(folder), PREFIX + "-*.index")):
        step = checkpoint_step_of(index[: -len(".index")])
        if step is not None:
            found.append((step, index[: -len(".index")]))
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder):
    """The checkpoint of ``folder`` with the highest global step (what ``--resume auto`` continues), or None."""
    found = all_checkpoints(folder) if os.path.isdir(folder) else []
    return found[-1] if found else None


def resolve_checkpoint(path):
    """A checkpoint prefix, its ``.index`` / ``.data-*`` file, or a folder (its latest checkpoint) -> the prefix."""
    if not path:
        raise CheckpointError("no checkpoint given")
    if os.path.isdir(path):
        prefix = latest_checkpoint(path) or tf.train.latest_checkpoint(path)
        if prefix is None:
            raise CheckpointError("%s: the folder holds no TensorFlow checkpoint" % path)
        return prefix
    if os.path.isfile(path + ".index"):
        return path
    m = re.match(r"(.*)\.(index|data-\d+-of-\d+)$", path)
    if m and os.path.isfile(m.group(1) + ".index"):
        return m.group(1)
    if os.path.isfile(path):
        raise _not_a_checkpoint(path)
    raise CheckpointError("%s: no such checkpoint (expected a prefix with a .index file, such as model.ckpt-5000, "
                          "or a folder holding checkpoints)" % path)


def _variables(prefix):
    try:
        return dict(tf.train.list_variables(prefix))
    except Exception as e:  # DataLossError, NotFoundError, ...: one line naming the file
        raise CheckpointError("%s: unreadable checkpoint (%s)" % (prefix, str(e).strip().splitlines()[0])) from None


def read_config(prefix):
    """The configuration stored in a checkpoint (validated). A TensorFlow checkpoint without one is not ours."""
    names = _variables(prefix)
    if CONFIG_VARIABLE in names:
        name, legacy = CONFIG_VARIABLE, False
    elif LEGACY_CONFIG_VARIABLE in names:
        name, legacy = LEGACY_CONFIG_VARIABLE, True
    else:
        sample = ", ".join(sorted(names)[:3])
        raise CheckpointError("%s: not a FaceBoxes checkpoint of this folder (no '%s' variable; it holds %d variables "
                              "such as %s)" % (prefix, CONFIG_VARIABLE, len(names), sample or "none"))
    raw = tf.train.load_variable(prefix, name)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        stored = json.loads(raw)
    except ValueError:
        raise CheckpointError("%s: the stored configuration is not valid JSON" % prefix) from None
    return from_dict({"architecture": stored} if legacy else stored, source="%s (stored configuration)" % prefix)


def global_step_of(prefix):
    """The global step stored in a checkpoint (0 for a converted checkpoint, which has none)."""
    names = _variables(prefix)
    return int(tf.train.load_variable(prefix, "global_step")) if "global_step" in names else 0


def check_architecture(prefix, stored, wanted, what):
    """A checkpoint whose network differs from the configuration's is refused, not silently loaded."""
    if stored["architecture"] != wanted["architecture"]:
        raise CheckpointError("%s: %s was trained with architecture %s, the configuration asks for %s"
                              % (prefix, what, json.dumps(stored["architecture"], sort_keys=True),
                                 json.dumps(wanted["architecture"], sort_keys=True)))


def restorer(prefix, variables):
    """``fn(session)`` that loads ``variables`` from ``prefix`` (every one of them must be there, same shape)."""
    names = _variables(prefix)
    missing = [v.op.name for v in variables if v.op.name not in names]
    wrong = [v.op.name for v in variables if v.op.name in names
             and list(names[v.op.name]) != v.shape.as_list()]
    if missing or wrong:
        raise CheckpointError("%s: does not fit this network (missing %s; other shapes %s)"
                              % (prefix, missing[:3] or "none", wrong[:3] or "none"))
    saver = tf.train.Saver(variables)
    return lambda session: saver.restore(session, prefix)


def saver_for(folder, keep):
    """A Saver for ``folder`` that keeps the last ``keep`` checkpoints of the folder, earlier runs' included."""
    saver = tf.train.Saver(max_to_keep=keep, save_relative_paths=True)
    existing = all_checkpoints(folder) if os.path.isdir(folder) else []
    if existing:
        saver.recover_last_checkpoints(existing)
    return saver


def checkpoint_path(folder):
    """The prefix the Saver numbers with the global step: ``<folder>/model.ckpt`` -> ``model.ckpt-<N>``."""
    return os.path.join(folder, PREFIX)
