"""The one source of every RetinaFace setting: the two presets, validation, and the dict stored in checkpoints.

``cfg_res50`` follows MindSpore models ``official/cv/RetinaFace_ResNet50/src/config.py`` (values checked against
``../shared/reference/retinaface_fasterrcnn_widerface_eval.md`` section 1.2). ``cfg_mnet`` is the MobileNet0.25
variant of ``research/cv/retinaface`` / the PyTorch original's ``cfg_mnet``. What the reference hard-codes elsewhere
(min sizes, steps, FPN width, the pixel mean, the demo's post-processing) is a key here.

Every checkpoint of this folder stores ``to_dict(cfg)``; ``from_dict`` reads it back (over the preset of its
backbone, so checkpoints that stored fewer keys still load) and validates it. Keys in ``MODEL_KEYS`` define the
network, its priors and its pre-processing; ``RUN_KEYS`` may change when a run is resumed without changing what it
computes; every other key is part of the training run and is restored on resume.
"""
import copy
import numbers

from .errors import ConfigError

MODEL_NAME = "RetinaFace"

cfg_res50 = {
    "backbone": "resnet50",
    # model
    "in_channel": 256,            # unused for resnet50 (C3/C4/C5 channels are 512/1024/2048)
    "out_channel": 256,           # FPN / SSH width
    "leaky": 0.0,                 # FPN/SSH LeakyReLU slope: 0 because out_channel > 64 (plain ReLU)
    "num_anchor_per_cell": 2,
    "min_sizes": [[16, 32], [64, 128], [256, 512]],
    "steps": [8, 16, 32],
    "variance": [0.1, 0.2],
    "clip": False,
    "mean_bgr": [104.0, 117.0, 123.0],
    # loss
    "loc_weight": 2.0,
    "class_weight": 1.0,
    "landm_weight": 1.0,
    "match_thresh": 0.35,
    "neg_pos_ratio": 7,
    # train
    "batch_size": 8,
    "num_workers": 4,
    "image_size": 840,
    "optim": "sgd",
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "seed": 1,
    "epoch": 100,
    "decay1": 70,
    "decay2": 90,
    "lr_type": "dynamic_lr",
    "initial_lr": 0.01,
    "warmup_epoch": 5,
    "gamma": 0.1,
    "grad_clip": 0.0,             # 0 = no clipping (official); research/cv/retinaface uses per-tensor ClipByNorm(1.0)
    "photometric_distortion": False,  # defined but never called by the MindSpore reference
    "save_checkpoint_steps": 2000,
    "keep_checkpoint_max": 1,
    # evaluation (official eval.py): short side 1600, long side <= 2176 on a 2176^2 canvas
    "val_target_size": 1600,
    "val_max_size": 2176,
    "val_confidence_threshold": 0.02,
    "val_nms_threshold": 0.4,
    "val_iou_threshold": 0.5,
    # one photo at its own size (the PyTorch original's detect.py): demo.py
    "detect_confidence_threshold": 0.02,
    "detect_nms_threshold": 0.4,
    "detect_top_k": 5000,
    "detect_keep_top_k": 750,
    "detect_score_threshold": 0.5,    # drawn / written by demo.py (detect.py's vis_thres is 0.6)
}

cfg_mnet = copy.deepcopy(cfg_res50)
cfg_mnet.update({
    "backbone": "mobilenet0.25",
    "in_channel": 32,             # stage channels are in_channel*2, *4, *8 = 64, 128, 256
    "out_channel": 64,
    "leaky": 0.1,                 # LeakyReLU(0.1) as in research/cv/retinaface and the later PyTorch net.py
    "batch_size": 32,
    "image_size": 640,
    "epoch": 120,
    "decay1": 190,
    "decay2": 220,
    "initial_lr": 0.02,
    "warmup_epoch": 5,
})

CONFIGS = {"resnet50": cfg_res50, "mobilenet0.25": cfg_mnet}

# the network, its priors and its pre-processing (what demo / eval / export need)
MODEL_KEYS = ("backbone", "in_channel", "out_channel", "leaky", "num_anchor_per_cell", "min_sizes", "steps",
              "variance", "clip", "mean_bgr")
# settings a resumed run may change without changing what it computes
RUN_KEYS = ("num_workers", "save_checkpoint_steps", "keep_checkpoint_max")

_CHOICES = {"backbone": tuple(CONFIGS), "optim": ("sgd", "momentum"), "lr_type": ("dynamic_lr", "standard_lr")}
_POSITIVE_INT = ("in_channel", "out_channel", "num_anchor_per_cell", "neg_pos_ratio", "batch_size", "num_workers",
                 "image_size", "epoch", "save_checkpoint_steps", "keep_checkpoint_max", "val_target_size",
                 "val_max_size", "detect_top_k", "detect_keep_top_k")
_NON_NEGATIVE = ("leaky", "loc_weight", "class_weight", "landm_weight", "momentum", "weight_decay", "warmup_epoch",
                 "decay1", "decay2", "gamma", "grad_clip")
_FRACTION = ("match_thresh", "val_confidence_threshold", "val_nms_threshold", "val_iou_threshold",
             "detect_confidence_threshold", "detect_nms_threshold", "detect_score_threshold")


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def validate(cfg):
    """Raise ``ConfigError`` naming the first key that is unknown, of the wrong type or out of its range."""
    unknown = sorted(set(cfg) - set(cfg_res50))
    if unknown:
        raise ConfigError(f"unknown configuration key(s) {', '.join(unknown)}")
    missing = sorted(set(cfg_res50) - set(cfg))
    if missing:
        raise ConfigError(f"configuration lacks {', '.join(missing)}")
    for key, choices in _CHOICES.items():
        if cfg[key] not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(choices)}, not {cfg[key]!r}")
    for key in _POSITIVE_INT:
        if not (isinstance(cfg[key], numbers.Integral) and not isinstance(cfg[key], bool) and cfg[key] > 0):
            raise ConfigError(f"{key} must be a positive whole number, not {cfg[key]!r}")
    for key in _NON_NEGATIVE:
        if not (_is_number(cfg[key]) and cfg[key] >= 0):
            raise ConfigError(f"{key} must be a number >= 0, not {cfg[key]!r}")
    for key in _FRACTION:
        if not (_is_number(cfg[key]) and 0 <= cfg[key] <= 1):
            raise ConfigError(f"{key} must be a number in [0, 1], not {cfg[key]!r}")
    if not (_is_number(cfg["initial_lr"]) and cfg["initial_lr"] > 0):
        raise ConfigError(f"initial_lr must be > 0, not {cfg['initial_lr']!r}")
    if not isinstance(cfg["seed"], numbers.Integral) or isinstance(cfg["seed"], bool) or cfg["seed"] < 0:
        raise ConfigError(f"seed must be a whole number >= 0, not {cfg['seed']!r}")
    if not isinstance(cfg["warmup_epoch"], numbers.Integral):
        raise ConfigError(f"warmup_epoch must be a whole number, not {cfg['warmup_epoch']!r}")
    levels = len(cfg["steps"])
    if levels != 3 or len(cfg["min_sizes"]) != 3 or any(len(m) != cfg["num_anchor_per_cell"]
                                                         for m in cfg["min_sizes"]):
        raise ConfigError(f"steps and min_sizes must give 3 levels of num_anchor_per_cell sizes, got steps "
                          f"{cfg['steps']} and min_sizes {cfg['min_sizes']}")
    if len(cfg["variance"]) != 2 or len(cfg["mean_bgr"]) != 3:
        raise ConfigError("variance needs 2 values and mean_bgr 3")
    if cfg["out_channel"] % 4:
        raise ConfigError(f"out_channel must be a multiple of 4 (SSH splits it), not {cfg['out_channel']}")
    if cfg["val_target_size"] > cfg["val_max_size"]:
        raise ConfigError(f"val_target_size {cfg['val_target_size']} exceeds val_max_size {cfg['val_max_size']}")
    return cfg


def get_config(backbone="resnet50", **overrides):
    """A fresh, validated config dict: the preset of ``backbone`` with ``overrides`` (keys of the config)."""
    if backbone not in CONFIGS:
        raise ConfigError(f"unknown backbone {backbone!r}; choose one of {', '.join(CONFIGS)}")
    cfg = copy.deepcopy(CONFIGS[backbone])
    cfg.update(copy.deepcopy(overrides))
    return validate(cfg)


def to_dict(cfg):
    """The JSON-able dict stored in every checkpoint (and in ``model_info.json``)."""
    out = {"model": MODEL_NAME}
    out.update(copy.deepcopy(validate(dict(cfg))))
    return out


def from_dict(d, where="configuration"):
    """A validated config from a stored dict: its keys over the preset of its backbone (older checkpoints stored
    only the model keys). ``where`` names the source in errors (e.g. the checkpoint path)."""
    d = dict(d)
    model = d.pop("model", MODEL_NAME)
    if model != MODEL_NAME:
        raise ConfigError(f"{where}: a configuration of {model}, not of {MODEL_NAME}")
    d.pop("name", None)           # written by earlier versions of this folder, never read
    backbone = d.pop("backbone", "resnet50")
    try:
        return get_config(backbone, **d)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def model_config(cfg):
    """The part of ``cfg`` that defines the network, its priors and its pre-processing."""
    return {k: copy.deepcopy(cfg[k]) for k in MODEL_KEYS}


def changed_settings(stored, requested):
    """``[(key, stored value, requested value)]`` for the keys of ``requested`` whose value differs from
    ``stored`` (both config dicts), in config order; keys of ``RUN_KEYS`` are not reported."""
    return [(k, stored[k], v) for k, v in requested.items()
            if k not in RUN_KEYS and k in stored and stored[k] != v]
