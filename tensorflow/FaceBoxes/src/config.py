"""Model configuration: architecture presets and the loading of ``config.json``.

A *model configuration* is a small JSON-serialisable dict that fully defines inference:

``padding``         ``"same"`` (TF 'SAME', the TropComplique network) or ``"symmetric"`` (explicit k//2 zero padding
                    on both sides, as PyTorch ``padding=k//2``; needed for the released PyTorch weights).
``inception_pool``  ``"max"`` (3x3/1 max pool, TropComplique) or ``"avg"`` (3x3/1 average pool that counts the zero
                    padding, PyTorch ``AvgPool2d`` default).
``bn_epsilon``      1e-3 (TropComplique) or 1e-5 (PyTorch BatchNorm2d).
``preprocessing``   ``"rgb_unit"``: RGB in [0,1] mapped to 2x-1 (TropComplique); ``"bgr_mean"``: RGB in [0,1] taken
                    back to 0..255, channels reversed to BGR and (104,117,123) subtracted (FaceBoxes.PyTorch).
``anchor_style``    ``"tropcomplique"`` (densified anchors centred on the cell, clipped to the image) or ``"paper"``
                    (FaceBoxes paper / FaceBoxes.PyTorch: offsets from the cell corner, spacing stride/n, no clipping).
``pad_multiple``    the input is zero-padded at the bottom/right to a multiple of this (128 in TropComplique; 1 = no
                    padding, as FaceBoxes.PyTorch, whose strided layers produce ceil(n/s) maps for any size).
``clip_boxes``      clip decoded boxes to the image (TropComplique) or not (FaceBoxes.PyTorch).

The checkpoint stores this dict (variable ``model_config``), so inference needs no other flag.
"""
import copy
import json
import os

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

# The TropComplique constants (src/constants.py of the reference).
EPSILON = 1e-8
SCALE_FACTORS = (10.0, 10.0, 5.0, 5.0)
MATCHING_THRESHOLD = 0.35
BGR_MEANS = (104.0, 117.0, 123.0)

# (size px, aspect ratio, densification n) per feature map, and the stride of each map.
ANCHOR_SPECIFICATIONS = [
    [(32, 1.0, 4), (64, 1.0, 2), (128, 1.0, 1)],
    [(256, 1.0, 1)],
    [(512, 1.0, 1)],
]
STRIDES = (32, 64, 128)
NUM_ANCHORS_PER_LOCATION = [sum(n * n for _, _, n in spec) for spec in ANCHOR_SPECIFICATIONS]

_VALID = {
    "padding": ("same", "symmetric"),
    "inception_pool": ("max", "avg"),
    "preprocessing": ("rgb_unit", "bgr_mean"),
    "anchor_style": ("tropcomplique", "paper"),
}


def model_config(preset="tropcomplique", **overrides):
    """Return a validated model configuration from a preset name plus overrides."""
    if preset not in PRESETS:
        raise ValueError("unknown architecture preset %r (choose from %s)" % (preset, sorted(PRESETS)))
    cfg = copy.deepcopy(PRESETS[preset])
    cfg["preset"] = preset
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in cfg:
            raise ValueError("unknown model configuration key %r" % key)
        cfg[key] = value
    return validate_model_config(cfg)


def validate_model_config(cfg):
    for key, allowed in _VALID.items():
        if cfg.get(key) not in allowed:
            raise ValueError("model configuration %s=%r is not one of %s" % (key, cfg.get(key), allowed))
    cfg["pad_multiple"] = int(cfg["pad_multiple"])
    if cfg["pad_multiple"] < 1:
        raise ValueError("pad_multiple must be >= 1")
    cfg["bn_epsilon"] = float(cfg["bn_epsilon"])
    cfg["bn_momentum"] = float(cfg.get("bn_momentum", 0.9))
    cfg["clip_boxes"] = bool(cfg["clip_boxes"])
    return cfg


def load_config(path):
    """Load a training ``config.json`` (the reference's layout: model_params + input_pipeline_params)."""
    if not os.path.isfile(path):
        raise FileNotFoundError("%s: config file not found" % path)
    with open(path) as f:
        try:
            params = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError("%s:%d: invalid JSON: %s" % (path, e.lineno, e.msg))
    for section in ("model_params", "input_pipeline_params"):
        if section not in params:
            raise ValueError("%s: missing section %r" % (path, section))
    arch = dict(params.get("architecture", {}))
    preset = arch.pop("preset", "tropcomplique")
    params["model_config"] = model_config(preset, **arch)
    return params


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
