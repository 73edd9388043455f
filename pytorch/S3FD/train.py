"""S3FD training (the reference's train.py, with the Ascend port's --device / --amp and torchrun DDP).

    python train.py --data_path DATA [--output_path OUT] [--basenet vgg16_reducedfc.pth]     # the reference recipe
    python train.py --data_path DATA --resume auto                                           # continue exactly
    torchrun --nproc_per_node 8 train.py --data_path DATA --device gpu --batch_size 2        # DDP, global batch 16

DATA is a WIDER FACE root (``wider_face_split/``, ``WIDER_{train,val}/images/``; the list files are then written into
OUT) or a folder with the reference's ``face_train.txt`` and ``face_val.txt``. Recipe (``data/config.py``): SGD lr
1e-3, momentum 0.9, weight decay 5e-4, batch 16 per device, lr x0.1 after global steps 80k / 100k / 120k, 300 epochs,
640x640 input, validation loss after every epoch with the best weights kept as ``OUT/sfd_face.pth``; training
checkpoints ``OUT/sfd_face_<global step>.pth`` every 5000 steps, at each epoch end and at ``--steps``.

Writes ``OUT/train_log.jsonl`` (one line per step), ``OUT/model_info.json`` and prints the reference's log lines and,
at the end, ``Final Performance images/sec : N`` (global batch / median step time after the first two steps).
"""
import argparse
import os
import statistics
import sys

import cv2
import torch
import torch.utils.data as tud

from data.config import from_dict, lr_at, make_config, to_dict
from data.widerface import WIDERDetection, detection_collate
from layers.functions.prior_box import num_priors
from layers.modules.multibox_loss import MultiBoxLoss
from s3fd import build_s3fd, count_parameters, init_weights
from src.checkpoint import (BEST_NAME, checkpoint_name, config_of, latest_checkpoint, load_weights, mark_latest,
                            prune_checkpoints, read_checkpoint, save_checkpoint, torch_load)
from src.device import Amp, init_distributed
from src.engine import Context, EpochSampler, RunState, evaluate_loss, train_one_epoch
from src.errors import CheckpointError, ConfigError, DataError, UserError, run_cli
from src.fileio import StepLog, write_json_atomic

# flag -> configuration key (data/config.py); these are restored on --resume and may only change with --allow_changes
CONFIG_FLAGS = {"arch": "ARCH", "batch_size": "BATCH_SIZE", "lr": "LR", "momentum": "MOMENTUM",
                "weight_decay": "WEIGHT_DECAY", "gamma": "GAMMA", "lr_steps": "LR_STEPS", "save_every": "SAVE_EVERY",
                "seed": "SEED", "match_stage2": "MATCH_STAGE2", "augment": "augment"}
# run settings also restored on --resume under the same rule
RUN_FLAGS = ("input_size", "amp", "loss_scale", "max_images", "no_val")
# free to change on resume (limits, locations, machine)
FREE_FLAGS = ("data_path", "output_path", "device", "device_id", "num_workers", "steps", "epochs", "keep_checkpoints",
              "print_every")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                argument_default=None)
    p.add_argument("--data_path", help="WIDER FACE root, or a folder with face_train.txt / face_val.txt")
    p.add_argument("--output_path", help="checkpoints and run files (default ./outputs)")
    p.add_argument("--device", choices=("cpu", "gpu", "npu"), help="default cpu")
    p.add_argument("--device_id", type=int, help="device of a 1-process run (default 0)")
    p.add_argument("--arch", choices=("yxlijun", "sfd"), help="network configuration (default yxlijun)")
    p.add_argument("--batch_size", type=int, help="per device (default 16)")
    p.add_argument("--lr", "--learning-rate", dest="lr", type=float, help="initial learning rate (default 1e-3)")
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight_decay", type=float)
    p.add_argument("--gamma", type=float, help="lr factor at each of --lr_steps (default 0.1)")
    p.add_argument("--lr_steps", help="global steps after which lr is multiplied by gamma (default 80000,100000,120000)")
    p.add_argument("--epochs", type=int, help="train up to this epoch (default 300, the reference's EPOCHES)")
    p.add_argument("--steps", type=int, help="train up to this global step (also after a resume)")
    p.add_argument("--input_size", type=int, help="square training input (default 640)")
    p.add_argument("--match_stage2", choices=("image", "face"), help="scale-compensation stage 2: the reference's "
                   "image-global rule (default) or the paper's per-face rule")
    p.add_argument("--no_augment", dest="augment", action="store_const", const=False,
                   help="the reference's 'val' preprocessing for training (resize only), e.g. for overfit checks")
    p.add_argument("--basenet", help="ImageNet VGG16 weights (ssd.pytorch's vgg16_reducedfc.pth) for the backbone")
    p.add_argument("--checkpoint", help="start from the weights of this checkpoint (e.g. tools/convert_official.py's)")
    p.add_argument("--resume", help="'auto' (the newest training checkpoint of OUT, named in OUT/last_checkpoint) or a "
                   "training checkpoint")
    p.add_argument("--allow_changes", action="store_true", help="with --resume: accept flags that differ from the run")
    p.add_argument("--amp", action="store_const", const=True, help="mixed precision (bf16 on cpu, fp16 on gpu / npu; "
                   "apex O1 on npu when installed)")
    p.add_argument("--loss_scale", type=float, help="apex loss scale (-1: dynamic, the default)")
    p.add_argument("--num_workers", type=int,
                   help="data loader workers per process (default 4, the reference's; the CPUs available when fewer)")
    p.add_argument("--seed", type=int, help="data order and augmentation seed (default 0)")
    p.add_argument("--save_every", type=int, help="a training checkpoint every N global steps (default 5000)")
    p.add_argument("--keep_checkpoints", type=int, help="keep the N latest training checkpoints (default 5; 0: all)")
    p.add_argument("--max_images", type=int, help="train on the first N images of the list only")
    p.add_argument("--no_val", action="store_const", const=True, help="no validation loss after each epoch")
    p.add_argument("--print_every", type=int, help="reference log lines every N steps (default 10)")
    return p


RUN_DEFAULTS = {"output_path": "outputs", "device": "cpu", "device_id": 0, "input_size": 640, "amp": False,
                "loss_scale": -1.0, "num_workers": min(4, len(os.sched_getaffinity(0))), "keep_checkpoints": 5,
                "max_images": 0, "no_val": False, "print_every": 10, "steps": None, "epochs": None}


def parse_args(argv=None):
    a = build_parser().parse_args(argv)
    explicit = {k for k, v in vars(a).items() if v is not None and k not in ("allow_changes",)}
    if not a.data_path:
        raise UserError("--data_path=DIR is required (a WIDER FACE root or a folder with face_train.txt)")
    for k in ("batch_size", "epochs", "steps", "input_size", "save_every", "print_every"):
        v = getattr(a, k)
        if v is not None and v < 1:
            raise ConfigError(f"--{k} must be at least 1 (got {v})")
    for k in ("num_workers", "keep_checkpoints", "max_images", "device_id"):
        v = getattr(a, k)
        if v is not None and v < 0:
            raise ConfigError(f"--{k} must not be negative (got {v})")
    if a.lr_steps is not None:
        try:
            a.lr_steps = [int(s) for s in a.lr_steps.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(f"--lr_steps {a.lr_steps!r}: expected comma-separated global steps") from None
    if a.resume and (a.checkpoint or a.basenet):
        raise ConfigError("--resume continues a run with its own weights: drop --checkpoint / --basenet")
    return a, explicit


def config_from_flags(a):
    """A new run's configuration: the reference's defaults with the given flags."""
    over = {CONFIG_FLAGS[k]: getattr(a, k) for k in CONFIG_FLAGS if getattr(a, k) is not None and k != "arch"}
    if a.input_size is not None:
        over["resize_width"] = over["resize_height"] = a.input_size
    return make_config(a.arch or "yxlijun", **over)


def flag_value(cfg, run, flag):
    if flag in CONFIG_FLAGS:
        return cfg[CONFIG_FLAGS[flag]]
    if flag == "input_size":
        return cfg["resize_width"]
    return run.get(flag)


def merge_resumed(a, explicit, cfg, run, path, log):
    """The resumed run's settings, with the explicit flags applied: free ones silently, others only with
    --allow_changes (each change printed), else a ConfigError naming the flag and both values."""
    cfg = from_dict(to_dict(cfg), where=path)
    run = dict(run)
    for flag in sorted(explicit):
        new = getattr(a, flag)
        if flag in FREE_FLAGS:
            run[flag] = new
            continue
        if flag not in CONFIG_FLAGS and flag not in RUN_FLAGS:
            continue
        old = flag_value(cfg, run, flag)
        if old == new or (isinstance(old, float) and isinstance(new, (int, float)) and float(new) == old):
            continue
        if not a.allow_changes:
            shown = f"--no_augment (augmentation {new})" if flag == "augment" else f"--{flag}={new}"
            raise ConfigError(f"{shown} differs from the resumed run's {old} ({path}); "
                              f"pass --allow_changes to change it")
        log(f"--allow_changes: {flag} {old} -> {new}")
        if flag in CONFIG_FLAGS:
            cfg[CONFIG_FLAGS[flag]] = new
        elif flag == "input_size":
            cfg["resize_width"] = cfg["resize_height"] = new
        else:
            run[flag] = new
    return from_dict(to_dict(cfg), where=path), run


def resolve_lists(data_path, output_path, dist):
    """(train list, val list): DATA's own, else written from the WIDER layout into OUT by rank 0."""
    import prepare_wider_data as prep

    if not os.path.isdir(data_path):
        raise DataError(f"--data_path {data_path}: no such directory")
    found = prep.find_lists(data_path)
    if found:
        return found
    paths = [os.path.join(output_path, f"face_{s}.txt") for s in prep.SPLITS]
    if dist.main:
        prep.write_lists(data_path, output_path)
    dist.barrier()
    return paths


def load_basenet(net, path):
    sd = torch_load(path)
    if isinstance(sd, dict) and sd and all(k.startswith("vgg.") for k in sd):
        sd = {k[len("vgg."):]: v for k, v in sd.items()}
    try:
        net.vgg.load_state_dict(sd)
    except (RuntimeError, AttributeError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not VGG16 base weights of ssd.pytorch's layout ({first[:200]})") from None


def make_loader(ds, batch_size, shuffle, dist, seed, num_workers, device):
    sampler = EpochSampler(ds, seed, dist.world, dist.rank, shuffle=shuffle)
    return tud.DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                          collate_fn=detection_collate, pin_memory=device.type == "cuda",
                          worker_init_fn=_worker_init, drop_last=False)


def _worker_init(_):
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def main(argv=None):
    a, explicit = parse_args(argv)
    out = a.output_path or RUN_DEFAULTS["output_path"]
    device, dist = init_distributed(a.device or "cpu", a.device_id or 0)
    log = (lambda line: print(line, flush=True)) if dist.main else (lambda line: None)

    resume = a.resume
    if resume == "auto":
        resume = latest_checkpoint(out)
        if resume is None:
            log(f"--resume auto: no sfd_face_<step>.pth in {out}; starting a new run")
    ck = read_checkpoint(resume) if resume else None
    init = None
    if ck is not None:
        if "optimizer" not in ck or "state" not in ck:
            raise CheckpointError(f"{resume}: holds weights only, not a training state; start from it with "
                                  f"--checkpoint {resume}")
        cfg, run = merge_resumed(a, explicit, config_of(ck, resume), ck.get("run", {}), resume, log)
        run["output_path"] = out
    else:
        init = read_checkpoint(a.checkpoint) if a.checkpoint else None
        if init is not None and a.arch is None:
            a.arch = config_of(init, a.checkpoint).ARCH          # fine-tune in the checkpoint's architecture
        cfg = config_from_flags(a)
        run = {k: (getattr(a, k) if getattr(a, k) is not None else v) for k, v in RUN_DEFAULTS.items()}
        run["output_path"] = out
    for k in FREE_FLAGS:
        if getattr(a, k, None) is not None:
            run[k] = getattr(a, k)
    run["data_path"] = a.data_path
    os.makedirs(out, exist_ok=True)

    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.world))
    torch.manual_seed(cfg.SEED)

    train_list, val_list = resolve_lists(a.data_path, out, dist)
    train_ds = WIDERDetection(train_list, "train", cfg, seed=cfg.SEED)
    if run["max_images"]:
        for attr in ("fnames", "boxes", "labels"):
            setattr(train_ds, attr, getattr(train_ds, attr)[:run["max_images"]])
    val_ds = None if run["no_val"] else WIDERDetection(val_list, "val", cfg, seed=cfg.SEED)

    net = build_s3fd("train", cfg.NUM_CLASSES, cfg)
    if ck is not None:
        load_weights(net, ck["state_dict"], resume)
    elif init is not None:
        init_cfg = config_of(init, a.checkpoint)
        if init_cfg.ARCH != cfg.ARCH:
            raise ConfigError(f"--checkpoint {a.checkpoint} is of ARCH {init_cfg.ARCH}, the run of {cfg.ARCH}: "
                              f"pass --arch {init_cfg.ARCH}")
        load_weights(net, init["state_dict"], a.checkpoint)
        log(f"initialised from {a.checkpoint}")
    else:
        init_weights(net, vgg_too=not a.basenet)
        if a.basenet:
            load_basenet(net, a.basenet)
            log(f"Load base network {a.basenet}")
        else:
            log("warning: no --basenet (ImageNet vgg16_reducedfc.pth): training VGG16 from scratch")
    net.to(device)

    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.LR, momentum=cfg.MOMENTUM, weight_decay=cfg.WEIGHT_DECAY)
    amp = Amp(device, run["amp"], run["loss_scale"])
    net, optimizer = amp.wrap(net, optimizer)
    state = RunState()
    if ck is not None:
        try:
            optimizer.load_state_dict(ck["optimizer"])
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{resume}: optimizer state does not fit this run ({e})") from None
        amp.load_state_dict(ck.get("amp"))
        state = RunState(**ck["state"])
        if "torch_rng" in ck.get("rng", {}):
            torch.set_rng_state(ck["rng"]["torch_rng"])
        log(f"Resuming training from {resume}: global step {state.step}, epoch {state.epoch} "
            f"(+{state.epoch_samples} samples)")

    model = net
    if dist.distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type in ("cuda", "npu") else None)
    criterion = MultiBoxLoss(cfg, dist)
    train_loader = make_loader(train_ds, cfg.BATCH_SIZE, True, dist, cfg.SEED, run["num_workers"], device)
    val_loader = None
    if val_ds is not None:
        val_loader = make_loader(val_ds, max(1, cfg.BATCH_SIZE // 2), False, dist, cfg.SEED, run["num_workers"],
                                 device)

    if dist.main:
        hw = [cfg.resize_height, cfg.resize_width]
        write_json_atomic(os.path.join(out, "model_info.json"), {
            "model": "S3FD", "framework": "pytorch", "params": count_parameters(net),
            "anchors": num_priors(hw[0], hw[1], cfg), "anchors_input_hw": hw, "config": to_dict(cfg),
            "run": run, "world_size": dist.world})
    step_log = StepLog(os.path.join(out, "train_log.jsonl"), resume_step=state.step if ck is not None else None) \
        if dist.main else None

    last_saved = [None]

    def save(st):
        last_saved[0] = st.step
        if dist.main:
            path = save_checkpoint(os.path.join(out, checkpoint_name(st.step)), {
                "config": to_dict(cfg), "state_dict": net.state_dict(), "optimizer": optimizer.state_dict(),
                "amp": amp.state_dict(), "state": st.to_dict(), "run": run,
                "rng": {"torch_rng": torch.get_rng_state()}, "world_size": dist.world})
            mark_latest(out, path)
            prune_checkpoints(out, run["keep_checkpoints"])

    max_step = run["steps"]
    max_epoch = run["epochs"] or cfg.EPOCHES
    ctx = Context(cfg, device, amp, dist, step_log, max_step, run["print_every"], save, log)
    log(f"S3FD ({cfg.ARCH}): {len(train_ds)} training images ({train_ds.skipped} without a face skipped), batch "
        f"{cfg.BATCH_SIZE} x {dist.world}, lr {lr_at(cfg, state.step + 1):g}, input {cfg.resize_width}, "
        f"device {device}, amp {amp.name}, epochs up to {max_epoch}" +
        (f", steps up to {max_step}" if max_step else ""))
    try:
        if max_step is not None and state.step >= max_step:
            log(f"global step {state.step} already reaches --steps {max_step}: nothing to train")
        while state.epoch < max_epoch and not (max_step is not None and state.step >= max_step):
            train_ds.set_epoch(state.epoch)
            train_loader.sampler.set_epoch(state.epoch, skip=state.epoch_samples)
            stopped = train_one_epoch(model, criterion, optimizer, train_loader, state, ctx)
            if stopped:
                break
            if val_loader is not None:
                val_loader.sampler.set_epoch(0)
                tloss, secs = evaluate_loss(model, criterion, val_loader, ctx)
                log(f"Timer: {secs:.4f}")
                log(f"test epoch:{state.epoch} || Loss:{tloss:.4f}")
                if tloss < state.best_val:
                    state.best_val = tloss
                    log(f"Saving best state,epoch {state.epoch}")
                    if dist.main:
                        save_checkpoint(os.path.join(out, BEST_NAME), {
                            "config": to_dict(cfg), "state_dict": net.state_dict(), "step": state.step,
                            "epoch": state.epoch, "val_loss": tloss})
            state.epoch += 1
            state.epoch_samples, state.epoch_loss_sum, state.epoch_batches = 0, 0.0, 0
            if val_loader is not None:          # the reference writes its checkpoint after each validation
                save(state)
        if last_saved[0] != state.step and state.step > 0:
            save(state)                         # the end of the run is always a checkpoint
    finally:
        if step_log is not None:
            step_log.close()
    secs = ctx.step_secs[2:] or ctx.step_secs[-1:]
    if secs and dist.main:
        ips = cfg.BATCH_SIZE * dist.world / statistics.median(secs)
        log(f"Final Performance images/sec : {ips:.2f}")
    dist.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "train.py"))
