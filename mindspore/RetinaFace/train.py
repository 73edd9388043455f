"""Train RetinaFace (MindSpore), as ``official/cv/RetinaFace_ResNet50/train.py`` with a device flag.

    python train.py --data_path=/data/widerface --device_target=GPU                 # ResNet50, 840x840, batch 8
    python train.py --data_path=/data/widerface --device_target=GPU --resume=auto   # continue the latest checkpoint
    msrun --worker_num=2 --local_worker_num=2 --master_port=PORT --log_dir=LOGS --join=True \\
        train.py --data_path=/data/widerface --is_distributed --device_target=CPU

``--data_path`` is the WIDER FACE root holding ``train/label.txt`` and ``train/images/``. The output folder
(``--output_path``) receives ``model_info.json``, ``train_log.jsonl`` (one record per global step) and the
checkpoints ``retinaface_step<global step>.ckpt`` (network, SGD state, step counter and the run's configuration).
``--resume`` continues a run exactly (same data order, augmentation and learning rates) with the settings stored in
the checkpoint; ``--steps`` is the last global step to train.

This file parses, builds and orchestrates; the loop is ``src/engine.py``, the per-step work ``src/callbacks.py``.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.errors import ConfigError, CheckpointError, DataError, run_cli  # noqa: E402  (src first: sets oneDNN ISA)

# flag -> config key, for the settings a flag overrides (the default of each flag is the config's)
SETTING_FLAGS = {"backbone": "backbone", "epoch": "epoch", "batch_size": "batch_size", "image_size": "image_size",
                 "lr": "initial_lr", "lr_type": "lr_type", "warmup_epoch": "warmup_epoch", "optim": "optim",
                 "grad_clip": "grad_clip", "photometric_distortion": "photometric_distortion",
                 "num_workers": "num_workers", "seed": "seed", "save_checkpoint_steps": "save_checkpoint_steps",
                 "keep_checkpoint_max": "keep_checkpoint_max"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train RetinaFace (MindSpore)")
    p.add_argument("--data_path", default=None, help="WIDER FACE root with train/label.txt and train/images/")
    p.add_argument("--output_path", "--ckpt_path", dest="output_path", default="checkpoint",
                   help="checkpoints, train_log.jsonl, model_info.json (default ./checkpoint)")
    p.add_argument("--device_target", "--device", dest="device_target", default="GPU",
                   help="CPU, GPU or Ascend (cpu / gpu / npu accepted); default GPU as the reference")
    p.add_argument("--device_id", type=int, default=None, help="device of this process (default $DEVICE_ID or 0)")
    p.add_argument("--mode", default="graph", choices=["graph", "pynative"])
    p.add_argument("--is_distributed", action="store_true", help="data parallel; launch with msrun or mpirun")
    p.add_argument("--steps", "--max_steps", dest="steps", type=int, default=0,
                   help="train up to this global step (also after a resume; 0 = the whole schedule)")
    p.add_argument("--resume", "--resume_net", dest="resume", default=None,
                   help="auto (the latest checkpoint of --output_path, if any) or a checkpoint of this script: "
                        "continue exactly, with the run's stored settings")
    p.add_argument("--allow_changes", action="store_true",
                   help="let flags given with --resume change the stored settings (each change is printed)")
    p.add_argument("--checkpoint", default=None,
                   help="start a new run from the weights of this checkpoint (e.g. tools/convert_official.py's)")
    p.add_argument("--pretrain_path", default=None, help="ImageNet backbone checkpoint (the reference's layer names)")
    g = p.add_argument_group("settings (default: the preset of the backbone in src/config.py; stored in checkpoints)")
    g.add_argument("--backbone", default=None, choices=["resnet50", "mobilenet0.25"], help="default resnet50")
    g.add_argument("--epoch", type=int, default=None)
    g.add_argument("--batch_size", type=int, default=None, help="per device (ResNet50: 8)")
    g.add_argument("--image_size", type=int, default=None, help="square training size (ResNet50: 840)")
    g.add_argument("--lr", type=float, default=None, help="initial lr (ResNet50: 0.01)")
    g.add_argument("--lr_type", default=None, choices=["dynamic_lr", "standard_lr"])
    g.add_argument("--warmup_epoch", type=int, default=None)
    g.add_argument("--optim", default=None, choices=["sgd", "momentum"])
    g.add_argument("--grad_clip", type=float, default=None, help="per-tensor clip norm, 0 = off (default)")
    g.add_argument("--photometric_distortion", action="store_true", default=None,
                   help="apply the PyTorch original's photometric distortion (off in the MindSpore reference)")
    g.add_argument("--num_workers", type=int, default=None)
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--save_checkpoint_steps", type=int, default=None)
    g.add_argument("--keep_checkpoint_max", type=int, default=None)
    p.add_argument("--no_python_multiprocessing", action="store_true",
                   help="run the map stages in threads instead of processes")
    p.add_argument("--dataset_sink_mode", default="auto", choices=["auto", "true", "false"],
                   help="auto: on for GPU/Ascend, off for CPU")
    args = p.parse_args(argv)
    if args.steps < 0:
        p.error("--steps must be >= 0")
    return args


def requested_settings(args):
    """The settings given on the command line: {config key: value}."""
    return {key: getattr(args, flag) for flag, key in SETTING_FLAGS.items() if getattr(args, flag) is not None}


def build_config(args, output_path, device_num=1):
    """(cfg, resume checkpoint path, its params, params of ``--checkpoint``); the last three may be ``None``.

    A new run: the preset of ``--backbone`` (or of ``--checkpoint``'s network) with the flags; its output folder
    must not hold checkpoints already (they would mix with this run's). A resumed run: the settings stored in the
    checkpoint; a flag that differs, or another number of data-parallel devices than the run had (``device_num``:
    steps per epoch, data order and schedule follow from it), is refused unless ``--allow_changes``."""
    from src import checkpoint
    from src.config import RUN_KEYS, changed_settings, get_config, model_config

    requested = requested_settings(args)
    resume = args.resume
    if resume == "auto":
        resume = checkpoint.latest(output_path)
        if resume is None:
            print(f"--resume=auto: no checkpoint in {output_path}; starting a new run", flush=True)
    if resume:
        if args.checkpoint:
            raise ConfigError("--checkpoint starts a new run from weights; --resume continues one: give only one")
        params, stored, extras = checkpoint.load(resume)
        if stored is None:
            raise CheckpointError(f"{resume}: holds no configuration: not a training checkpoint of this folder")
        if "global_step" not in params:
            raise CheckpointError(f"{resume}: holds network weights only, no training state; start a new run from "
                                  f"it with --checkpoint")
        flag_of = {key: flag for flag, key in SETTING_FLAGS.items()}
        changes = changed_settings(stored, requested)
        if changes and not args.allow_changes:
            key, old, new = changes[0]
            raise ConfigError(f"--{flag_of[key]}={new} differs from the resumed run's {old!r} ({resume}); "
                              f"pass --allow_changes to change it")
        for key, old, new in changes:
            print(f"--allow_changes: {flag_of[key]} {old!r} -> {new!r}", flush=True)
        trained_on = checkpoint.device_num(extras)
        if trained_on not in (None, device_num):
            if not args.allow_changes:
                raise ConfigError(f"{resume}: the run trained on {trained_on} device(s), this launch has "
                                  f"{device_num}: its data order and schedule would change; launch {trained_on} "
                                  f"worker(s) or pass --allow_changes")
            print(f"--allow_changes: devices {trained_on} -> {device_num}", flush=True)
        cfg = dict(stored)
        cfg.update({k: v for k, v in requested.items() if k in RUN_KEYS or args.allow_changes})
        return get_config(cfg.pop("backbone"), **cfg), resume, params, None
    existing = checkpoint.latest(output_path)
    if existing:
        raise CheckpointError(f"{existing}: the output folder already holds a run; continue it with --resume=auto "
                              f"or choose another --output_path")
    init_params = None
    if args.checkpoint:
        init_params, init_cfg, _ = checkpoint.load(args.checkpoint)
        if init_cfg is not None:
            if requested.get("backbone", init_cfg["backbone"]) != init_cfg["backbone"]:
                raise ConfigError(f"--backbone={requested['backbone']} but {args.checkpoint} holds a "
                                  f"{init_cfg['backbone']} network")
            requested = {**model_config(init_cfg), **requested}
    backbone = requested.pop("backbone", "resnet50")
    return get_config(backbone, **requested), None, None, init_params


def build_network(cfg, pretrain_path=None):
    """(RetinaFace in train phase, its loss cell). ``pretrain_path``: ImageNet weights of the backbone."""
    import mindspore as ms
    from src import checkpoint
    from src.loss import MultiBoxLoss
    from src.network import RetinaFace, RetinaFaceWithLossCell, build_backbone

    backbone = build_backbone(cfg)
    if pretrain_path:
        params, _, _ = checkpoint.load(pretrain_path)
        not_loaded, _ = ms.load_param_into_net(backbone, params)
        if not_loaded:
            raise CheckpointError(f"{pretrain_path}: {len(not_loaded)} backbone parameters missing, e.g. "
                                  f"{', '.join(not_loaded[:3])}")
        print(f"Load pretrained backbone from [{pretrain_path}] done.", flush=True)
    net = RetinaFace(cfg, phase="train", backbone=backbone)
    return net, RetinaFaceWithLossCell(net, MultiBoxLoss(2, cfg["neg_pos_ratio"]), cfg)


def build_optimizer(cfg, net, steps_per_epoch):
    """(optimizer, per-step learning rates) of the reference: SGD (or Momentum) over the schedule of ``lr_type``."""
    import mindspore as ms
    from mindspore import nn
    from src.lr_schedule import adjust_learning_rate

    lrs = adjust_learning_rate(cfg["initial_lr"], cfg["gamma"], [cfg["decay1"], cfg["decay2"]], steps_per_epoch,
                               cfg["epoch"], cfg["warmup_epoch"], cfg["lr_type"])
    lr = ms.Tensor(lrs, ms.float32)
    if cfg["optim"] == "momentum":
        return nn.Momentum(net.trainable_params(), lr, cfg["momentum"]), lrs
    return nn.SGD(net.trainable_params(), lr, momentum=cfg["momentum"], weight_decay=cfg["weight_decay"],
                  loss_scale=1.0), lrs


def load_state(train_net, params, what, weights_only=False):
    """Load a checkpoint's parameters into the training cell (``weights_only``: the network's, for --checkpoint)."""
    import mindspore as ms
    from src.inference import network_params
    if weights_only:
        target = train_net.network.network
        not_loaded, _ = ms.load_param_into_net(target, network_params(params))
        not_loaded = [n for n in not_loaded if not n.startswith("body.end_point")]
    else:
        params = {k: v for k, v in params.items() if k != "learning_rate"}   # re-derived from the schedule
        not_loaded, _ = ms.load_param_into_net(train_net, params)
        not_loaded = [n for n in not_loaded if n != "learning_rate"]
    if not_loaded:
        raise CheckpointError(f"{what}: {len(not_loaded)} parameters missing, e.g. {', '.join(not_loaded[:3])}")


def write_model_info(output_path, cfg, net):
    """``model_info.json``: parameters as the reference counts them (the unused ImageNet FC of the ResNet50 is
    built, not counted), priors at the training size, the configuration."""
    from src.config import to_dict
    from src.fileio import write_json_atomic
    from src.network import count_params
    from src.prior_box import num_priors
    size = [cfg["image_size"], cfg["image_size"]]
    return write_json_atomic(os.path.join(output_path, "model_info.json"), {
        "model": "RetinaFace", "framework": "mindspore", "params": count_params(net),
        "anchors": num_priors(size, cfg["steps"], cfg["num_anchor_per_cell"]), "anchors_input_hw": size,
        "config": to_dict(cfg)})


def main(argv=None):
    args = parse_args(argv)
    if not args.data_path:
        raise DataError("--data_path is required (WIDER FACE root with train/label.txt)")
    train_dir = os.path.join(args.data_path, "train")
    if not os.path.isfile(os.path.join(train_dir, "label.txt")):
        raise DataError(f"{os.path.join(train_dir, 'label.txt')}: not found (--data_path must hold "
                        f"train/label.txt and train/images/)")
    output_path = os.path.abspath(args.output_path)

    import mindspore as ms
    from mindspore.train import Model
    from src import checkpoint, engine
    from src.callbacks import CheckpointSaver, StepLogger
    from src.dataset import create_dataset, steps_per_epoch, training_entries
    from src.device import init_distributed, set_context
    from src.fileio import StepLog
    from src.network import TrainingWrapper

    target = set_context(args.device_target, args.mode, args.device_id)
    rank, group = init_distributed() if args.is_distributed else (0, 1)
    cfg, resume, resume_params, init_params = build_config(args, output_path, group)
    ms.set_seed(cfg["seed"])

    entries = training_entries(train_dir, cfg["batch_size"], group)
    spe = steps_per_epoch(len(entries), cfg["batch_size"], group)
    net, loss_net = build_network(cfg, None if resume else args.pretrain_path)
    opt, lrs = build_optimizer(cfg, net, spe)
    train_net = TrainingWrapper(loss_net, opt, grad_clip=cfg["grad_clip"])
    start_step = 0
    if resume:
        load_state(train_net, resume_params, resume)
        start_step = checkpoint.global_step(resume_params)
        print(f"Resume from [{resume}] at step {start_step}.", flush=True)
    elif init_params is not None:
        load_state(train_net, init_params, args.checkpoint, weights_only=True)
        print(f"Initial weights from [{args.checkpoint}].", flush=True)

    total = cfg["epoch"] * spe
    last_step = min(args.steps, total) if args.steps else total
    if args.steps > total:
        print(f"--steps={args.steps} is beyond the schedule ({cfg['epoch']} epochs x {spe} steps): stopping at "
              f"step {total}", flush=True)
    if rank == 0:
        os.makedirs(output_path, exist_ok=True)
        for path in checkpoint.remove_partial(output_path):
            print(f"removed {path}: a checkpoint save that an interrupted run did not finish", flush=True)
        write_model_info(output_path, cfg, net)
    if start_step >= last_step:
        print(f"nothing to do: the checkpoint is at step {start_step}, the run ends at step {last_step}", flush=True)
        return 0

    sink = {"auto": target != "CPU", "true": True, "false": False}[args.dataset_sink_mode]
    print(f"RetinaFace-{cfg['backbone']}: {len(entries) // group} images/shard, {spe} steps/epoch, batch "
          f"{cfg['batch_size']} x {group} device(s), {cfg['image_size']}px, device {target}, sink {sink}, "
          f"steps {start_step}->{last_step}", flush=True)

    def make_dataset(first_step, pass_steps):
        ds, _ = create_dataset(entries, cfg, num_shards=group, shard_id=rank, start_step=first_step,
                               pass_steps=pass_steps, python_multiprocessing=not args.no_python_multiprocessing)
        return ds

    step_log = StepLog(os.path.join(output_path, "train_log.jsonl"), resume_step=start_step if resume else None) \
        if rank == 0 else None
    logger = StepLogger(start_step, spe, lrs, cfg["batch_size"], group, step_log, rank)
    callbacks = [logger]
    if rank == 0:
        callbacks.append(CheckpointSaver(output_path, cfg, start_step, last_step, cfg["save_checkpoint_steps"],
                                         cfg["keep_checkpoint_max"], group))
    try:
        engine.train(Model(train_net), make_dataset, callbacks, start_step, last_step, spe, sink)
    finally:
        if step_log is not None:
            step_log.close()
    for line in logger.summary(train_net):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "train.py"))
