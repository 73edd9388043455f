"""CenterFace training (the reference's src/main.py with opts_pose defaults).

    python train.py --data_path DATA --output_path OUT                     # Adam 1.25e-4, batch 8, 140 epochs, 30/80
    torchrun --nproc_per_node 8 train.py --data_path DATA --device gpu --recipe ascend8p
    python train.py --data_path DATA --output_path OUT --resume auto        # continue the latest checkpoint of OUT

DATA is the WIDER FACE layout (WIDER_train/, WIDER_val/, train/label.txt, val/label.txt; converted to the COCO
keypoints json on first use) or a folder with annotations/{train,val}_wider_face.json (see README).
OUT receives centerface_step<N>.pth (N = global step) after every epoch, model_best.pth (lowest val loss),
train_log.jsonl (one line per step), model_info.json and the reference's log.txt.

A resumed run keeps the settings stored in its checkpoint (--max_steps and --num_epochs, where it stops, may be
given anew); a flag that differs from them is refused unless --allow_changes.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.utils.data as tud

from src import checkpoint as ckpt_io
from src.coco_convert import resolve_annotations
from src.config import CHOICES, ArgumentParser, resolve
from src.dataset import WiderFaceCOCO
from src.device import Amp, init_device, is_main
from src.engine import TextLog, TrainState, fit, images_per_second
from src.errors import CheckpointError, ConfigError, DataError, run_cli
from src.fileio import StepLog, write_json_atomic
from src.losses import CenterFaceLoss
from src.model import CenterFace, count_parameters
from src.samplers import train_sampler, val_sampler

# flags that set a setting of src/config.py (dest = the setting's name); every other flag is about this invocation
SETTING_FLAGS = {"variant", "recipe", "batch_size", "lr", "lr_step", "num_epochs", "max_steps", "input_size", "seed",
                 "max_images", "val_intervals", "amp", "apex", "loss_scale", "val", "color_aug", "augment"}


def parse_args(argv=None):
    """Returns (args, given): ``given`` = the settings given explicitly on the command line."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       argument_default=argparse.SUPPRESS)
    p.add_argument("--data_path", help="dataset root (required)")
    p.add_argument("--output_path", default="outputs", help="checkpoints and logs (default ./outputs)")
    p.add_argument("--variant", choices=CHOICES["variant"], help="model configuration (default chenjun2hao)")
    p.add_argument("--recipe", choices=CHOICES["recipe"], help="batch size / lr / lr_step / epochs (default reference)")
    p.add_argument("--batch_size", type=int, help="per process")
    p.add_argument("--lr", type=float)
    p.add_argument("--lr_step", help="epochs after which lr is multiplied by 0.1, e.g. 30,80")
    p.add_argument("--num_epochs", type=int, help="the last epoch")
    p.add_argument("--max_steps", type=int, help="the last global step (0: no limit), also after a resume")
    p.add_argument("--input_size", type=int, help="square training input (multiple of 32; default 800)")
    p.add_argument("--seed", type=int, help="data order and augmentation (default 317)")
    p.add_argument("--max_images", type=int, help="use only the first N training images")
    p.add_argument("--val_intervals", type=int, help="val loss every N epochs (default 5)")
    p.add_argument("--no_val", dest="val", action="store_false", help="no val loss (no model_best.pth)")
    p.add_argument("--no_color_aug", dest="color_aug", action="store_false")
    p.add_argument("--no_augment", dest="augment", action="store_false",
                   help="train on the plain letterbox (no DAS / crop / flip / colour), e.g. for overfit checks")
    p.add_argument("--amp", action="store_true", help="mixed precision (bf16 on cpu, fp16 on gpu/npu)")
    p.add_argument("--apex", action="store_true", help="npu only: apex O1 with a static loss scale")
    p.add_argument("--loss_scale", type=float, help="static loss scale for --apex (default 19)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--num_workers", type=int, default=4, help="data-loader processes per training process")
    p.add_argument("--print_iter", type=int, default=0, help="log every N steps (0: the progress bar only)")
    p.add_argument("--keep_checkpoints", type=int, default=5, help="keep the N latest centerface_step*.pth (0: all)")
    p.add_argument("--pretrained", help="local ImageNet MobileNetV2 state dict for the backbone (loaded by position)")
    p.add_argument("--init_checkpoint", help="start from these weights (e.g. tools/convert_official.py output)")
    p.add_argument("--resume", help="a checkpoint to continue, or 'auto': the latest of --output_path (if any)")
    p.add_argument("--allow_changes", action="store_true", help="let a resumed run change its settings")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in an --output_path that holds checkpoints (they are deleted)")
    args = p.parse_args(argv)
    if "data_path" not in args:
        p.error("--data_path is required")
    for name in ("resume", "pretrained", "init_checkpoint"):
        setattr(args, name, getattr(args, name, None))
    for name in ("allow_changes", "overwrite"):
        setattr(args, name, getattr(args, name, False))
    given = {k: v for k, v in vars(args).items() if k in SETTING_FLAGS}
    return args, given


def find_resume(args):
    """The checkpoint to resume (dict) or None; ``--resume auto`` in a folder without checkpoints starts anew."""
    if args.resume is None:
        return None
    path = ckpt_io.latest(args.output_path) if args.resume == "auto" else args.resume
    if path is None:
        return None
    ck = ckpt_io.read_checkpoint(path)
    if "optimizer" not in ck or "epoch" not in ck:
        raise CheckpointError(f"{path}: holds weights only (no optimizer state) and cannot be resumed; start from it "
                              "with --init_checkpoint")
    return ck


def configure(args, given, ck, info, log):
    """The run's Config: fresh from the flags, or the resumed checkpoint's (see src/config.py ``resolve``)."""
    if ck is None:
        return resolve(given)[0]
    for flag in ("pretrained", "init_checkpoint"):
        if getattr(args, flag):
            raise ConfigError(f"--{flag}: a resumed run continues the weights of {ck['path']}; drop --{flag}")
    cfg, changes = resolve(given, ck["config"], args.allow_changes, source=ck["path"])
    if ck.get("world", 1) != info["world"]:
        if not args.allow_changes:
            raise ConfigError(f"{ck['path']} was trained by {ck.get('world', 1)} process(es), this run has "
                              f"{info['world']}: the global batch and data order would change; use the same number "
                              "of processes, or pass --allow_changes")
        changes.append(("processes", ck.get("world", 1), info["world"]))
    for k, old, new in changes:
        log.write(f"resume: {k} {old} -> {new}")
    return cfg


def prepare_output(args, resuming, info):
    """A new run needs an output folder without another run's checkpoints (--overwrite deletes them)."""
    os.makedirs(args.output_path, exist_ok=True)
    old = ckpt_io.step_checkpoints(args.output_path)
    if resuming or not old:
        return
    if not args.overwrite:
        raise ConfigError(f"{args.output_path}: holds the checkpoints of an earlier run (latest "
                          f"{os.path.basename(old[-1][1])}); continue it with --resume auto, or start over with "
                          "--overwrite (which deletes them)")
    if is_main(info):
        for _, p in old:
            os.remove(p)
        best = os.path.join(args.output_path, ckpt_io.BEST)
        if os.path.exists(best):
            os.remove(best)


def build_data(args, cfg, info):
    """The training and val sets. The json conversion (first use of a WIDER layout) runs on rank 0; the other ranks
    then read its cache."""
    if info["distributed"] and not is_main(info):
        torch.distributed.barrier()
    tr_json, tr_dir = resolve_annotations(args.data_path, "train", args.output_path)
    va = resolve_annotations(args.data_path, "val", args.output_path) if cfg.val else None
    if info["distributed"] and is_main(info):
        torch.distributed.barrier()
    train_ds = WiderFaceCOCO(tr_json, tr_dir, cfg, train=True)
    if cfg.max_images:
        train_ds.images = train_ds.images[:cfg.max_images]
    if len(train_ds) < cfg.batch_size * info["world"]:
        raise DataError(f"{tr_json}: {len(train_ds)} training images with faces, fewer than one global batch "
                        f"({cfg.batch_size} x {info['world']}); lower --batch_size")
    # the val set is seeded too: the 32 faces kept of a crowded image are the same at every validation
    val_ds = WiderFaceCOCO(*va, cfg, train=False) if va else None
    return train_ds, val_ds


def build_model(args, cfg, log):
    model = CenterFace(cfg)
    if args.pretrained:
        if not os.path.isfile(args.pretrained):
            raise CheckpointError(f"{args.pretrained}: ImageNet MobileNetV2 weights not found")
        try:
            sd = torch.load(args.pretrained, map_location="cpu", weights_only=True)
            n = model.load_imagenet_backbone(sd)
        except Exception as e:  # noqa: BLE001 - unreadable file or wrong tensors: one line for the user
            first = (str(e).strip().splitlines() or [""])[0]
            raise CheckpointError(f"{args.pretrained}: not an ImageNet MobileNetV2 state dict ({first})") from None
        log.write(f"loaded {n} ImageNet backbone tensors from {args.pretrained}")
    if args.init_checkpoint:
        ck = ckpt_io.read_checkpoint(args.init_checkpoint)
        if ck["config"].variant != cfg.variant:
            raise CheckpointError(f"{ck['path']}: checkpoint of the {ck['config'].variant} variant; pass --variant "
                                  f"{ck['config'].variant}")
        ckpt_io.load_weights(model, ck)
    return model


def loaders(args, cfg, train_ds, val_ds, info):
    common = {"num_workers": args.num_workers, "pin_memory": args.device == "gpu"}
    train = tud.DataLoader(train_ds, batch_size=cfg.batch_size, drop_last=True,
                           sampler=train_sampler(len(train_ds), cfg.seed, info), **common)
    val = tud.DataLoader(val_ds, batch_size=1, sampler=val_sampler(len(val_ds), info), **common) if val_ds else None
    return train, val


def write_model_info(path, model, cfg):
    write_json_atomic(path, {"model": "CenterFace", "framework": "pytorch", "params": count_parameters(model),
                             "anchors": None, "anchors_input_hw": [cfg.input_size, cfg.input_size],
                             "config": cfg.to_dict()})


def main(argv=None):
    args, given = parse_args(argv)
    dev, info = init_device(args.device)
    main_rank = is_main(info)
    if dev.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # OpenMP threads that share cores with the loader workers (or other processes) spin-wait and can make a
        # step 10x slower; leave one core per worker unless the user sets OMP_NUM_THREADS
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // info["world"] - args.num_workers))
    ck = find_resume(args)
    prepare_output(args, ck is not None, info)
    log = TextLog(os.path.join(args.output_path, "log.txt"), main_rank)
    cfg = configure(args, given, ck, info, log)
    amp = Amp(dev, cfg.amp, cfg.apex, cfg.loss_scale)  # a device it cannot use fails here, before any work
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    train_ds, val_ds = build_data(args, cfg, info)
    model = build_model(args, cfg, log).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model, optimizer = amp.wrap(model, optimizer)
    state = TrainState()
    if ck is not None:
        ckpt_io.restore(ck, model, optimizer, amp)
        state = TrainState.from_checkpoint(ck)
        log.write(f"resumed from {ck['path']} at step {state.step}: after epoch {state.epoch}" +
                  (f" + {state.epoch_batches_done} batches of epoch {state.epoch + 1}"
                   if state.epoch_batches_done else ""))
    if main_rank:
        write_model_info(os.path.join(args.output_path, "model_info.json"), model, cfg)
    step_log = StepLog(os.path.join(args.output_path, "train_log.jsonl"),
                       resume_step=state.step if ck is not None else None) if main_rank else None
    ddp_model = model
    if info["distributed"]:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type in ("cuda", "npu") else None)
    train_loader, val_loader = loaders(args, cfg, train_ds, val_ds, info)
    log.write(f"CenterFace {cfg.variant}: {count_parameters(model)} parameters, {len(train_ds)} train images, "
              f"batch {cfg.batch_size} x {info['world']}, lr {cfg.lr}, lr_step {cfg.lr_step}, {cfg.num_epochs} epochs"
              + (f", max_steps {cfg.max_steps}" if cfg.max_steps else "") + f", input {cfg.input_size}, device "
              f"{dev}, amp {cfg.amp}" + (f", {torch.get_num_threads()} threads" if dev.type == "cpu" else ""))
    checkpointer = ckpt_io.Checkpointer(args.output_path, model, optimizer, amp, cfg, info["world"], main_rank,
                                        args.keep_checkpoints)
    try:
        secs = fit(ddp_model, optimizer, CenterFaceLoss(cfg.loss_weights()), amp, dev, train_loader, val_loader,
                   cfg, state, info, checkpointer, step_log, log, args.print_iter)
    finally:
        if step_log is not None:
            step_log.close()
    if not secs:
        log.write(f"nothing to train: step {state.step} / epoch {state.epoch} already reached")
    elif main_rank:
        ips = images_per_second(secs, cfg.batch_size * info["world"])
        print(f"Final Performance images/sec : {ips:.2f}")
    if info["distributed"]:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "train.py"))
