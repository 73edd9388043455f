"""The training and validation loops (torchvision ``references/detection`` split: ``train.py`` builds, this runs).

``train_one_epoch`` runs the steps of one epoch from where the run stands (``RunState``), with the reference's log
lines every ``print_every`` steps::

    Timer: 0.8123                                   (forward + backward + update of this step, seconds)
    epoch:0 || iter:1 || Loss:11.2417               (epoch 0-based as the reference, iter = global step, running
    ->> conf loss:7.1234 || loc loss:4.1183          epoch mean of the total loss; this step's two terms)
    ->>lr:0.001000

one ``train_log.jsonl`` line per step (``step``, ``loss`` = loss_l + loss_c of the step averaged over the processes,
``sec`` = wall time of the step including data loading, ``lr``, ``loss_l``, ``loss_c``, ``epoch``), and a checkpoint
every ``SAVE_EVERY`` global steps and at the step limit. ``evaluate_loss`` is the reference's per-epoch validation
loss (the mean of ``loss_l + loss_c`` over the val batches)::

    Timer: 12.3456
    test epoch:0 || Loss:9.8765
"""
import math
import sys
import time

import torch
import torch.utils.data as tud
from tqdm import tqdm

from data.config import lr_at


class RunState:
    """Where a run stands: ``step`` (global steps done), ``epoch`` (0-based, the one in progress or next),
    ``epoch_samples`` (samples of that epoch already trained, per process), the running epoch loss and the best
    validation loss. Stored in every training checkpoint."""

    FIELDS = ("step", "epoch", "epoch_samples", "epoch_loss_sum", "epoch_batches", "best_val")

    def __init__(self, **kw):
        self.step, self.epoch, self.epoch_samples = 0, 0, 0
        self.epoch_loss_sum, self.epoch_batches, self.best_val = 0.0, 0, math.inf
        for k, v in kw.items():
            if k in self.FIELDS:
                setattr(self, k, v)

    def to_dict(self):
        return {k: getattr(self, k) for k in self.FIELDS}


class EpochSampler(tud.Sampler):
    """Sample order of one epoch: a permutation seeded by (seed, epoch) (one process) or ``DistributedSampler``'s
    shard (several), without the first ``skip`` samples already trained when a run is resumed inside an epoch."""

    def __init__(self, dataset, seed, world=1, rank=0, shuffle=True):
        self.n = len(dataset)
        self.seed, self.shuffle, self.epoch, self.skip = int(seed), shuffle, 0, 0
        self.dist = tud.distributed.DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=shuffle,
                                                       seed=seed, drop_last=False) if world > 1 else None

    def set_epoch(self, epoch, skip=0):
        self.epoch, self.skip = int(epoch), int(skip)
        if self.dist is not None:
            self.dist.set_epoch(epoch)

    def order(self):
        if self.dist is not None:
            return list(self.dist)
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator()
        g.manual_seed(self.seed * 100003 + self.epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self):
        return iter(self.order()[self.skip:])

    def __len__(self):
        return max(0, self.per_epoch() - self.skip)

    def per_epoch(self):
        return len(self.dist) if self.dist is not None else self.n


class Context:
    """What the loops need besides the model: ``cfg``, ``device``, ``amp``, ``dist`` (src.device.Dist),
    ``step_log`` (fileio.StepLog or None on other ranks), ``max_step`` (global step limit or None),
    ``print_every``, ``save(state)`` (writes a training checkpoint), ``log(line)``."""

    def __init__(self, cfg, device, amp, dist, step_log, max_step, print_every, save, log):
        self.cfg, self.device, self.amp, self.dist = cfg, device, amp, dist
        self.step_log, self.max_step, self.print_every = step_log, max_step, print_every
        self.save, self.log = save, log
        self.step_secs = []             # wall seconds of this run's steps (for the images/s figure)


def _to_device(images, targets, device):
    return images.to(device, non_blocking=True), [t.to(device) for t in targets]


def train_one_epoch(model, criterion, optimizer, loader, state, ctx):
    """Train from ``state`` to the end of its epoch or to ``ctx.max_step``; returns True when the limit stopped it.
    ``loader.sampler`` must already be set to the epoch and the samples to skip."""
    cfg, dist = ctx.cfg, ctx.dist
    model.train()
    bar = tqdm(loader, desc=f"epoch {state.epoch}", unit="batch", disable=None if dist.main else True, leave=False,
               mininterval=10, file=sys.stdout)
    t_prev = time.time()
    for images, targets in bar:
        lr = lr_at(cfg, state.step + 1)
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, targets = _to_device(images, targets, ctx.device)
        t0 = time.time()
        with ctx.amp.autocast():
            out = model(images)
        loss_l, loss_c = criterion(out, targets)
        loss = loss_l + loss_c
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss ({loss.item()}) at step {state.step + 1}: lower --lr or check "
                                     "the data")
        optimizer.zero_grad(set_to_none=True)
        ctx.amp.backward_step(loss, optimizer)
        t1 = time.time()
        state.step += 1
        state.epoch_samples += images.size(0)
        vals = dist.sum(torch.tensor([loss.item(), loss_l.item(), loss_c.item()], dtype=torch.float64),
                        ctx.device) / dist.world
        total, l_loc, l_conf = vals.tolist()
        state.epoch_loss_sum += total
        state.epoch_batches += 1
        sec = time.time() - t_prev
        ctx.step_secs.append(sec)
        if ctx.step_log is not None:
            ctx.step_log.write(state.step, total, sec, lr, loss_l=l_loc, loss_c=l_conf, epoch=state.epoch)
        if dist.main and (state.step - 1) % ctx.print_every == 0:
            ctx.log(f"Timer: {t1 - t0:.4f}")
            ctx.log(f"epoch:{state.epoch} || iter:{state.step} || "
                    f"Loss:{state.epoch_loss_sum / state.epoch_batches:.4f}")
            ctx.log(f"->> conf loss:{l_conf:.4f} || loc loss:{l_loc:.4f}")
            ctx.log(f"->>lr:{lr:.6f}")
        bar.set_postfix(loss=f"{total:.4f}", step=state.step)
        stop = ctx.max_step is not None and state.step >= ctx.max_step
        if stop or state.step % cfg.SAVE_EVERY == 0:
            ctx.save(state)
        if stop:
            return True
        t_prev = time.time()
    return False


@torch.no_grad()
def evaluate_loss(model, criterion, loader, ctx):
    """The mean over val batches (all processes) of ``loss_l + loss_c``."""
    model.eval()
    t0 = time.time()
    sums = torch.zeros(2, dtype=torch.float64)
    for images, targets in tqdm(loader, desc="val", unit="batch", disable=None if ctx.dist.main else True,
                                leave=False, mininterval=10, file=sys.stdout):
        images, targets = _to_device(images, targets, ctx.device)
        with ctx.amp.autocast():
            out = model(images)
        loss_l, loss_c = criterion(out, targets)
        sums += torch.tensor([(loss_l + loss_c).item(), 1.0], dtype=torch.float64)
    sums = ctx.dist.sum(sums, ctx.device)
    model.train()
    return (sums[0] / max(sums[1].item(), 1.0)).item(), time.time() - t0
