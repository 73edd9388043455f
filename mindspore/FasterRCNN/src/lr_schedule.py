"""Learning-rate schedules (one value per global step), as the reference's ``lr_schedule.py``.

``dynamic_lr``: linear warm-up over ``warmup_step`` steps from ``base_lr * warmup_ratio`` to ``base_lr``, then
``base_lr * (1 + cos(pi * (i - warmup_step) / T)) / 2`` with ``T = steps_per_epoch * (epoch_size + 1)`` (the
reference's denominator: the schedule ends near 0.56 % of ``base_lr``, not at 0). ``multistep_lr``: ``base_lr``
times 0.1 at each epoch of ``sgd_step`` (the reference read an undefined ``milestones`` key and crashed).
``base_lr`` is the per-run value: train.py divides the configured one by 8 for a one-device run.
"""
import math


def linear_warmup_learning_rate(current_step, warmup_steps, base_lr, init_lr):
    return float(init_lr) + (float(base_lr) - float(init_lr)) / float(warmup_steps) * current_step


def a_cosine_learning_rate(current_step, base_lr, warmup_steps, decay_steps):
    return (1 + math.cos(float(current_step - warmup_steps) / float(decay_steps) * math.pi)) / 2 * base_lr


def dynamic_lr(config, steps_per_epoch, base_lr=None):
    """``steps_per_epoch * (epoch_size + 1)`` values: warm-up then the reference's cosine."""
    base_lr = config.base_lr if base_lr is None else base_lr
    total_steps = steps_per_epoch * (config.epoch_size + 1)
    warmup_steps = int(config.warmup_step)
    return [linear_warmup_learning_rate(i, warmup_steps, base_lr, base_lr * config.warmup_ratio)
            if i < warmup_steps else a_cosine_learning_rate(i, base_lr, warmup_steps, total_steps)
            for i in range(total_steps)]


def multistep_lr(config, steps_per_epoch, base_lr=None):
    """``steps_per_epoch * epoch_size`` values, x0.1 at the start of each epoch listed in ``sgd_step``."""
    lr = float(config.base_lr if base_lr is None else base_lr)
    out = []
    for epoch in range(config.epoch_size):
        if epoch in config.sgd_step:
            lr *= 0.1
        out += [lr] * steps_per_epoch
    return out


def learning_rates(config, steps_per_epoch, base_lr):
    """The schedule of ``config.lr_type``."""
    if config.lr_type == "dynamic":
        return dynamic_lr(config, steps_per_epoch, base_lr)
    return multistep_lr(config, steps_per_epoch, base_lr)
