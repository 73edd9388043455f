"""The one source of every FaceBoxes setting: defaults, the two architecture presets, validation.

A configuration is a JSON-serialisable dict in the layout of TropComplique's ``config.json``::

    {"architecture":          the network (below): what inference needs besides the weights,
     "model_params":          loss, OHEM, optimiser, schedule, checkpointing, post-processing,
     "input_pipeline_params": training input size, batch, shuffling, augmentation, data-parallel workers}

``default_config()`` is the reference's configuration; ``from_dict(d)`` merges a partial dict (a ``--config`` file,
the flags of ``train.py``, a checkpoint's stored dict) onto it and validates every value (``ConfigError`` names the
setting and what is wrong); ``to_dict`` gives the dict that ``src/checkpoint.py`` stores in every checkpoint.

The *architecture* fully defines inference:

``padding``         ``"same"`` (TF 'SAME', the TropComplique network) or ``"symmetric"`` (explicit k//2 zero padding
                    on both sides, as PyTorch ``padding=k//2``; needed for the released PyTorch weights).
``inception_pool``  ``"max"`` (3x3/1 max pool, TropComplique) or ``"avg"`` (3x3/1 average pool that counts the zero
                    padding, PyTorch ``AvgPool2d`` default).
``bn_epsilon``      1e-3 (TropComplique) or 1e-5 (PyTorch BatchNorm2d); ``bn_momentum`` 0.9 in both.
``preprocessing``   ``"rgb_unit"``: RGB in [0,1] mapped to 2x-1 (TropComplique); ``"bgr_mean"``: RGB in [0,1] taken
                    back to 0..255, channels reversed to BGR and (104,117,123) subtracted (FaceBoxes.PyTorch).
``anchor_style``    ``"tropcomplique"`` (densified anchors centred on the cell, clipped to the image) or ``"paper"``
                    (FaceBoxes paper / FaceBoxes.PyTorch: offsets from the cell corner, spacing stride/n, no clipping).
``pad_multiple``    the input is zero-padded at the bottom/right to a multiple of this (128 in TropComplique; 1 = no
                    padding, as FaceBoxes.PyTorch, whose strided layers produce ceil(n/s) maps for any size).
``clip_boxes``      clip decoded boxes to the image (TropComplique) or not (FaceBoxes.PyTorch).

Fixed constants of the reference (``src/constants.py`` there) follow the presets.
"""
import copy
import json
import numbers

from src.errors import ConfigError

PRESETS = {
    "tropcomplique": {
        "padding": "same",
        "inception_pool": "max",
        "bn_epsilon": 1e-3,
        "bn_momentum": 0.9,
        "preprocessing": "rgb_unit",
        "anchor_style": "tropcomplique",
        "pad_multiple": 128,
        "clip_boxes": True,
    },
    "pytorch": {
        "padding": "symmetric",
        "inception_pool": "avg",
        "bn_epsilon": 1e-5,
        "bn_momentum": 0.9,
        "preprocessing": "bgr_mean",
        "anchor_style": "paper",
        "pad_multiple": 1,
        "clip_boxes": False,
    },
}

# TropComplique's config.json (HEAD), without model_dir (train.py's --output_path); keep_checkpoint_max is
# tf.estimator.RunConfig's default; lr_scale, seed and num_workers are this repository's additions.
DEFAULTS = {
    "model_params": {
        "weight_decay": 1e-3,
        "score_threshold": 0.05,            # post-processing: score >= 0.05, NMS IoU 0.3, at most 200 boxes
        "iou_threshold": 0.3,
        "max_boxes": 200,
        "localization_loss_weight": 1.0,
        "classification_loss_weight": 1.0,
        "loss_to_use": "classification",    # OHEM: mining score, NMS threshold, number of examples, negatives
        "loc_loss_weight": 0.0,
        "cls_loss_weight": 1.0,
        "num_hard_examples": 500,
        "nms_threshold": 0.99,
        "max_negatives_per_positive": 3.0,
        "min_negatives_per_image": 30,
        "lr_boundaries": [160000, 200000],
        "lr_values": [0.004, 0.0004, 0.00004],
        "lr_scale": 1.0,                    # multiplies lr_values (not a reference setting)
        "momentum": 0.9,
        "num_steps": 240000,
        "save_checkpoints_steps": 5000,
        "keep_checkpoint_max": 5,
        "save_summary_steps": 200,
        "log_step_count_steps": 100,
        "seed": 0,                          # graph seed: initialisers, record order, augmentation
    },
    "input_pipeline_params": {
        "image_size": [1024, 1024],
        "batch_size": 16,                   # per worker; the global batch is batch_size * num_workers
        "shuffle_buffer_size": 15000,
        "num_parallel_calls": 8,
        "augmentation": True,
        "num_workers": 1,                   # data-parallel workers (set by the cluster, not by a config file)
    },
}

# The reference's constants (src/constants.py of TropComplique).
EPSILON = 1e-8
SCALE_FACTORS = (10.0, 10.0, 5.0, 5.0)
MATCHING_THRESHOLD = 0.35
BGR_MEANS = (104.0, 117.0, 123.0)
# face_detector.py's default score threshold for showing detections (demo.py), not the evaluation threshold
DISPLAY_SCORE_THRESHOLD = 0.5

# (size px, aspect ratio, densification n) per feature map, and the stride of each map.
ANCHOR_SPECIFICATIONS = [
    [(32, 1.0, 4), (64, 1.0, 2), (128, 1.0, 1)],
    [(256, 1.0, 1)],
    [(512, 1.0, 1)],
]
STRIDES = (32, 64, 128)
NUM_ANCHORS_PER_LOCATION = [sum(n * n for _, _, n in spec) for spec in ANCHOR_SPECIFICATIONS]

_CHOICES = {
    "padding": ("same", "symmetric"),
    "inception_pool": ("max", "avg"),
    "preprocessing": ("rgb_unit", "bgr_mean"),
    "anchor_style": ("tropcomplique", "paper"),
}


# -- validation of single values --------------------------------------------------------------------------------------
def _number(lo=None, hi=None, lo_open=False, integer=False):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or (integer and int(v) != v):
            return "must be %s" % ("a whole number" if integer else "a number")
        v = int(v) if integer else float(v)
        if lo is not None and (v <= lo if lo_open else v < lo):
            return "must be %s %s" % (">" if lo_open else ">=", lo)
        if hi is not None and v > hi:
            return "must be <= %s" % hi
        return None
    check.convert = int if integer else float
    return check


def _choice(*allowed):
    def check(v):
        return None if v in allowed else "must be one of %s" % ", ".join(allowed)
    check.convert = str
    return check


def _boolean(v):
    return None if isinstance(v, bool) else "must be true or false"


_boolean.convert = bool


def _int_list(length=None, increasing=False, positive=True):
    def check(v):
        if not isinstance(v, (list, tuple)) or any(isinstance(x, bool) or not isinstance(x, numbers.Integral)
                                                   for x in v):
            return "must be a list of whole numbers"
        if length is not None and len(v) != length:
            return "must have %d entries" % length
        if positive and any(x < 1 for x in v):
            return "must be positive"
        if increasing and any(b <= a for a, b in zip(v, v[1:])):
            return "must be increasing"
        return None
    check.convert = lambda v: [int(x) for x in v]
    return check


def _float_list(v):
    if not isinstance(v, (list, tuple)) or not v or any(isinstance(x, bool) or not isinstance(x, numbers.Real)
                                                        or x < 0 for x in v):
        return "must be a non-empty list of numbers >= 0"
    return None


_float_list.convert = lambda v: [float(x) for x in v]

_SCHEMA = {
    "model_params": {
        "weight_decay": _number(0), "score_threshold": _number(0, 1), "iou_threshold": _number(0, 1, lo_open=True),
        "max_boxes": _number(1, integer=True), "localization_loss_weight": _number(0),
        "classification_loss_weight": _number(0), "loss_to_use": _choice("classification", "localization", "both"),
        "loc_loss_weight": _number(0), "cls_loss_weight": _number(0), "num_hard_examples": _number(1, integer=True),
        "nms_threshold": _number(0, 1, lo_open=True), "max_negatives_per_positive": _number(0),
        "min_negatives_per_image": _number(0, integer=True), "lr_boundaries": _int_list(increasing=True),
        "lr_values": _float_list, "lr_scale": _number(0, lo_open=True), "momentum": _number(0, 1),
        "num_steps": _number(0, integer=True), "save_checkpoints_steps": _number(1, integer=True),
        "keep_checkpoint_max": _number(1, integer=True), "save_summary_steps": _number(1, integer=True),
        "log_step_count_steps": _number(1, integer=True), "seed": _number(integer=True),
    },
    "input_pipeline_params": {
        "image_size": _int_list(length=2), "batch_size": _number(1, integer=True),
        "shuffle_buffer_size": _number(1, integer=True), "num_parallel_calls": _number(1, integer=True),
        "augmentation": _boolean, "num_workers": _number(1, integer=True),
    },
    "architecture": {
        "preset": _choice(*sorted(PRESETS)), "padding": _choice(*_CHOICES["padding"]),
        "inception_pool": _choice(*_CHOICES["inception_pool"]), "bn_epsilon": _number(0, lo_open=True),
        "bn_momentum": _number(0, 1), "preprocessing": _choice(*_CHOICES["preprocessing"]),
        "anchor_style": _choice(*_CHOICES["anchor_style"]), "pad_multiple": _number(1, integer=True),
        "clip_boxes": _boolean,
    },
}


def _checked(section, key, value, source):
    checks = _SCHEMA[section]
    if key not in checks:
        raise ConfigError("%s: unknown setting %s.%s (known: %s)" % (source, section, key, ", ".join(sorted(checks))))
    problem = checks[key](value)
    if problem:
        raise ConfigError("%s: %s.%s = %s %s" % (source, section, key, json.dumps(value), problem))
    return checks[key].convert(value)


# -- whole configurations ---------------------------------------------------------------------------------------------
def model_config(preset="tropcomplique", source="architecture", **overrides):
    """The architecture of a preset with overrides (None values are ignored), validated."""
    preset = _checked("architecture", "preset", preset, source)
    cfg = copy.deepcopy(PRESETS[preset])
    cfg["preset"] = preset
    for key, value in overrides.items():
        if value is not None:
            cfg[key] = _checked("architecture", key, value, source)
    return cfg


def default_config():
    """The reference's configuration (TropComplique's network and config.json)."""
    cfg = copy.deepcopy(DEFAULTS)
    cfg["architecture"] = model_config()
    return cfg


def from_dict(d, source="configuration", base=None):
    """``base`` (default: the reference's configuration) updated with the partial dict ``d``, validated.

    ``d`` has the layout of ``config.json``; any subset of the settings may be given. An ``architecture`` without a
    ``preset`` keeps the base's preset. Raises ``ConfigError`` naming ``source`` and the setting."""
    if not isinstance(d, dict):
        raise ConfigError("%s: expected a JSON object with model_params / input_pipeline_params / architecture"
                          % source)
    cfg = copy.deepcopy(base) if base is not None else default_config()
    for section, values in d.items():
        if section not in _SCHEMA:
            raise ConfigError("%s: unknown section %r (known: %s)" % (source, section, ", ".join(sorted(_SCHEMA))))
        if not isinstance(values, dict):
            raise ConfigError("%s: section %s must be a JSON object" % (source, section))
        if section == "architecture":
            arch = dict(values)
            preset = arch.pop("preset", None)
            if preset is None:   # options on top of the base's preset and options
                base_arch = dict(cfg["architecture"])
                preset = base_arch.pop("preset")
                arch = dict(base_arch, **arch)
            cfg["architecture"] = model_config(preset, source=source, **arch)
        else:
            for key, value in values.items():
                cfg[section][key] = _checked(section, key, value, source)
    mp = cfg["model_params"]
    if len(mp["lr_values"]) != len(mp["lr_boundaries"]) + 1:
        raise ConfigError("%s: model_params.lr_values needs one value more than lr_boundaries (%d and %d given)"
                          % (source, len(mp["lr_values"]), len(mp["lr_boundaries"])))
    return cfg


def to_dict(cfg):
    """The JSON-serialisable dict stored in every checkpoint (a deep copy)."""
    return json.loads(json.dumps(cfg))


def load_config_file(path):
    """A ``--config`` file: a JSON object with any subset of the settings (layout of ``config.json``)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("%s: cannot read the config file (%s)" % (path, e.strerror or e)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError("%s:%d: invalid JSON: %s" % (path, e.lineno, e.msg)) from None


def differences(old, new):
    """[(section.key, old value, new value)] for every setting that differs between two configurations."""
    out = []
    for section in sorted(_SCHEMA):
        for key in sorted(set(old.get(section, {})) | set(new.get(section, {}))):
            a, b = old.get(section, {}).get(key), new.get(section, {}).get(key)
            if a != b:
                out.append(("%s.%s" % (section, key), a, b))
    return out


def learning_rate(cfg, step):
    """The piecewise-constant LR at a global step (tf.train.piecewise_constant: value i while step <= boundary i)."""
    mp = cfg["model_params"]
    return mp["lr_values"][sum(step > b for b in mp["lr_boundaries"])] * mp["lr_scale"]


# -- sizes --------------------------------------------------------------------------------------------------------------
def padded_size(height, width, pad_multiple=128):
    """The network input size: the image zero-padded (bottom/right) to a multiple of pad_multiple."""
    return -(-height // pad_multiple) * pad_multiple, -(-width // pad_multiple) * pad_multiple


def grid_sizes(height, width, pad_multiple=128):
    """(rows, columns) of the three feature maps: ceil(padded size / stride), as every strided layer yields."""
    h, w = padded_size(height, width, pad_multiple)
    return [(-(-h // s), -(-w // s)) for s in STRIDES]


def num_anchors(height, width, pad_multiple=128):
    """Number of anchors the network produces for an input of this size."""
    return sum(gh * gw * a for (gh, gw), a in zip(grid_sizes(height, width, pad_multiple), NUM_ANCHORS_PER_LOCATION))
