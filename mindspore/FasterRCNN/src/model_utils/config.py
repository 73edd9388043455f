"""Configuration: YAML documents (values, help, choices) -> argparse flags -> one attribute namespace.

As the reference's ``src/model_utils/config.py``: a YAML file holds up to three documents (the values, a help
string per key, the choices of some keys); every scalar key becomes a flag ``--key`` (booleans parsed from
``True`` / ``False``), the command line overrides the file, and the result is a ``Config`` namespace with the derived
``feature_shapes`` and ``num_bboxes``. Unlike the reference, nothing is parsed at import time: entry points call
``get_config()``, so the backbone and every size follow the configuration that was asked for.

This module is the one home of every setting: it validates them (``ConfigError`` naming the flag), converts them
to and from the plain dict stored in every checkpoint (``Config.to_dict`` / ``Config.from_dict``), and decides what
a resumed run takes from its checkpoint (``apply_resume``).
"""
import argparse
import ast
import os
import sys
from pprint import pformat

import yaml

from ..errors import ConfigError

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CONFIG = os.path.join(MODEL_DIR, "default_config.yaml")
FACE_CONFIG = os.path.join(MODEL_DIR, "fasterrcnn_widerface_config.yaml")
SHIPPED_CONFIGS = ("default_config.yaml", "default_config_101.yaml", "default_config_152.yaml",
                   "default_config_InceptionResnetV2.yaml", "fasterrcnn_facemask_config_cpu.yaml",
                   "fasterrcnn_widerface_config.yaml")

RESNET_BACKBONES = ("resnet_v1.5_50", "resnet_v1_50", "resnet_v1_101", "resnet_v1_152")
BACKBONES = RESNET_BACKBONES + ("inception_resnet_v2",)

# Where a run is and how it runs, not what it computes: a resumed run takes these from its command line, every
# other setting from its checkpoint.
RUN_KEYS = frozenset((
    "config_path", "enable_modelarts", "data_url", "train_url", "checkpoint_url", "data_path", "output_path",
    "load_path", "device_target", "enable_profiling", "save_checkpoint_path", "num_parallel_workers",
    "python_multiprocessing", "mindrecord_dir", "coco_root", "image_dir", "anno_path", "device_id", "rank_id",
    "log_summary", "checkpoint_path", "file_name", "file_format", "ckpt_file", "result_path", "steps", "resume",
    "allow_changes", "dataset_sink_mode", "wider_root", "wider_gt_dir", "mindrecord_workers",
    "mindrecord_wait_timeout", "eval_max_images", "pre_trained", "keep_checkpoint_max", "save_checkpoint",
    "save_checkpoint_epochs", "save_checkpoint_steps", "run_eval", "interval", "roi_align_per_level", "prefix",
    "test_batch_size",
))
# The run keys of how a run trains (device, data pipeline, checkpointing, evaluation): a resumed run takes them from
# its checkpoint too, unless they are given on its command line (where a different value is no refusal).
RESTORED_RUN_KEYS = frozenset((
    "device_target", "num_parallel_workers", "python_multiprocessing", "dataset_sink_mode", "mindrecord_dir",
    "mindrecord_workers", "mindrecord_wait_timeout", "keep_checkpoint_max", "save_checkpoint",
    "save_checkpoint_epochs", "save_checkpoint_steps", "run_eval", "interval", "roi_align_per_level",
    "eval_max_images", "enable_profiling", "log_summary", "wider_gt_dir", "prefix", "test_batch_size",
))
DERIVED_KEYS = ("feature_shapes", "num_bboxes")
# Settings of inference that eval.py / export.py / demo.py may change for a trained network (canvas, thresholds,
# batch, which data set format it is evaluated on).
INFERENCE_KEYS = frozenset((
    "img_width", "img_height", "keep_ratio", "test_score_thr", "test_iou_thr", "rpn_nms_pre", "rpn_max_num",
    "rpn_nms_thr", "num_gts", "dataset", "val_data_type", "instance_set",
))


class Config:
    """Configuration namespace: dict keys become attributes (nested dicts become ``Config``)."""

    def __init__(self, cfg_dict):
        for k, v in cfg_dict.items():
            if isinstance(v, (list, tuple)):
                setattr(self, k, [Config(x) if isinstance(x, dict) else x for x in v])
            else:
                setattr(self, k, Config(v) if isinstance(v, dict) else v)

    def to_dict(self):
        """A plain, JSON-serialisable dict (private attributes left out)."""
        def conv(v):
            if isinstance(v, Config):
                return v.to_dict()
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            return v
        return {k: conv(v) for k, v in vars(self).items() if not k.startswith("_")}

    @classmethod
    def from_dict(cls, d, explicit=()):
        """The configuration stored in a checkpoint, derived values recomputed and validated (``explicit``: the keys
        a command line gave, see ``derive``)."""
        cfg = cls(dict(d))
        cfg._explicit = set(explicit)
        derive(cfg)
        validate(cfg)
        return cfg

    def __str__(self):
        return pformat(self.to_dict())

    __repr__ = __str__


def parse_yaml(yaml_path):
    """``(values, help, choices)`` of a config YAML (one to three documents)."""
    try:
        with open(yaml_path, encoding="utf-8") as fin:
            docs = [d for d in yaml.safe_load_all(fin)]
    except OSError as e:
        raise ConfigError(f"{yaml_path}: cannot read the config file ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{yaml_path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not docs or not isinstance(docs[0], dict) or len(docs) > 3:
        raise ConfigError(f"{yaml_path}: a config holds one to three YAML documents (values, help, choices), "
                          f"the first a mapping")
    docs = docs + [{}] * (3 - len(docs))
    return docs[0], docs[1] or {}, docs[2] or {}


def parse_bool(text):
    """``True`` / ``False`` as the reference's ``ast.literal_eval`` reads them (``true``, ``1``, ... accepted)."""
    t = str(text).strip()
    if t.lower() in ("true", "1", "yes"):
        return True
    if t.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def _parse_list(text):
    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"expected a list such as [1, 2], got {text!r}") from None
    if not isinstance(v, (list, tuple)):
        raise argparse.ArgumentTypeError(f"expected a list such as [1, 2], got {text!r}")
    return list(v)


def _number(kind):
    def conv(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
    conv.__name__ = kind.__name__
    return conv


def build_parser(values, helper, choices, cfg_path, description=None, parents=()):
    """The argparse parser of a YAML: one ``--key`` per scalar or list value."""
    parser = argparse.ArgumentParser(description=description, parents=list(parents),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config_path", default=cfg_path, help="config YAML")
    for key, val in values.items():
        if isinstance(val, dict):
            continue
        help_text = helper.get(key, f"see {os.path.basename(cfg_path)}")
        choice = choices.get(key)
        if isinstance(val, bool):
            kind = parse_bool
        elif isinstance(val, int):
            kind = _number(int)
        elif isinstance(val, float):
            kind = _number(float)
        elif isinstance(val, list):
            kind = _parse_list
            choice = None
        else:
            kind = str
        parser.add_argument("--" + key, type=kind, default=val, choices=choice, help=help_text)
    return parser


def _explicit_keys(parser, argv):
    """The keys given on the command line (whatever their value)."""
    quiet = argparse.ArgumentParser(add_help=False)
    for act in parser._actions:                      # noqa: SLF001 - a copy of the parser without defaults
        if act.option_strings and act.dest != "help":
            quiet.add_argument(*act.option_strings, dest=act.dest, default=argparse.SUPPRESS, type=str)
    ns, _ = quiet.parse_known_args(argv)
    return set(vars(ns))


def get_config(argv=None, config_path=None, description=None, parents=()):
    """The configuration of a run: ``--config_path`` YAML (``config_path`` or default_config.yaml when not given),
    overridden by the flags in ``argv`` (default ``sys.argv[1:]``), derived values computed, validated.

    The keys given explicitly on the command line are kept in ``cfg._explicit`` (for ``apply_resume``); flags of
    ``parents`` parsers end up in ``cfg._extra``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config_path", default=config_path or DEFAULT_CONFIG)
    path_args, _ = pre.parse_known_args(argv)
    values, helper, choices = parse_yaml(path_args.config_path)
    parser = build_parser(values, helper, choices, path_args.config_path, description, parents)
    args = parser.parse_args(argv)
    merged = dict(values)
    merged.update(vars(args))
    extra_keys = {a.dest for p in parents for a in p._actions if a.dest != "help"}  # noqa: SLF001
    extra = {k: merged.pop(k) for k in extra_keys if k in merged}
    cfg = Config(merged)
    cfg._explicit = _explicit_keys(parser, argv) - extra_keys - {"config_path"}
    cfg._extra = argparse.Namespace(**extra)
    derive(cfg)
    validate(cfg)
    return cfg


# ----------------------------------------------------------------------------------------------------------------
# derived values


def _ceil_half(x):
    return (x + 1) // 2


def resnet_feature_shapes(height, width):
    """P2-P6 sizes of the ResNet + FPN path: each stride-2 stage (7x7/2 pad 3 conv, 3x3/2 'SAME' max pool, the
    stride-2 blocks, P6's 1x1/2 'same' max pool) gives ceil(x / 2); for canvases that are multiples of 64 this is the
    reference's ``[h // 4, w // 4] ... [h // 64, w // 64]``."""
    shapes, h, w = [], height, width
    for level in range(6):
        h, w = _ceil_half(h), _ceil_half(w)
        if level >= 1:
            shapes.append([h, w])
    return shapes


def inception_feature_shapes(height, width):
    """C2-C5 (+P6) sizes of the Inception-ResNet-v2 path ('valid' 3x3 convs and pools)."""
    def size(x):
        x = (x - 3) // 2 + 1                       # conv2d_1a 3x3/2
        x = x - 2                                  # conv2d_2a 3x3
        c2 = (x - 3) // 2 + 1                      # maxpool_3a
        c3 = (c2 - 2 - 3) // 2 + 1                 # conv2d_4a 3x3, maxpool_5a
        c4 = (c3 - 3) // 2 + 1                     # mixed_6a
        c5 = (c4 - 3) // 2 + 1                     # mixed_7a
        return [c2, c3, c4, c5, _ceil_half(c5)]
    return [list(s) for s in zip(size(height), size(width))]


def computed_feature_shapes(cfg):
    if cfg.backbone == "inception_resnet_v2":
        return inception_feature_shapes(cfg.img_height, cfg.img_width)
    return resnet_feature_shapes(cfg.img_height, cfg.img_width)


def derive(cfg):
    """``feature_shapes`` (the P2-P6 sizes of the canvas, always recomputed: a YAML's fixed list, as in the
    Inception-ResNet-v2 config, is the same list for its canvas) and ``num_bboxes`` (anchors per image); the data set
    root ``data_path`` (it sets ``coco_root`` / ``wider_root`` / ``image_dir`` unless that key was given itself)."""
    root_key = dataset_root_key(cfg)
    if getattr(cfg, "data_path", "") and root_key not in getattr(cfg, "_explicit", ()):
        setattr(cfg, root_key, cfg.data_path)
    cfg.feature_shapes = computed_feature_shapes(cfg)
    cfg.num_bboxes = cfg.num_anchors * sum(h * w for h, w in cfg.feature_shapes)
    return cfg


def dataset_root_key(cfg):
    return {"coco": "coco_root", "widerface": "wider_root", "other": "image_dir"}.get(cfg.dataset, "coco_root")


def check_data_root(cfg):
    """The configured data set root must exist: a ``DataError`` naming ``--data_path`` otherwise."""
    from ..errors import DataError
    key = dataset_root_key(cfg)
    root = getattr(cfg, key)
    if not root:
        raise DataError(f"--data_path is required: the root of the {cfg.dataset} data set ({key})")
    if not os.path.isdir(root):
        raise DataError(f"--data_path: the {cfg.dataset} data set root {root} ({key}) does not exist")
    return root


def class_names(cfg):
    """The foreground class names: label ``j`` of a detection is ``class_names(cfg)[j]``."""
    return list(cfg.coco_classes[1:])


def output_dir(cfg):
    """eval.py's output folder: ``output_path``, else ./ locally and /cache/train on ModelArts."""
    if cfg.output_path:
        return cfg.output_path
    return "/cache/train" if cfg.enable_modelarts else "./"


def train_dir(cfg):
    """train.py's output folder (checkpoints under ckpt_<rank>/, logs, run files)."""
    return cfg.save_checkpoint_path or "./"


def mindrecord_dir(cfg):
    return cfg.mindrecord_dir or os.path.join(train_dir(cfg), f"MindRecord_{cfg.dataset.upper()}_TRAIN")


def proposal_topk(cfg, training):
    """Per-level top-k of the proposal generator: ``min(nms_pre, anchors of the level)``."""
    pre = cfg.rpn_proposal_nms_pre if training else cfg.rpn_nms_pre
    return [min(pre, h * w * cfg.num_anchors) for h, w in cfg.feature_shapes]


def dataset_sink(cfg, device_target):
    mode = str(cfg.dataset_sink_mode)
    if mode == "auto":
        return device_target != "CPU"
    return mode == "True"


# ----------------------------------------------------------------------------------------------------------------
# validation


def _need(cond, msg):
    if not cond:
        raise ConfigError(msg)


def validate(cfg):
    """Raise ``ConfigError`` naming the flag for a setting of the wrong type or out of its range."""
    def num(key, lo=None, hi=None, kind=(int, float), lo_open=False):
        v = getattr(cfg, key, None)
        _need(isinstance(v, kind) and not isinstance(v, bool), f"--{key} must be a number, got {v!r}")
        if lo is not None:
            _need(v > lo if lo_open else v >= lo, f"--{key} must be {'>' if lo_open else '>='} {lo}, got {v}")
        if hi is not None:
            _need(v <= hi, f"--{key} must be <= {hi}, got {v}")

    for key, allowed in (("backbone", BACKBONES), ("device_target", ("Ascend", "GPU", "CPU")),
                         ("dataset", ("coco", "other", "widerface")), ("lr_type", ("dynamic", "multistep")),
                         ("opt_type", ("sgd", "adam")), ("file_format", ("AIR", "ONNX", "MINDIR")),
                         ("dataset_sink_mode", ("auto", "True", "False"))):
        val = str(getattr(cfg, key, None))
        _need(val in allowed, f"--{key} must be one of {', '.join(allowed)}, got {val!r}")
    for key in ("img_width", "img_height", "num_gts", "batch_size", "test_batch_size", "epoch_size",
                "num_expected_neg", "num_expected_pos", "num_expected_pos_stage2", "num_expected_neg_stage2",
                "rpn_nms_pre", "rpn_max_num", "rpn_proposal_nms_pre", "rpn_proposal_max_num", "num_parallel_workers",
                "keep_checkpoint_max", "save_checkpoint_epochs", "interval", "fpn_out_channels"):
        num(key, 1, kind=int)
    for key in ("steps", "warmup_step", "save_checkpoint_steps", "mindrecord_workers", "eval_max_images", "seed",
                "device_id", "rank_id"):
        num(key, 0, kind=int)
    num("device_num", 1, kind=int)
    num("mindrecord_wait_timeout", 0, lo_open=True)
    for key in ("neg_iou_thr", "pos_iou_thr", "min_pos_iou", "neg_iou_thr_stage2", "pos_iou_thr_stage2",
                "min_pos_iou_stage2", "rpn_proposal_nms_thr", "rpn_nms_thr", "test_score_thr", "test_iou_thr",
                "flip_ratio", "expand_ratio", "warmup_ratio"):
        num(key, 0.0, 1.0)
    for key in ("base_lr", "loss_scale"):
        num(key, 0.0, lo_open=True)
    num("momentum", 0.0)
    num("weight_decay", 0.0)
    _need(isinstance(cfg.coco_classes, list) and all(isinstance(c, str) for c in cfg.coco_classes),
          f"--coco_classes must be a list of class names, got {cfg.coco_classes!r}")
    _need(cfg.num_classes >= 2, f"--num_classes must be >= 2 (background + at least one class), got "
                                f"{cfg.num_classes}")
    _need(len(cfg.coco_classes) == cfg.num_classes,
          f"--num_classes={cfg.num_classes} but coco_classes lists {len(cfg.coco_classes)} names (background first)")
    _need(cfg.num_anchors == len(cfg.anchor_scales) * len(cfg.anchor_ratios),
          f"--num_anchors={cfg.num_anchors} but anchor_scales x anchor_ratios give "
          f"{len(cfg.anchor_scales) * len(cfg.anchor_ratios)}")
    _need(cfg.num_anchors == 3, f"--num_anchors must be 3 (the RPN head's channels), got {cfg.num_anchors}")
    _need(len(cfg.anchor_strides) == 5 and cfg.fpn_num_outs == 5,
          "the network has 5 pyramid levels: anchor_strides needs 5 values and fpn_num_outs must be 5")
    _need(len(cfg.roi_align_featmap_strides) == 4, "roi_align_featmap_strides needs 4 values (P2-P5)")
    _need(cfg.num_expected_neg >= cfg.num_expected_pos,
          "--num_expected_neg (anchors sampled in all) must be >= --num_expected_pos")
    _need(cfg.num_expected_neg_stage2 >= cfg.num_expected_pos_stage2,
          "--num_expected_neg_stage2 (RoIs sampled in all) must be >= --num_expected_pos_stage2")
    _need(cfg.roi_sample_num == cfg.num_expected_pos_stage2 + cfg.num_expected_neg_stage2,
          f"--roi_sample_num={cfg.roi_sample_num} must equal num_expected_pos_stage2 + num_expected_neg_stage2 "
          f"({cfg.num_expected_pos_stage2 + cfg.num_expected_neg_stage2})")
    _need(cfg.num_bboxes_stage2 == cfg.rpn_proposal_max_num,
          f"--num_bboxes_stage2={cfg.num_bboxes_stage2} must equal --rpn_proposal_max_num="
          f"{cfg.rpn_proposal_max_num} (the proposals the RCNN sampler receives)")
    if cfg.backbone in RESNET_BACKBONES:
        _need(len(cfg.resnet_block) == 4, "resnet_block needs 4 values")
    for training, key in ((True, "rpn_proposal_max_num"), (False, "rpn_max_num")):
        total = sum(proposal_topk(cfg, training))
        _need(total >= getattr(cfg, key),
              f"the {cfg.img_height}x{cfg.img_width} canvas gives only {total} proposals before the final top-k, "
              f"fewer than --{key}={getattr(cfg, key)}: use a larger canvas or a smaller --{key}")
    _need(cfg.num_bboxes >= cfg.num_expected_neg,
          f"the {cfg.img_height}x{cfg.img_width} canvas has {cfg.num_bboxes} anchors, fewer than "
          f"--num_expected_neg={cfg.num_expected_neg}")
    _need(cfg.lr_type != "multistep" or (isinstance(cfg.sgd_step, list) and cfg.sgd_step),
          "--lr_type=multistep needs sgd_step, the epochs at which the learning rate drops x0.1")
    _need(str(cfg.resume) in ("", "auto") or os.path.isfile(str(cfg.resume)),
          f"--resume={cfg.resume}: no such checkpoint (use auto or a checkpoint file)")
    return cfg


# ----------------------------------------------------------------------------------------------------------------
# resume


def apply_resume(cfg, saved, source, allow_changes=False, log=print):
    """Take a resumed run's settings from ``saved`` (the dict stored in its checkpoint ``source``).

    Every setting outside ``RUN_KEYS`` comes from the checkpoint. A setting given explicitly on this command line
    that differs from the checkpoint's is refused (``ConfigError`` naming the flag and both values) unless
    ``allow_changes``, in which case each change is printed and applied. The ``RESTORED_RUN_KEYS`` (device, data
    pipeline, checkpointing) come from the checkpoint unless given on this command line. Returns the list of
    changed keys."""
    changed = []
    explicit = getattr(cfg, "_explicit", set())
    for key, old in saved.items():
        if key in RESTORED_RUN_KEYS and key not in explicit and hasattr(cfg, key):
            setattr(cfg, key, old)
        if key in RUN_KEYS or key in DERIVED_KEYS or not hasattr(cfg, key):
            continue
        new = getattr(cfg, key)
        new_plain = new.to_dict() if isinstance(new, Config) else new
        if key in explicit and new_plain != old:
            if not allow_changes:
                raise ConfigError(f"--{key}={new_plain} differs from the resumed run's {key}={old} ({source}); "
                                  f"pass --allow_changes=True to change it")
            log(f"resume: {key} changed from {old} to {new_plain}")
            changed.append(key)
            continue
        setattr(cfg, key, Config(old) if isinstance(old, dict) else old)
    derive(cfg)
    validate(cfg)
    return changed


def inference_settings(stored, cli, source):
    """The configuration to run a trained network with: ``stored`` (from its checkpoint, which also supplies the
    device, paths and thresholds of the run it came from) with the run keys and inference keys given explicitly on
    the command line (``cli``, may be None) on top; any other explicit flag that differs from the checkpoint's is a
    ``ConfigError``."""
    if cli is None:
        return stored
    explicit = getattr(cli, "_explicit", set())
    merged = stored.to_dict()
    for key in (RUN_KEYS | INFERENCE_KEYS) & explicit:
        val = getattr(cli, key)
        merged[key] = val.to_dict() if isinstance(val, Config) else val
    for key in explicit - RUN_KEYS - INFERENCE_KEYS - set(DERIVED_KEYS):
        new = getattr(cli, key)
        new = new.to_dict() if isinstance(new, Config) else new
        if key in merged and merged[key] != new:
            raise ConfigError(f"--{key}={new} differs from the setting the network was trained with ({key}="
                              f"{merged[key]}, stored in {source})")
    return Config.from_dict(merged, explicit)


def print_config(cfg, stream=None):
    print(cfg, file=stream or sys.stdout)
    print("Please check the above information for the configurations", file=stream or sys.stdout, flush=True)
