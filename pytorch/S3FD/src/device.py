"""Devices (cpu | gpu | npu), torch.distributed set-up under torchrun, and mixed precision.

``torch_npu`` is imported only for ``--device npu`` and ``apex`` only for NPU mixed precision; a device that is asked
for and absent is a ``DeviceError`` (one line naming the device and what was found).
"""
import os

import torch
import torch.distributed as dist

from .errors import DeviceError

BACKENDS = {"cpu": "gloo", "gpu": "nccl", "npu": "hccl"}


def _import_torch_npu():
    try:
        import torch_npu  # noqa: F401  (registers torch.npu)
    except ImportError:
        raise DeviceError("--device npu: torch_npu is not installed (Ascend only); found "
                          f"torch {torch.__version__} without NPU support") from None


def select_device(kind, device_id=0):
    """The ``torch.device`` of ``kind`` (cpu | gpu | npu) and ordinal ``device_id``, checked to exist."""
    if kind == "cpu":
        if device_id != 0:
            raise DeviceError(f"--device cpu --device_id {device_id}: the cpu is the one device 0 (data-parallel CPU "
                              f"workers are torchrun processes: test/train_full_8p.sh --device_num=N)")
        return torch.device("cpu")
    if kind == "gpu":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise DeviceError(f"--device gpu: no CUDA GPU found (torch {torch.__version__}, {build})")
        if device_id >= n:
            raise DeviceError(f"--device gpu --device_id {device_id}: only {n} GPU(s) found")
        torch.cuda.set_device(device_id)
        return torch.device("cuda", device_id)
    if kind == "npu":
        _import_torch_npu()
        n = torch.npu.device_count() if torch.npu.is_available() else 0
        if n == 0:
            raise DeviceError("--device npu: torch_npu is installed but no NPU is visible")
        if device_id >= n:
            raise DeviceError(f"--device npu --device_id {device_id}: only {n} NPU(s) found")
        torch.npu.set_device(device_id)
        return torch.device("npu", device_id)
    raise DeviceError(f"--device {kind!r}: choose cpu, gpu or npu")


class Dist:
    """The process's place in a torchrun job (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``); world 1 without torchrun."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))

    @property
    def distributed(self):
        return self.world > 1

    @property
    def main(self):
        return self.rank == 0

    def barrier(self):
        if self.distributed:
            dist.barrier()

    def sum(self, t, device):
        """All-reduce (sum) of a small float64 CPU tensor; returned on the CPU."""
        if not self.distributed:
            return t
        x = t.to(device=device, dtype=torch.float64 if device.type == "cpu" else torch.float32)
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
        return x.cpu().to(torch.float64)

    def close(self):
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(kind, device_id=0):
    """``(device, Dist)``: under torchrun each process takes the device of its LOCAL_RANK and joins the process group
    (gloo on cpu, nccl on gpu, hccl on npu); otherwise ``device_id``. CPU workers all share the one cpu device."""
    d = Dist()
    device = select_device(kind, (0 if kind == "cpu" else d.local_rank) if d.distributed else device_id)
    if d.distributed and not dist.is_initialized():
        dist.init_process_group(backend=BACKENDS[kind])
    return device, d


class Amp:
    """Mixed precision: ``torch.amp`` autocast (bf16 on cpu, fp16 with a GradScaler on gpu / npu), or on npu, when an
    NPU build of apex is importable, ``apex.amp`` O1 with ``combine_grad`` (the Ascend port's ``--amp``) and
    ``loss_scale`` (-1: dynamic)."""

    def __init__(self, device, enabled, loss_scale=-1.0):
        self.enabled = bool(enabled)
        self.device_type = device.type
        self.dtype = torch.bfloat16 if device.type == "cpu" else torch.float16
        self.apex = None
        self.scaler = None
        self.loss_scale = loss_scale
        if self.enabled and device.type == "npu":
            try:
                from apex import amp as apex_amp
                if not hasattr(apex_amp, "initialize"):
                    raise ImportError
                self.apex = apex_amp
            except ImportError:
                self.apex = None
        if self.enabled and self.apex is None and device.type in ("cuda", "npu"):
            self.scaler = torch.amp.GradScaler(device.type)

    @property
    def name(self):
        if not self.enabled:
            return "off"
        return "apex O1" if self.apex is not None else f"torch.amp {str(self.dtype).replace('torch.', '')}"

    def wrap(self, model, optimizer):
        if self.apex is not None:
            scale = "dynamic" if self.loss_scale is None or self.loss_scale < 0 else float(self.loss_scale)
            model, optimizer = self.apex.initialize(model, optimizer, opt_level="O1", loss_scale=scale,
                                                    combine_grad=True)
        return model, optimizer

    def autocast(self):
        enabled = self.enabled and self.apex is None
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=enabled)

    def backward_step(self, loss, optimizer):
        if self.apex is not None:
            with self.apex.scale_loss(loss, optimizer) as scaled:
                scaled.backward()
            optimizer.step()
        elif self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def state_dict(self):
        if self.apex is not None:
            return {"apex": self.apex.state_dict()}
        return {"scaler": self.scaler.state_dict()} if self.scaler is not None else {}

    def load_state_dict(self, sd):
        if not sd:
            return
        if self.apex is not None and "apex" in sd:
            self.apex.load_state_dict(sd["apex"])
        elif self.scaler is not None and "scaler" in sd:
            self.scaler.load_state_dict(sd["scaler"])
