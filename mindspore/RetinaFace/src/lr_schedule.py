"""Per-step learning rates (section 1.7 of the spec).

``dynamic_lr`` (the reference default): for step i of T = epochs * steps_per_epoch with W = warmup_epoch *
steps_per_epoch warmup steps,
    i <  W:  lr = base/3 + (base - base/3) * i / W
    i >= W:  lr = base * (1 + cos(pi * (i - W) / T)) / 2        <- denominator T, not T - W (never reaches 0)
``standard_lr``: epoch e (1-based) <= warmup_epoch: 0.1 * base * 1.5849^(e-1); then base, gamma * base for
decay1 <= e <= decay2, gamma^2 * base for e > decay2.
"""
import math


def warmup_lr(step, warmup_steps, base_lr, init_lr):
    return float(init_lr) + (float(base_lr) - float(init_lr)) / float(warmup_steps) * step


def cosine_lr(step, base_lr, warmup_steps, total_steps):
    return (1.0 + math.cos(math.pi * float(step - warmup_steps) / float(total_steps))) / 2.0 * base_lr


def dynamic_lr(base_lr, total_steps, warmup_steps, warmup_ratio=1.0 / 3.0):
    return [warmup_lr(i, warmup_steps, base_lr, base_lr * warmup_ratio) if i < warmup_steps
            else cosine_lr(i, base_lr, warmup_steps, total_steps) for i in range(total_steps)]


def standard_lr(base_lr, gamma, decay_epochs, steps_per_epoch, total_epochs, warmup_epoch):
    out = []
    for epoch in range(1, total_epochs + 1):
        if epoch <= warmup_epoch:
            lr = 0.1 * base_lr * (1.5849 ** (epoch - 1))
        elif decay_epochs[0] <= epoch <= decay_epochs[1]:
            lr = base_lr * gamma
        elif epoch > decay_epochs[1]:
            lr = base_lr * gamma ** 2
        else:
            lr = base_lr
        out += [lr] * steps_per_epoch
    return out


def adjust_learning_rate(initial_lr, gamma, stepvalues, steps_per_epoch, total_epochs, warmup_epoch=5,
                         lr_type="dynamic_lr"):
    """List of T = total_epochs * steps_per_epoch learning rates."""
    if lr_type == "dynamic_lr":
        return dynamic_lr(initial_lr, total_epochs * steps_per_epoch, max(warmup_epoch, 0) * steps_per_epoch)
    if lr_type == "standard_lr":
        return standard_lr(initial_lr, gamma, stepvalues, steps_per_epoch, total_epochs, warmup_epoch)
    raise ValueError(f"unknown lr_type {lr_type!r} (dynamic_lr or standard_lr)")
