"""CenterFace settings: the one source of every value of the model, its pre-processing and decode, and its training
recipe. ``Config`` validates them (``ConfigError``), and every checkpoint stores ``Config.to_dict()``, so demo.py,
eval.py and export.py need no other flag and ``--resume`` restores the run's settings.

Two model configurations of one network (``MODEL_PRESETS``):

* ``chenjun2hao`` (chenjun2hao/CenterFace.pytorch, the training default): neck width 64, depthwise 2x2
  deconvolutions, ReLU6 backbone; BGR /255 with CenterNet mean/std; 800x800 letterbox at test time; top-200 3x3
  peaks, no threshold and no box NMS for WIDER evaluation.
* ``official`` (the released Star-Clouds model): neck width 24, full 2x2 deconvolutions, ReLU backbone; RGB 0-255;
  "ceil to /32" stretch of the original image; every cell above 0.05 (evaluation) or 0.35 (demo), greedy NMS 0.3.

The ``convention`` decides the channel order and units of the outputs (see src/decode.py and src/targets.py).

Two training recipes (``RECIPES``): ``reference`` (chenjun2hao opts_pose: Adam 1.25e-4, batch 8, 140 epochs, lr x0.1
after epochs 30 and 80) and ``ascend8p`` (the Ascend ModelZoo 8-device script: 16 per device, 2.5e-3, 85 / 120,
160 epochs; its README table says 140 epochs, its script runs 160).

``LIMITS`` (``max_steps``, ``num_epochs``) say where a run stops: a resumed run may be given new ones. Every other
setting is the run's own: a resumed run keeps the checkpoint's, and an explicit flag that differs is refused unless
the user allows the change (``resolve``).
"""
import argparse
import dataclasses
from dataclasses import dataclass, field, fields
from typing import List, Optional

from .errors import ConfigError

MODEL_PRESETS = {
    "chenjun2hao": {"head_conv": 64, "deconv": "depthwise", "activation": "relu6", "convention": "chenjun2hao",
                    "input_format": "bgr_norm", "test_resize": "letterbox", "input_size": 800,
                    "score_threshold": 0.35, "eval_threshold": 0.0, "nms": None, "top_k": 200},
    "official": {"head_conv": 24, "deconv": "full", "activation": "relu", "convention": "official",
                 "input_format": "rgb_raw", "test_resize": "ceil32", "input_size": 800,
                 "score_threshold": 0.35, "eval_threshold": 0.05, "nms": 0.3, "top_k": 200},
}

RECIPES = {
    "reference": {"batch_size": 8, "lr": 1.25e-4, "lr_step": [30, 80], "num_epochs": 140},
    "ascend8p": {"batch_size": 16, "lr": 2.5e-3, "lr_step": [85, 120], "num_epochs": 160},
}

LIMITS = ("max_steps", "num_epochs")
NEGATED_FLAGS = ("val", "color_aug", "augment")  # train.py sets these with --no_<name>

OUTPUT_STRIDE = 4  # the four output maps are at 1/4 of the input (the neck up-samples to stride 4)

CHOICES = {
    "variant": tuple(MODEL_PRESETS), "recipe": tuple(RECIPES), "deconv": ("depthwise", "full"),
    "activation": ("relu6", "relu"), "convention": ("chenjun2hao", "official"),
    "input_format": ("bgr_norm", "rgb_raw"), "test_resize": ("letterbox", "ceil32"),
}


@dataclass
class Config:
    # model and inference (a converted released model carries these only; the training fields keep their defaults)
    variant: str = "chenjun2hao"
    head_conv: int = 64
    deconv: str = "depthwise"
    activation: str = "relu6"
    convention: str = "chenjun2hao"
    input_format: str = "bgr_norm"
    test_resize: str = "letterbox"
    input_size: int = 800             # training input and test letterbox side (multiple of 32)
    score_threshold: float = 0.35     # demo.py
    eval_threshold: float = 0.0       # eval.py (WIDER protocol: keep low-score detections)
    nms: Optional[float] = None       # box NMS IoU (None: none, the peaks of the 3x3 max-pool only)
    top_k: int = 200
    # training
    recipe: str = "reference"
    batch_size: int = 8               # per process
    lr: float = 1.25e-4
    lr_step: List[int] = field(default_factory=lambda: [30, 80])
    num_epochs: int = 140             # the last epoch
    max_steps: int = 0                # the last global step (0: no limit)
    seed: int = 317
    max_images: int = 0               # only the first N training images (0: all)
    max_objs: int = 32                # faces per image kept for the targets (sampled without replacement)
    augment: bool = True              # data-anchor-sampling, random crop, flip (else the plain letterbox)
    color_aug: bool = True            # colour jitter + PCA lighting
    val: bool = True                  # val loss every val_intervals epochs (model_best.pth)
    val_intervals: int = 5
    amp: bool = False                 # torch.autocast: bf16 on cpu, fp16 + GradScaler on gpu / npu
    apex: bool = False                # npu only: apex O1 with a static loss scale
    loss_scale: float = 19.0
    hm_weight: float = 1.0            # L = hm + 0.1 wh + off + 0.1 lm (opts_pose)
    wh_weight: float = 0.1
    off_weight: float = 1.0
    lm_weight: float = 0.1

    @classmethod
    def preset(cls, variant="chenjun2hao", recipe="reference", **overrides):
        """The ``variant``'s model settings and the ``recipe``'s schedule, then ``overrides``; validated."""
        for name, value, table in (("variant", variant, MODEL_PRESETS), ("recipe", recipe, RECIPES)):
            if value not in table:
                raise ConfigError(f"unknown {name} {value!r} (choose from {', '.join(table)})")
        d = dict(MODEL_PRESETS[variant], **RECIPES[recipe], variant=variant, recipe=recipe)
        d.update(overrides)
        return cls.from_dict(d, base=cls())

    @classmethod
    def from_dict(cls, d, base=None):
        """A config from a (possibly partial) dict, e.g. a checkpoint's: missing keys take the preset of its
        ``variant`` (and ``recipe``); an unknown key is a ``ConfigError``."""
        if not isinstance(d, dict):
            raise ConfigError(f"a configuration must be a dict, not {type(d).__name__}")
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")
        if base is None:
            rest = {k: v for k, v in d.items() if k not in ("variant", "recipe")}
            return cls.preset(d.get("variant", "chenjun2hao"), d.get("recipe", "reference"), **rest)
        cfg = dataclasses.replace(base, **d)
        cfg.validate()
        return cfg

    def to_dict(self):
        return dataclasses.asdict(self)

    def replace(self, **changes):
        cfg = dataclasses.replace(self, **changes)
        cfg.validate()
        return cfg

    def validate(self):
        """Types and ranges of every setting; normalises numbers given as strings or ints."""
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {getattr(self, name)!r})")
        for f in fields(self):
            v = getattr(self, f.name)
            try:
                if f.type is int:
                    if isinstance(v, bool) or int(v) != float(v):
                        raise ValueError
                    setattr(self, f.name, int(v))
                elif f.type is float:
                    setattr(self, f.name, float(v))
                elif f.type is bool:
                    if not isinstance(v, bool):
                        raise ValueError
            except (TypeError, ValueError):
                raise ConfigError(f"{f.name} must be {f.type.__name__} (got {v!r})") from None
        positive = ("head_conv", "input_size", "top_k", "batch_size", "num_epochs", "val_intervals", "max_objs",
                    "lr", "loss_scale")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0 (got {getattr(self, name)})")
        for name in ("max_steps", "max_images", "seed", "score_threshold", "eval_threshold", "hm_weight",
                     "wh_weight", "off_weight", "lm_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.input_size % 32:
            raise ConfigError(f"input_size must be a multiple of 32 (got {self.input_size})")
        if self.nms is not None:
            self.nms = float(self.nms)
            if not 0 < self.nms <= 1:
                raise ConfigError(f"nms must be an IoU in (0, 1] or None (got {self.nms})")
        try:
            steps = [int(s) for s in (self.lr_step.split(",") if isinstance(self.lr_step, str) else self.lr_step)
                     if str(s).strip()]
        except (TypeError, ValueError):
            raise ConfigError(f"lr_step must be epochs like 30,80 (got {self.lr_step!r})") from None
        if any(s <= 0 for s in steps) or steps != sorted(set(steps)):
            raise ConfigError(f"lr_step must be increasing positive epochs (got {self.lr_step!r})")
        self.lr_step = steps
        if self.apex and not self.amp:
            self.amp = True  # apex O1 is mixed precision
        return self

    def lr_at(self, epoch):
        """The learning rate of (1-based) ``epoch``: lr · 0.1^(number of lr_step entries < epoch)."""
        return self.lr * (0.1 ** sum(1 for s in self.lr_step if epoch > s))

    def loss_weights(self):
        return {"hm": self.hm_weight, "wh": self.wh_weight, "off": self.off_weight, "lm": self.lm_weight}


def expand(given, saved=None):
    """The settings a set of explicit flags stands for: a ``recipe`` brings its schedule, unless a flag of its own
    says otherwise. Resuming (``saved``, the checkpoint's config), the recipe the run already has brings nothing: its
    schedule is the run's own, which may differ from the recipe's (a run started with ``--recipe reference
    --batch_size 4``, as the test scripts start it, resumes with batch 4)."""
    changes_recipe = "recipe" in given and (saved is None or given["recipe"] != saved.recipe)
    out = dict(RECIPES.get(given["recipe"], {})) if changes_recipe else {}
    out.update(given)
    return out


def resolve(given, saved=None, allow_changes=False, source="the checkpoint"):
    """The run's config from the explicitly given settings ``given`` (a dict of flag name -> value).

    Fresh run (``saved`` None): the presets of the given variant and recipe, then the given values.
    Resumed run: the ``saved`` config; a given setting that differs from it is refused with one line naming the
    flag and both values (``ConfigError``), unless ``allow_changes``; ``LIMITS`` may always be given anew.
    Returns ``(config, changes)`` with ``changes`` a list of ``(name, old, new)``."""
    if saved is None:
        return Config.from_dict(given), []
    given = expand(given, saved)
    wanted = Config.from_dict(given, base=saved)                  # validates, normalises (e.g. lr_step "30,80")
    changes = [(k, getattr(saved, k), getattr(wanted, k)) for k in given if getattr(saved, k) != getattr(wanted, k)]
    if "variant" in [k for k, _, _ in changes]:
        raise ConfigError(f"--variant {wanted.variant}: {source} is of the {saved.variant} variant; pass "
                          f"--variant {saved.variant} or another --output_path")
    refused = [c for c in changes if c[0] not in LIMITS]
    if refused and not allow_changes:
        k, old, new = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        given_as = f"--no_{k} ({k} {new})" if k in NEGATED_FLAGS else f"--{k} {fmt(new)}"
        raise ConfigError(f"{given_as} differs from {source}'s {k} {fmt(old)}{more}: a resumed run keeps its "
                          f"settings; drop the flag, or pass --allow_changes to change it")
    return wanted, changes


def fmt(v):
    return ",".join(str(s) for s in v) if isinstance(v, list) else str(v)


def as_config(cfg):
    """A ``Config`` from a Config, a variant name or a (checkpoint's) dict."""
    if isinstance(cfg, Config):
        return cfg
    if isinstance(cfg, str):
        return Config.preset(cfg)
    return Config.from_dict(cfg)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are ``ConfigError``: a missing or bad flag is one line through ``run_cli`` too (argparse
    itself prints its usage first)."""

    def error(self, message):
        raise ConfigError(message)
