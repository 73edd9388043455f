"""Training wrappers and per-step callbacks (the reference's ``network_define.py``).

* ``LossNet`` / ``WithLossCell``: total loss = ``rpn_loss + rcnn_loss``; the wrapped network also hands on the six
  losses for logging.
* ``TrainOneStepCell``: one cell for every device. Gradients of the total loss are taken with the static loss scale
  as sensitivity, divided by it again, averaged over the devices (data parallel), optionally clipped by global norm
  (``grad_clip``), applied. The reference's CPU cell skipped the division and only worked because its CPU config
  sets ``loss_scale`` to 1.
* ``LossCallBack``: per step, ``loss_<rank>.log`` and stdout get the reference's line (elapsed seconds, epoch,
  step in epoch, the six losses, total loss, learning rate); rank 0 also writes ``train_log.jsonl`` (global step,
  total loss, wall seconds of the step including data loading, learning rate, the six losses, epoch).
* ``StepCheckpoint``: checkpoints ``faster_rcnn-<epoch>_<global step>.ckpt`` in ``ckpt_<rank>/`` every
  ``save_checkpoint_steps`` steps (or ``save_checkpoint_epochs`` epochs) and at the last step, atomically, with the
  optimizer state and the configuration; the ``keep_checkpoint_max`` latest are kept.
"""
import os
import time

import mindspore as ms
from mindspore import nn, ops
from mindspore.nn.wrap.grad_reducer import DistributedGradReducer
from mindspore.train.callback import Callback

from .checkpoint import checkpoint_name, prune_checkpoints, save_checkpoint
from .fileio import StepLog

LOSS_NAMES = ("rpn_loss", "rcnn_loss", "rpn_cls_loss", "rpn_reg_loss", "rcnn_cls_loss", "rcnn_reg_loss")


class LossNet(nn.Cell):
    """The total loss: RPN loss + RCNN loss."""

    def construct(self, x1, x2, x3, x4, x5, x6):
        return x1 + x2


class WithLossCell(nn.Cell):
    """``construct(batch...)`` -> ``(total loss, (the six losses))``."""

    def __init__(self, backbone, loss_fn):
        super().__init__(auto_prefix=False)
        self._backbone = backbone
        self._loss_fn = loss_fn

    def construct(self, x, img_shape, gt_bboxe, gt_label, gt_num, rpn_priority, rcnn_priority):
        losses = self._backbone(x, img_shape, gt_bboxe, gt_label, gt_num, rpn_priority, rcnn_priority)
        total = ops.reshape(self._loss_fn(*losses), ())
        return total, losses

    @property
    def backbone_network(self):
        return self._backbone


_grad_unscale = ops.MultitypeFuncGraph("grad_unscale")


@_grad_unscale.register("Tensor", "Tensor")
def _unscale(inv_scale, grad):
    return grad * ops.cast(inv_scale, ops.dtype(grad))


class TrainOneStepCell(nn.Cell):
    """One optimisation step; returns the total loss followed by the six losses (float32 scalars)."""

    def __init__(self, network, optimizer, scale_sense=1.0, grad_clip=False):
        super().__init__(auto_prefix=False)
        self.network = network
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.scale = float(scale_sense)
        self.inv_scale = ms.Tensor(1.0 / self.scale, ms.float32)
        self.hyper_map = ops.HyperMap()
        self.grad_clip = grad_clip
        self.grad_fn = ms.value_and_grad(self._scaled_loss, None, self.weights, has_aux=True)
        parallel_mode = ms.get_auto_parallel_context("parallel_mode")
        self.reducer_flag = parallel_mode in (ms.ParallelMode.DATA_PARALLEL, ms.ParallelMode.HYBRID_PARALLEL)
        if self.reducer_flag:
            mean = ms.get_auto_parallel_context("gradients_mean")
            degree = ms.get_auto_parallel_context("device_num")
            self.grad_reducer = DistributedGradReducer(self.weights, mean, degree)
        else:
            self.grad_reducer = ops.identity

    def _scaled_loss(self, *inputs):
        total, losses = self.network(*inputs)
        return total * self.scale, total, losses

    def construct(self, x, img_shape, gt_bboxe, gt_label, gt_num, rpn_priority, rcnn_priority):
        (_, total, losses), grads = self.grad_fn(x, img_shape, gt_bboxe, gt_label, gt_num, rpn_priority,
                                                 rcnn_priority)
        if self.scale != 1.0:
            grads = self.hyper_map(ops.partial(_grad_unscale, self.inv_scale), grads)
        grads = self.grad_reducer(grads)
        if self.grad_clip:
            grads = ops.clip_by_global_norm(grads)
        total = ops.depend(total, self.optimizer(grads))
        out = (total,)
        for loss in losses:
            out += (ops.reshape(ops.cast(loss, ms.float32), ()),)
        return out


class GlobalStepCallBack(Callback):
    """Counts global steps across ``Model.train`` calls: each call starts where the previous one ended (the
    callbacks are given the global step the run starts after), and in sink mode one callback covers several
    steps (``cur_step_num`` grows by the sink size)."""

    def __init__(self, start_step):
        super().__init__()
        self.global_step = start_step
        self._base = start_step

    def on_train_begin(self, run_context):
        self._base = self.global_step

    def advance(self, run_context):
        """The global step after this callback's steps, and how many steps it covered."""
        step = self._base + run_context.original_args().cur_step_num
        covered, self.global_step = step - self.global_step, step
        return step, max(covered, 1)


def _scalars(outputs):
    vals = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    return [float(v.asnumpy().reshape(-1)[0]) if hasattr(v, "asnumpy") else float(v) for v in vals]


class LossCallBack(GlobalStepCallBack):
    """The per-step log: ``loss_<rank>.log`` and stdout in the reference's format, ``train_log.jsonl`` on rank 0.

    ``start_step`` is the global step the run (or the resumed run) starts after; ``lr`` the per-step learning
    rates; ``steps_per_epoch`` numbers the epochs."""

    def __init__(self, out_dir, rank_id, lr, start_step, steps_per_epoch, log_json=True):
        super().__init__(start_step)
        self.rank_id = rank_id
        self.lr = lr
        self.steps_per_epoch = steps_per_epoch
        self.loss_file = os.path.join(out_dir, f"loss_{rank_id}.log")
        self.step_log = StepLog(os.path.join(out_dir, "train_log.jsonl"),
                                resume_step=start_step if start_step else None) if log_json else None
        self.t_first = time.time()
        self.t_last = None

    def on_train_begin(self, run_context):
        super().on_train_begin(run_context)
        self.t_last = time.time()

    def on_train_step_end(self, run_context):
        now = time.time()
        step, covered = self.advance(run_context)
        sec, self.t_last = (now - self.t_last) / covered, now
        values = _scalars(run_context.original_args().net_outputs)
        total, losses = values[0], values[1:]
        epoch = (step - 1) // self.steps_per_epoch + 1
        step_in_epoch = (step - 1) % self.steps_per_epoch + 1
        lr = float(self.lr[step - 1])
        terms = ", ".join(f"{n}: {v:.5f}" for n, v in zip(LOSS_NAMES, losses))
        line = (f"{now - self.t_first:.0f} s | epoch: {epoch} step: {step_in_epoch}, {terms}, total_loss: "
                f"{total:.5f}, lr: {lr:.6f}")
        with open(self.loss_file, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        print(f"[{self.rank_id}] {line} ({sec:.2f} s/step)", flush=True)
        if self.step_log is not None:
            self.step_log.write(step, total, sec, lr, epoch=epoch, **dict(zip(LOSS_NAMES, losses)))

    def on_train_end(self, run_context):
        if self.step_log is not None:
            self.step_log.close()


class StepCheckpoint(GlobalStepCallBack):
    """Checkpoints of the train network (weights + optimizer state + configuration) by global step."""

    def __init__(self, ckpt_dir, config_dict, start_step, end_step, steps_per_epoch, every_steps, keep):
        super().__init__(start_step)
        self.ckpt_dir = ckpt_dir
        self.config_dict = config_dict
        self.end_step = end_step
        self.steps_per_epoch = steps_per_epoch
        self.every_steps = every_steps
        self.keep = keep
        self.next_save = (start_step // every_steps + 1) * every_steps
        self.last_saved = None

    def on_train_step_end(self, run_context):
        step, _ = self.advance(run_context)
        if step >= self.next_save or step == self.end_step:
            self.save(run_context.original_args().train_network, step)
            self.next_save = (step // self.every_steps + 1) * self.every_steps

    def save(self, train_network, step):
        epoch = (step - 1) // self.steps_per_epoch + 1
        path = os.path.join(self.ckpt_dir, checkpoint_name(epoch, step))
        save_checkpoint(path, train_network, self.config_dict, step=step, epoch=epoch)
        prune_checkpoints(self.ckpt_dir, self.keep)
        self.last_saved = path
