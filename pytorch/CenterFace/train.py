"""CenterFace training (the reference's src/main.py with opts_pose defaults).

    python train.py --data_path DATA --output_path OUT                     # Adam 1.25e-4, batch 8, 140 epochs, 30/80
    torchrun --nproc_per_node 8 train.py --data_path DATA --device gpu --recipe ascend8p
    python train.py --data_path DATA --resume auto                          # continue from OUT/model_last.pth

DATA is the WIDER FACE layout (WIDER_train/, WIDER_val/, train/label.txt, val/label.txt; converted to the COCO
keypoints json on first use) or a folder with annotations/{train,val}_wider_face.json (see README).
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.utils.data as tud
from tqdm import tqdm

from src.checkpoint import CheckpointError, read_checkpoint, save_atomic, strip_module
from src.coco_convert import resolve_annotations
from src.dataset import DataError, WiderFaceCOCO
from src.device import Amp, SetupError, all_reduce_sum, init_device, is_main
from src.fileio import os_error_line, write_json_atomic
from src.losses import CenterFaceLoss
from src.model import CONFIGS, CenterFace, count_parameters, get_config

RECIPES = {  # (batch per device, lr, lr_step, epochs)
    "reference": (8, 1.25e-4, "30,80", 140),  # chenjun2hao opts_pose
    "ascend8p": (16, 2.5e-3, "85,120", 160),  # Ascend ModelZoo train_full_8p.sh (README table says 140 epochs)
}
LOSS_KEYS = ["loss", "hm_loss", "wh_loss", "off_loss", "lm_loss"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_path", help="dataset root (required)")
    p.add_argument("--output_path", default="outputs", help="checkpoints and logs (default ./outputs)")
    p.add_argument("--variant", default="chenjun2hao", choices=sorted(CONFIGS))
    p.add_argument("--recipe", default="reference", choices=sorted(RECIPES),
                   help="defaults for batch size / lr / lr_step / epochs")
    p.add_argument("--batch_size", type=int, help="per device")
    p.add_argument("--lr", type=float)
    p.add_argument("--lr_step", help="epochs after which lr is multiplied by 0.1, e.g. 30,80")
    p.add_argument("--num_epochs", type=int)
    p.add_argument("--input_size", type=int, default=800, help="square training input (multiple of 32)")
    p.add_argument("--num_workers", type=int, default=4)
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--amp", action="store_true", help="mixed precision (bf16 on cpu, fp16 on gpu/npu)")
    p.add_argument("--apex", action="store_true", help="npu only: apex O1 with a static loss scale")
    p.add_argument("--loss_scale", type=float, default=19.0, help="static loss scale for --apex")
    p.add_argument("--pretrained", help="local ImageNet MobileNetV2 state dict for the backbone (loaded by position)")
    p.add_argument("--init_checkpoint", help="start from these weights (e.g. tools/convert_official.py output)")
    p.add_argument("--resume", help="checkpoint to resume from, or 'auto' = OUTPUT/model_last.pth when present")
    p.add_argument("--val_intervals", type=int, default=5, help="val loss + model_<epoch>.pth every N epochs")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps in total (smoke / perf)")
    p.add_argument("--max_images", type=int, default=0, help="use only the first N training images")
    p.add_argument("--no_val", action="store_true")
    p.add_argument("--no_color_aug", action="store_true")
    p.add_argument("--no_augment", action="store_true",
                   help="train on the plain letterbox (no DAS / crop / flip / colour), e.g. for overfit checks")
    p.add_argument("--seed", type=int, default=317)
    p.add_argument("--print_iter", type=int, default=0, help="log every N steps (0: tqdm bar only)")
    p.add_argument("--summary_json", help="write {steps, loss_first, loss_last, sec_per_step, params} here")
    a = p.parse_args(argv)
    if not a.data_path:
        p.error("--data_path is required")
    bs, lr, step, ep = RECIPES[a.recipe]
    a.batch_size = a.batch_size or bs
    a.lr = a.lr or lr
    a.lr_step = [int(s) for s in (a.lr_step or step).split(",") if s]
    a.num_epochs = a.num_epochs or ep
    if a.input_size % 32:
        p.error("--input_size must be a multiple of 32")
    return a


def lr_at(args, epoch):
    """lr for (1-based) ``epoch``: base · 0.1^(number of lr_step entries < epoch)."""
    return args.lr * (0.1 ** sum(1 for s in args.lr_step if epoch > s))


class Logger:
    def __init__(self, path, enabled):
        self.enabled = enabled
        self.f = open(path, "a") if enabled else None

    def write(self, line):
        if self.enabled:
            tqdm.write(line)
            self.f.write(line + "\n")
            self.f.flush()


def make_loader(ds, args, info, train):
    sampler = None
    if info["distributed"]:
        sampler = tud.distributed.DistributedSampler(ds, num_replicas=info["world"], rank=info["rank"],
                                                     shuffle=train, seed=args.seed, drop_last=train)
    elif train:
        sampler = EpochRandomSampler(ds, args.seed)
    if train:
        sampler = SkippingSampler(sampler)
    return tud.DataLoader(ds, batch_size=args.batch_size if train else 1, sampler=sampler, shuffle=False,
                          num_workers=args.num_workers, drop_last=train, pin_memory=args.device == "gpu",
                          persistent_workers=False)


class EpochRandomSampler(tud.Sampler):
    """A random permutation that depends only on (seed, epoch): resuming reproduces the same order."""

    def __init__(self, ds, seed):
        self.n, self.seed, self.epoch = len(ds), seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self):
        return self.n


class SkippingSampler(tud.Sampler):
    """Wraps an epoch-seeded sampler; ``skip`` drops the first indices of the epoch (resuming inside an epoch: the
    order and the augmentation depend only on (seed, epoch, index), so the remaining batches are the same)."""

    def __init__(self, base):
        self.base, self.skip = base, 0

    def set_epoch(self, epoch):
        self.base.set_epoch(epoch)

    def __iter__(self):
        it = iter(self.base)
        for _ in range(self.skip):
            next(it, None)
        return it

    def __len__(self):
        return max(0, len(self.base) - self.skip)


def to_device(batch, dev):
    return {k: v.to(dev, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def val_loss(model, loader, crit, dev, amp, info):
    model.eval()
    sums = torch.zeros(len(LOSS_KEYS) + 1, dtype=torch.float64)
    for x, tgt in tqdm(loader, desc="val", leave=False, disable=not is_main(info)):
        with amp.autocast():
            out = model(x.to(dev))
        _, parts = crit(out, to_device(tgt, dev))
        sums[:-1] += torch.tensor([parts[k].item() for k in LOSS_KEYS], dtype=torch.float64)
        sums[-1] += 1
    sums = all_reduce_sum(sums, info)
    model.train()
    return {k: (sums[i] / max(sums[-1], 1)).item() for i, k in enumerate(LOSS_KEYS)}


def load_weights(model, ck, path):
    try:
        model.load_state_dict(strip_module(ck["model"]))
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit this model: {str(e).splitlines()[0]}") from None


def main(argv=None):
    args = parse_args(argv)
    dev, info = init_device(args.device)
    if dev.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # OpenMP threads that share cores with the loader workers (or other processes) spin-wait and can make a
        # step 10x slower; leave one core per worker unless the user sets OMP_NUM_THREADS
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // info["world"] - args.num_workers))
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    os.makedirs(args.output_path, exist_ok=True)
    log = Logger(os.path.join(args.output_path, "log.txt"), is_main(info))
    cfg = get_config(args.variant)
    cfg["input_size"] = args.input_size

    # the json conversion (first use of a WIDER layout) runs on rank 0 only; the other ranks then read its cache
    if info["distributed"] and not is_main(info):
        torch.distributed.barrier()
    tr_json, tr_dir = resolve_annotations(args.data_path, "train", args.output_path)
    if not args.no_val:
        va_json, va_dir = resolve_annotations(args.data_path, "val", args.output_path)
    if info["distributed"] and is_main(info):
        torch.distributed.barrier()
    train_ds = WiderFaceCOCO(tr_json, tr_dir, args.input_size, train=not args.no_augment,
                             input_format=cfg["input_format"], convention=cfg["convention"],
                             color_aug=not args.no_color_aug, seed=args.seed)
    if args.max_images:
        train_ds.images = train_ds.images[:args.max_images]
    if len(train_ds) < args.batch_size * info["world"]:
        raise DataError(f"{tr_json}: {len(train_ds)} training images with faces, fewer than one global batch "
                        f"({args.batch_size} x {info['world']}); lower --batch_size")
    val_ds = None
    if not args.no_val:
        # seeded: the 32 faces kept of a crowded val image are the same at every validation (deterministic val loss)
        val_ds = WiderFaceCOCO(va_json, va_dir, args.input_size, train=False, input_format=cfg["input_format"],
                               convention=cfg["convention"], seed=args.seed)

    model = CenterFace(cfg)
    if args.pretrained:
        if not os.path.isfile(args.pretrained):
            raise CheckpointError(f"{args.pretrained}: ImageNet MobileNetV2 weights not found")
        try:
            sd = torch.load(args.pretrained, map_location="cpu", weights_only=True)
            n = model.load_imagenet_backbone(sd)
        except Exception as e:  # noqa: BLE001 - unreadable file or wrong tensors: one line for the user
            raise CheckpointError(f"{args.pretrained}: not an ImageNet MobileNetV2 state dict ({e})") from None
        log.write(f"loaded {n} ImageNet backbone tensors from {args.pretrained}")
    if args.init_checkpoint:
        ck = read_checkpoint(args.init_checkpoint)
        if get_config(ck["config"])["variant"] != cfg["variant"]:
            raise CheckpointError(f"{args.init_checkpoint}: checkpoint of the {ck['config']['variant']} variant; "
                                  f"pass --variant {ck['config']['variant']}")
        load_weights(model, ck, args.init_checkpoint)
    model.to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    amp = Amp(dev, args.amp or args.apex, args.apex, args.loss_scale)
    model, optimizer = amp.wrap(model, optimizer)
    start_epoch, best, step, resume_batches = 0, math.inf, 0, 0
    resume = args.resume
    if resume == "auto":
        resume = os.path.join(args.output_path, "model_last.pth")
        resume = resume if os.path.isfile(resume) else None
    if resume:
        ck = read_checkpoint(resume)
        if get_config(ck["config"])["variant"] != cfg["variant"]:
            raise CheckpointError(f"{resume}: checkpoint of the {ck['config']['variant']} variant; pass --variant "
                                  f"{ck['config']['variant']} (or another --output_path)")
        if "optimizer" not in ck or "epoch" not in ck:
            raise CheckpointError(f"{resume}: holds weights only (no optimizer state) and cannot be resumed; start "
                                  "from it with --init_checkpoint")
        load_weights(model, ck, resume)
        try:
            optimizer.load_state_dict(ck["optimizer"])
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{resume}: optimizer state does not fit this run ({e})") from None
        amp.load_state_dict(ck.get("scaler"))
        start_epoch, best, step = ck["epoch"], ck.get("best_val", math.inf), ck.get("step", 0)
        resume_batches = ck.get("epoch_batches_done", 0)  # > 0: stopped inside epoch start_epoch + 1
        log.write(f"resumed from {resume} after epoch {start_epoch}" +
                  (f" + {resume_batches} batches of epoch {start_epoch + 1}" if resume_batches else "") +
                  f" (step {step})")
    ddp_model = model
    if info["distributed"]:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type in ("cuda", "npu") else None)
    crit = CenterFaceLoss()
    train_loader = make_loader(train_ds, args, info, True)
    val_loader = make_loader(val_ds, args, info, False) if val_ds is not None else None
    n_params = count_parameters(model)
    log.write(f"CenterFace {cfg['variant']}: {n_params} parameters, {len(train_ds)} train images, "
              f"batch {args.batch_size} x {info['world']}, lr {args.lr}, lr_step {args.lr_step}, "
              f"{args.num_epochs} epochs, device {dev}, amp {args.amp}" +
              (f", {torch.get_num_threads()} threads" if dev.type == "cpu" else ""))

    def save(path, epoch, batches_done=0):
        """``epoch`` = the last COMPLETE epoch; ``batches_done`` > 0 = batches already trained of the next one."""
        if is_main(info):
            save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": amp.state_dict(),
                         "epoch": epoch, "epoch_batches_done": batches_done, "step": step, "best_val": best,
                         "config": cfg, "args": vars(args)}, path)

    losses, t_steps, n_timed = [], 0.0, 0
    ddp_model.train()
    done = False
    for epoch in range(start_epoch + 1, args.num_epochs + 1):
        for g in optimizer.param_groups:
            g["lr"] = lr_at(args, epoch)
        train_ds.set_epoch(epoch)
        train_loader.sampler.set_epoch(epoch)
        skip_batches = resume_batches if epoch == start_epoch + 1 else 0
        train_loader.sampler.skip = skip_batches * args.batch_size
        sums = torch.zeros(len(LOSS_KEYS), dtype=torch.float64)
        nb = 0
        t_epoch = time.time()
        bar = tqdm(train_loader, desc=f"train [{epoch}]", disable=not is_main(info), leave=False)
        t0 = time.time()
        for x, tgt in bar:
            x, tgt = x.to(dev, non_blocking=True), to_device(tgt, dev)
            with amp.autocast():
                out = ddp_model(x)
            loss, parts = crit(out, tgt)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss {loss.item()} at epoch {epoch} step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            amp.backward_step(loss, optimizer)
            step += 1
            vals = torch.tensor([parts[k].item() for k in LOSS_KEYS], dtype=torch.float64)
            sums += vals
            nb += 1
            losses.append(vals[0].item())
            dt = time.time() - t0
            if step > 1:  # the first step includes worker start-up
                t_steps += dt
                n_timed += 1
            bar.set_postfix(loss=f"{vals[0].item():.4f}", hm=f"{vals[1].item():.4f}")
            if args.print_iter and step % args.print_iter == 0:
                log.write(f"train: [{epoch}][{nb}/{len(train_loader)}] |" +
                          "".join(f" {k} {v:.4f} |" for k, v in zip(LOSS_KEYS, vals.tolist())) +
                          f" lr {optimizer.param_groups[0]['lr']:g} | {dt:.3f} s/step")
            t0 = time.time()
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        # a run stopped by --max_steps inside an epoch is saved as (last complete epoch, batches done of this one)
        batches_done = skip_batches + nb
        complete = batches_done >= len(train_loader.sampler.base) // args.batch_size
        ck_epoch, ck_batches = (epoch, 0) if complete else (epoch - 1, batches_done)
        avg = (all_reduce_sum(sums, info) / max(1, nb * info["world"])).tolist()
        line = f"epoch: {epoch} |" + "".join(f"{k} {v:8f} | " for k, v in zip(LOSS_KEYS, avg)) + \
            f"time {(time.time() - t_epoch) / 60:.2f}min |" + ("" if complete else f" stopped after {batches_done} of "
                                                                f"{len(train_loader.sampler.base) // args.batch_size}"
                                                                " batches |")
        validate = val_loader is not None and (epoch % args.val_intervals == 0 or done or epoch == args.num_epochs)
        if validate or (complete and epoch in args.lr_step):  # the reference also keeps the weights before each drop
            save(os.path.join(args.output_path, f"model_{epoch}.pth"), ck_epoch, ck_batches)
        if validate:
            v = val_loss(ddp_model, val_loader, crit, dev, amp, info)
            line += " val " + "".join(f"{k} {v[k]:8f} | " for k in LOSS_KEYS)
            if v["loss"] < best:
                best = v["loss"]
                save(os.path.join(args.output_path, "model_best.pth"), ck_epoch, ck_batches)
        log.write(line)
        save(os.path.join(args.output_path, "model_last.pth"), ck_epoch, ck_batches)
        if done:
            break
    if args.summary_json and is_main(info):
        write_json_atomic(args.summary_json, {
            "steps": step, "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "sec_per_step": t_steps / n_timed if n_timed else None, "params": n_params, "anchors": None,
            "global_batch": args.batch_size * info["world"],
            "images_per_s": args.batch_size * info["world"] * n_timed / t_steps if n_timed else None})
    if info["distributed"]:
        torch.distributed.destroy_process_group()
    return 0


def one_line(e):
    """The user-facing line of an error; errors raised in DataLoader workers arrive wrapped with a traceback."""
    lines = [m.strip() for m in str(e).strip().splitlines() if m.strip()]
    tagged = [m for m in lines if m.startswith(("src.dataset.DataError:", "DataError:"))]
    if tagged:
        return tagged[-1].split("DataError:", 1)[1].strip()
    return lines[0] if lines else e.__class__.__name__


def cli():
    try:
        sys.exit(main())
    except (DataError, CheckpointError, SetupError, FloatingPointError) as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:  # an output folder that cannot be created, a full disk, ...
        print(f"error: {os_error_line(e)}", file=sys.stderr)
        sys.exit(2)
    except RuntimeError as e:  # a DataError re-raised by a worker under another type
        if "DataError:" in str(e):
            print(f"error: {one_line(e)}", file=sys.stderr)
            sys.exit(2)
        raise


if __name__ == "__main__":
    cli()
