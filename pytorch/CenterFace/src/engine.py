"""The training and val-loss loops (torchvision ``references/detection`` split: train.py builds, this file loops).

``fit`` runs the epochs from the state a run starts or resumes at, up to ``cfg.num_epochs`` or the global step
``cfg.max_steps``: ``train_one_epoch`` per epoch, the val loss every ``cfg.val_intervals`` epochs (and at the last),
a checkpoint after every epoch and where a step limit stops the run. Every step goes to ``train_log.jsonl``
(``StepLog``: global step, loss, wall seconds with data loading, lr, the loss terms, epoch); the reference's
CenterNet lines (``epoch: N |loss x | hm_loss x | ...``) go to stdout and ``log.txt``, with the global step.
"""
import math
import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .device import all_reduce_sum, broadcast_buffers, is_main
from .errors import ConfigError

LOSS_KEYS = ("loss", "hm_loss", "wh_loss", "off_loss", "lm_loss")
WARMUP_STEPS = 2  # left out of the throughput: loader start-up, allocator and cache warm-up (as ci/smoke.py)


@dataclass
class TrainState:
    """Where a run stands; stored in every checkpoint. ``epoch`` is the last COMPLETE epoch; ``epoch_batches_done``
    > 0 means the run stopped (step limit) that many batches into epoch ``epoch + 1``."""
    epoch: int = 0
    epoch_batches_done: int = 0
    step: int = 0
    best_val: float = math.inf

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, ck):
        return cls(ck["epoch"], ck.get("epoch_batches_done", 0), ck.get("step", 0), ck.get("best_val", math.inf))


class TextLog:
    """The reference-format log: each line to stdout (above the progress bar) and appended to ``log.txt``."""

    def __init__(self, path, enabled):
        self.f = open(path, "a", encoding="utf-8") if enabled else None

    def write(self, line):
        if self.f is not None:
            tqdm.write(line)
            self.f.write(line + "\n")
            self.f.flush()


def to_device(batch, dev):
    return {k: v.to(dev, non_blocking=True) for k, v in batch.items()}


def loss_line(values):
    return "".join(f" {k} {v:.4f} |" for k, v in zip(LOSS_KEYS, values))


def train_one_epoch(model, loader, optimizer, criterion, amp, device, epoch, state, cfg, info, step_log, text_log,
                    print_iter=0):
    """One epoch (or up to the global step ``cfg.max_steps``). Returns (summed loss terms, batches, step seconds,
    stopped by the step limit)."""
    sums = torch.zeros(len(LOSS_KEYS), dtype=torch.float64)
    nb, secs = 0, []
    lr = optimizer.param_groups[0]["lr"]
    bar = tqdm(loader, desc=f"train [{epoch}]", disable=not is_main(info), leave=False)
    t0 = time.time()
    for x, tgt in bar:
        x, tgt = x.to(device, non_blocking=True), to_device(tgt, device)
        with amp.autocast():
            out = model(x)
        loss, parts = criterion(out, tgt)
        if not torch.isfinite(loss):
            raise ConfigError(f"non-finite loss {loss.item()} at epoch {epoch}, step {state.step + 1}: the run "
                              f"diverged (lr {lr:g}; lower --lr)")
        optimizer.zero_grad(set_to_none=True)
        amp.backward_step(loss, optimizer)
        state.step += 1
        vals = [parts[k].item() for k in LOSS_KEYS]
        sums += torch.tensor(vals, dtype=torch.float64)
        nb += 1
        dt = time.time() - t0
        secs.append(dt)
        if step_log is not None:
            step_log.write(state.step, vals[0], dt, lr, epoch=epoch, **dict(zip(LOSS_KEYS[1:], vals[1:])))
        bar.set_postfix(loss=f"{vals[0]:.4f}", hm=f"{vals[1]:.4f}")
        if print_iter and state.step % print_iter == 0:
            text_log.write(f"train: [{epoch}][{nb}/{len(loader)}] step {state.step} |{loss_line(vals)} lr {lr:g} | "
                           f"{dt:.3f} s/step")
        t0 = time.time()
        if cfg.max_steps and state.step >= cfg.max_steps:
            return sums, nb, secs, True
    return sums, nb, secs, False


@torch.no_grad()
def val_loss(model, loader, criterion, device, amp, info):
    """The mean loss terms over the val set, of the model that rank 0's checkpoint stores: under DDP every process
    takes rank 0's BatchNorm statistics (each process updated its own with its own batches), runs the plain module
    on its share of the images (of any length: no collective in the loop) and the sums are reduced once."""
    net = model.module if isinstance(model, DistributedDataParallel) else model
    broadcast_buffers(net, info)
    net.eval()
    sums = torch.zeros(len(LOSS_KEYS) + 1, dtype=torch.float64)
    for x, tgt in tqdm(loader, desc="val", leave=False, disable=not is_main(info)):
        with amp.autocast():
            out = net(x.to(device))
        _, parts = criterion(out, to_device(tgt, device))
        sums[:-1] += torch.tensor([parts[k].item() for k in LOSS_KEYS], dtype=torch.float64)
        sums[-1] += 1
    sums = all_reduce_sum(sums, info)
    net.train()
    return {k: (sums[i] / max(sums[-1], 1)).item() for i, k in enumerate(LOSS_KEYS)}


def fit(model, optimizer, criterion, amp, device, train_loader, val_loader, cfg, state, info, checkpointer,
        step_log, text_log, print_iter=0):
    """The epoch loop from ``state`` to ``cfg.num_epochs`` / ``cfg.max_steps``; ``model`` is the (DDP-wrapped)
    training module, ``train_loader.sampler`` a ``SkippingSampler``. Returns the seconds of every step trained."""
    all_secs = []
    batches_per_epoch = len(train_loader.sampler.base) // cfg.batch_size
    model.train()
    for epoch in range(state.epoch + 1, cfg.num_epochs + 1):
        if cfg.max_steps and state.step >= cfg.max_steps:
            break
        for g in optimizer.param_groups:
            g["lr"] = cfg.lr_at(epoch)
        train_loader.dataset.set_epoch(epoch)
        train_loader.sampler.set_epoch(epoch)
        skip = state.epoch_batches_done if epoch == state.epoch + 1 else 0
        train_loader.sampler.skip = skip * cfg.batch_size
        t_epoch = time.time()
        sums, nb, secs, stopped = train_one_epoch(model, train_loader, optimizer, criterion, amp, device, epoch,
                                                  state, cfg, info, step_log, text_log, print_iter)
        all_secs += secs
        done = skip + nb
        complete = done >= batches_per_epoch
        state.epoch, state.epoch_batches_done = (epoch, 0) if complete else (epoch - 1, done)
        avg = (all_reduce_sum(sums, info) / max(1, nb * info["world"])).tolist()
        line = (f"epoch: {epoch} |" + "".join(f"{k} {v:8f} | " for k, v in zip(LOSS_KEYS, avg))
                + f"time {(time.time() - t_epoch) / 60:.2f}min | step {state.step} |"
                + ("" if complete else f" stopped after {done} of {batches_per_epoch} batches |"))
        last = stopped or epoch == cfg.num_epochs or (cfg.max_steps and state.step >= cfg.max_steps)
        best = False
        if val_loader is not None and (epoch % cfg.val_intervals == 0 or last):
            v = val_loss(model, val_loader, criterion, device, amp, info)
            line += " val " + "".join(f"{k} {v[k]:8f} | " for k in LOSS_KEYS)
            best = v["loss"] < state.best_val
            state.best_val = min(state.best_val, v["loss"])
        text_log.write(line)
        checkpointer.save(state, best=best)
        if stopped:
            break
    return all_secs


def images_per_second(secs, global_batch):
    """Throughput of the steps after the first ``WARMUP_STEPS`` (median step time; the last step's when there are
    no more), the definition of ci/smoke.py's sec_per_step."""
    if not secs:
        return None
    rest = secs[WARMUP_STEPS:] or secs[-1:]
    return global_batch / statistics.median(rest)
