"""The one home of every S3FD setting (the reference's ``data/config.py``), validated and stored in every checkpoint.

Keys keep the reference's names (``cfg.NMS_THRESH``, ``cfg.ANCHOR_SIZES``, ``cfg.hue_delta`` ...) so that its
users find them; keys the reference does not have are marked "zoo" below. Unlike the reference, no path is
edited into this file: data and output locations come from the command line.

Two architectures of one model (``ARCH``), measured in ``../shared/weights/s3fd_reference/README.md`` §2:

==========  =========================================  ==============================================
ARCH        ``yxlijun`` (the reference, training default)  ``sfd`` (the official SFD model from Caffe)
==========  =========================================  ==============================================
fc6         3x3, padding 6, dilation 6                 3x3, padding 3, dilation 1
pool3       ``ceil_mode=True``                         rounds down
input       RGB minus (123, 117, 104)                  BGR minus (104, 117, 123)
==========  =========================================  ==============================================

``make_config(arch, **overrides)`` builds a validated configuration, ``to_dict`` / ``from_dict`` (de)serialise it
(``from_dict`` refuses unknown keys and fills keys a older checkpoint lacks from the defaults). ``cfg`` is the
reference's default configuration, for reading only.
"""
import copy
import math
import numbers

from src.errors import ConfigError

ARCHITECTURES = {
    "yxlijun": {"fc6_padding": 6, "fc6_dilation": 6, "pool3_ceil_mode": True, "input_order": "rgb"},
    "sfd": {"fc6_padding": 3, "fc6_dilation": 1, "pool3_ceil_mode": False, "input_order": "bgr"},
}

_DEFAULTS = {
    # ---- network (zoo: ARCH, L2NORM_SCALES)
    "ARCH": "yxlijun",
    "NUM_CLASSES": 2,
    "L2NORM_SCALES": [10.0, 8.0, 5.0],          # initial L2Norm weights on conv3_3 / conv4_3 / conv5_3
    "img_mean": [104.0, 117.0, 123.0],           # B, G, R (subtracted in BGR, whatever the input order)
    # ---- priors
    "STEPS": [4, 8, 16, 32, 64, 128],
    "ANCHOR_SIZES": [16, 32, 64, 128, 256, 512],
    "CLIP": False,
    "VARIANCE": [0.1, 0.2],
    # ---- Detect (test-time decode + NMS)
    "CONF_THRESH": 0.05,
    "NMS_THRESH": 0.3,
    "NMS_TOP_K": 5000,
    "TOP_K": 750,
    # ---- matching and loss (reference: FACE.OVERLAP_THRESH; zoo: MATCH_STAGE2)
    "OVERLAP_THRESH": [0.1, 0.35, 0.5],
    "MATCH_STAGE2": "image",                     # "image": the reference's image-global stage 2; "face": the paper's
    "NEG_POS_RATIOS": 3,
    # ---- augmentation (utils/augmentations.py; zoo: augment = the reference's 'train' mode)
    "augment": True,
    "apply_distort": True,
    "brightness_prob": 0.5,
    "brightness_delta": 0.125,
    "contrast_prob": 0.5,
    "contrast_delta": 0.5,
    "saturation_prob": 0.5,
    "saturation_delta": 0.5,
    "hue_prob": 0.5,
    "hue_delta": 18,
    "apply_expand": False,
    "expand_prob": 0.5,
    "expand_max_ratio": 4,
    "anchor_sampling": True,
    "data_anchor_sampling_prob": 0.5,
    "filter_min_face": True,
    "min_face_size": 6.0,
    "resize_width": 640,
    "resize_height": 640,
    # ---- training (train.py defaults of the reference; zoo: SAVE_EVERY, SEED)
    "LR": 1e-3,
    "MOMENTUM": 0.9,
    "WEIGHT_DECAY": 5e-4,
    "GAMMA": 0.1,
    "BATCH_SIZE": 16,                            # per device
    "LR_STEPS": [80000, 100000, 120000],         # global steps after which the LR is multiplied by GAMMA
    "EPOCHES": 300,
    "SAVE_EVERY": 5000,                          # a sfd_face_<step>.pth every N global steps
    "SEED": 0,
    # ---- test protocols (tools/wider_test.py and demo.py; zoo names)
    "TEST_MAX_PIXELS": 1700 * 1200,              # shrink = sqrt(TEST_MAX_PIXELS / (H * W))
    "EVAL_THRESH": 0.05,                         # wider_test.py --thresh
    "VOTE_THRESH": 0.3,                          # bbox voting IoU
    "VOTE_TOP_K": 750,                           # boxes kept after voting
    "DEMO_THRESH": 0.6,                          # demo.py --thresh
}

_CHOICES = {"ARCH": tuple(ARCHITECTURES), "MATCH_STAGE2": ("image", "face")}
_BOOLS = ("CLIP", "augment", "apply_distort", "apply_expand", "anchor_sampling", "filter_min_face")
_INTS = ("NUM_CLASSES", "NMS_TOP_K", "TOP_K", "NEG_POS_RATIOS", "hue_delta", "resize_width", "resize_height",
         "BATCH_SIZE", "EPOCHES", "SAVE_EVERY", "SEED", "TEST_MAX_PIXELS", "VOTE_TOP_K")
_PROBS = ("CONF_THRESH", "NMS_THRESH", "brightness_prob", "contrast_prob", "saturation_prob", "hue_prob",
          "expand_prob", "data_anchor_sampling_prob", "EVAL_THRESH", "VOTE_THRESH", "DEMO_THRESH", "GAMMA",
          "MOMENTUM")
_LISTS = {"L2NORM_SCALES": 3, "img_mean": 3, "STEPS": 6, "ANCHOR_SIZES": 6, "VARIANCE": 2, "OVERLAP_THRESH": 3}


class Config(dict):
    """A dict whose keys are also attributes (``cfg.NMS_THRESH``), as the reference's EasyDict."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"no S3FD setting {key!r}") from None

    def __setattr__(self, key, value):
        self[key] = value

    def __deepcopy__(self, memo):
        return Config(copy.deepcopy(dict(self), memo))

    @property
    def arch(self):
        """The architecture's properties: fc6_padding, fc6_dilation, pool3_ceil_mode, input_order."""
        return ARCHITECTURES[self["ARCH"]]


def _number(key, v, integer=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise ConfigError(f"setting {key}={v!r} must be a finite number")
    if integer:
        if float(v) != int(v):
            raise ConfigError(f"setting {key}={v!r} must be a whole number")
        return int(v)
    return float(v)


def validate(c):
    """Check types and ranges of every setting; returns ``c`` with numbers normalised. Raises ``ConfigError``."""
    for k, allowed in _CHOICES.items():
        if c[k] not in allowed:
            raise ConfigError(f"setting {k}={c[k]!r} is not one of {', '.join(allowed)}")
    for k in _BOOLS:
        if not isinstance(c[k], bool):
            raise ConfigError(f"setting {k}={c[k]!r} must be true or false")
    for k, v in _DEFAULTS.items():
        if isinstance(v, bool) or k in _CHOICES:
            continue
        if k in _LISTS:
            if not isinstance(c[k], (list, tuple)) or len(c[k]) != _LISTS[k]:
                raise ConfigError(f"setting {k}={c[k]!r} must be a list of {_LISTS[k]} numbers")
            c[k] = [_number(k, x, integer=isinstance(v[0], int)) for x in c[k]]
        elif k == "LR_STEPS":
            if not isinstance(c[k], (list, tuple)):
                raise ConfigError(f"setting {k}={c[k]!r} must be a list of steps")
            c[k] = [_number(k, x, integer=True) for x in c[k]]
            if any(b <= a for a, b in zip(c[k], c[k][1:])) or any(x < 1 for x in c[k]):
                raise ConfigError(f"setting LR_STEPS={c[k]} must be increasing positive steps")
        else:
            c[k] = _number(k, c[k], integer=k in _INTS)
    for k in _PROBS:
        if not 0.0 <= c[k] <= 1.0:
            raise ConfigError(f"setting {k}={c[k]} must lie in [0, 1]")
    positive = ("NUM_CLASSES", "NMS_TOP_K", "TOP_K", "resize_width", "resize_height", "BATCH_SIZE", "EPOCHES",
                "SAVE_EVERY", "TEST_MAX_PIXELS", "VOTE_TOP_K", "LR", "expand_max_ratio")
    for k in positive:
        if c[k] <= 0:
            raise ConfigError(f"setting {k}={c[k]} must be positive")
    for k in ("WEIGHT_DECAY", "NEG_POS_RATIOS", "min_face_size", "brightness_delta", "contrast_delta",
              "saturation_delta", "hue_delta"):
        if c[k] < 0:
            raise ConfigError(f"setting {k}={c[k]} must not be negative")
    if c["NUM_CLASSES"] != 2:
        raise ConfigError(f"setting NUM_CLASSES={c['NUM_CLASSES']}: S3FD faces have 2 classes (background, face)")
    if c["resize_width"] < 32 or c["resize_height"] < 32:
        raise ConfigError(f"training input {c['resize_width']}x{c['resize_height']} is below the 32 px minimum")
    th1, th2, th3 = c["OVERLAP_THRESH"]
    if not 0 <= th1 < th2 <= th3 <= 1:
        raise ConfigError(f"setting OVERLAP_THRESH={c['OVERLAP_THRESH']} must be increasing within [0, 1]")
    if any(v <= 0 for v in c["VARIANCE"]) or any(s <= 0 for s in c["STEPS"] + c["ANCHOR_SIZES"]):
        raise ConfigError("VARIANCE, STEPS and ANCHOR_SIZES must be positive")
    return c


def make_config(arch="yxlijun", **overrides):
    """The defaults of ``arch`` with ``overrides`` (reference key names), validated."""
    c = Config(copy.deepcopy(_DEFAULTS))
    c["ARCH"] = arch
    for k, v in overrides.items():
        if k not in _DEFAULTS:
            raise ConfigError(f"unknown S3FD setting {k!r}")
        c[k] = v
    return validate(c)


def to_dict(c):
    """A plain JSON-serialisable dict (what checkpoints and model_info.json store)."""
    return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in c.items()}


def from_dict(d, where="configuration"):
    """The configuration stored in a checkpoint; keys it lacks take their defaults, unknown keys are refused."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: the stored configuration is not a dict")
    unknown = sorted(set(d) - set(_DEFAULTS))
    if unknown:
        raise ConfigError(f"{where}: unknown S3FD setting {unknown[0]!r} in the stored configuration")
    c = Config(copy.deepcopy(_DEFAULTS))
    c.update(copy.deepcopy(d))
    return validate(c)


def lr_at(c, step):
    """The learning rate of 1-based global ``step``: LR times GAMMA per LR_STEPS entry already passed (the
    reference decays when its 0-based iteration counter equals an entry, i.e. from step entry + 1 on)."""
    return c["LR"] * c["GAMMA"] ** sum(1 for s in c["LR_STEPS"] if step > s)


cfg = make_config()
