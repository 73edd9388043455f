"""What happens around each training step of ``Model.train``: the log lines and ``train_log.jsonl``, the checkpoints.

Both callbacks count the **global** step (resumed runs continue the numbering of the checkpoint) and survive several
``Model.train`` calls of one run (``src.engine.train`` makes up to three: the rest of an interrupted epoch, whole
epochs, the part of the last epoch before the step limit). In dataset sink mode MindSpore reports once per sink;
the callbacks then count the sink's steps and log one record for them.
"""
import hashlib
import statistics
import time

import numpy as np
from mindspore.train import Callback

from .checkpoint import DEVICE_NUM_KEY, checkpoint_name, keep_last, save

WARMUP_STEPS = 2      # steps left out of the throughput: graph compilation, pipeline start, allocator warm-up


class StepLogger(Callback):
    """Per step: the reference's ``LossMonitor`` line ``epoch: E step: S, loss is L`` (S within the epoch) followed
    by the global step, learning rate and wall seconds, and one ``train_log.jsonl`` record through
    ``fileio.StepLog`` (``step_log``; rank 0). Per epoch: the reference's ``TimeMonitor`` line, its per-step time
    divided by the steps this epoch actually ran. At the end: the training throughput in images/sec and, when data
    parallel, a digest of the weights, which is the same on every rank when the gradients were all-reduced.

    ``lrs``: the learning rate of every step (index = global step - 1).
    """

    def __init__(self, start_step, steps_per_epoch, lrs, batch_size, device_num=1, step_log=None, rank=0):
        super().__init__()
        self.step = int(start_step)
        self.steps_per_epoch = int(steps_per_epoch)
        self.lrs = lrs
        self.images_per_step = int(batch_size) * int(device_num)
        self.device_num = int(device_num)
        self.step_log = step_log
        self.rank = rank
        self.secs = []
        self._cur = 0
        self._t_last = None
        self._epoch_t0 = None
        self._epoch_step0 = None

    def _lr(self, step):
        return float(self.lrs[min(step, len(self.lrs)) - 1])

    def on_train_begin(self, run_context):
        self._cur = run_context.original_args().cur_step_num

    def on_train_epoch_begin(self, run_context):
        self._epoch_t0 = self._t_last = time.time()
        self._epoch_step0 = self.step

    def on_train_step_end(self, run_context):
        cb = run_context.original_args()
        done = cb.cur_step_num - self._cur            # 1, or the steps of one sink
        self._cur = cb.cur_step_num
        now = time.time()
        sec = (now - self._t_last) / max(done, 1)
        self._t_last = now
        self.step += done
        loss = cb.net_outputs
        loss = float(loss.asnumpy() if hasattr(loss, "asnumpy") else loss)
        epoch, in_epoch = divmod(self.step - 1, self.steps_per_epoch)
        lr = self._lr(self.step)
        print(f"epoch: {epoch + 1} step: {in_epoch + 1}, loss is {loss} (global step {self.step}, lr {lr:.6g}, "
              f"{sec:.3f} s)", flush=True)
        self.secs.extend([sec] * done)
        if self.step_log is not None:
            extra = {"epoch": epoch + 1}
            if done > 1:
                extra["sink_steps"] = done
            self.step_log.write(self.step, loss, sec, lr, **extra)

    def on_train_epoch_end(self, run_context):
        steps = self.step - self._epoch_step0
        ms = (time.time() - self._epoch_t0) * 1000
        print(f"epoch time: {ms:.3f} ms, per step time: {ms / max(steps, 1):.3f} ms", flush=True)

    def throughput(self):
        """images/sec from the median step time after the first ``WARMUP_STEPS`` steps of this process (the last
        step's time when there are no more); ``None`` before any step."""
        if not self.secs:
            return None
        rest = self.secs[WARMUP_STEPS:] or self.secs[-1:]
        return self.images_per_step / statistics.median(rest), statistics.median(rest), len(rest)

    def summary(self, train_network):
        """The end-of-run lines: throughput, and the data-parallel weight digest."""
        lines = []
        tp = self.throughput()
        if tp is not None:
            ips, med, n = tp
            lines.append(f"train throughput: {ips:.4f} images/sec (median {med:.3f} s/step over {n} step(s) after "
                         f"the first {WARMUP_STEPS}, {self.images_per_step} images/step)")
        if self.device_num > 1:
            weights = _digest(train_network.trainable_params())
            stats = _digest(p for p in train_network.get_parameters()
                            if "moving_" in p.name and not p.name.startswith(("moments.", "accum.", "stat.")))
            lines.append(f"rank {self.rank}: weights digest {weights}, batch-norm statistics digest {stats}")
        return lines


def _digest(params):
    h = hashlib.sha1()
    for p in params:
        h.update(np.ascontiguousarray(p.asnumpy()).tobytes())
    return h.hexdigest()[:16]


class CheckpointSaver(Callback):
    """Saves ``<folder>/retinaface_step<global step>.ckpt`` (through ``src.checkpoint.save``: atomic, with the
    configuration) every ``every`` global steps and at ``last_step``, then keeps the ``keep`` newest checkpoints
    of the folder, whichever run wrote them. ``train_network`` (weights, SGD state, step counter) is what is saved,
    with the number of data-parallel devices ``device_num``.
    """

    def __init__(self, folder, cfg, start_step, last_step, every, keep, device_num=1):
        super().__init__()
        self.folder = folder
        self.cfg = cfg
        self.device_num = int(device_num)
        self.step = int(start_step)
        self.last_step = int(last_step)
        self.every = int(every)
        self.keep = int(keep)
        self._cur = 0
        self.saved = []

    def on_train_begin(self, run_context):
        self._cur = run_context.original_args().cur_step_num

    def on_train_step_end(self, run_context):
        cb = run_context.original_args()
        before = self.step
        self.step += cb.cur_step_num - self._cur
        self._cur = cb.cur_step_num
        if self.step // self.every > before // self.every or self.step >= self.last_step:
            self.save(cb.train_network)

    def save(self, train_network):
        path = save(train_network, f"{self.folder}/{checkpoint_name(self.step)}", self.cfg,
                    extra={DEVICE_NUM_KEY: str(self.device_num)})
        self.saved.append(path)
        removed = keep_last(self.folder, self.keep)
        print(f"saved checkpoint {path}" + (f" (removed {len(removed)} older)" if removed else ""), flush=True)
        return path
