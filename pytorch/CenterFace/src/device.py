"""Device, distributed and mixed-precision helpers (cpu | gpu | npu); torch_npu / apex are imported lazily."""
import os

import torch
import torch.distributed as dist

from .errors import DeviceError


def import_npu():
    try:
        import torch_npu  # noqa: F401
    except ImportError:
        raise DeviceError(f"--device npu: torch_npu (Ascend) is not installed (found: {found_devices()})") \
            from None


def found_devices():
    """What this machine offers, for messages."""
    if not torch.version.cuda:
        return "cpu only (this PyTorch has no CUDA support)"
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"cpu and {n} CUDA device(s)" if n else "cpu only (no CUDA device visible)"


def device_count(kind):
    """The CUDA devices (``gpu``) or NPUs (``npu``) this process sees."""
    if kind == "gpu":
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    import_npu()
    return torch.npu.device_count()


def require_devices(kind, n):
    """``n`` devices of ``kind`` for ``n`` data-parallel processes: test/train_*_8p.sh asks before torchrun starts
    them, so that a missing device is one line (not one error per process and torchrun's failure report)."""
    if kind != "cpu" and device_count(kind) < n:
        found = found_devices() if kind == "gpu" else f"{device_count(kind)} NPU(s)"
        raise DeviceError(f"--device {kind}: {n} processes need {n} {'CUDA devices' if kind == 'gpu' else 'NPUs'} "
                          f"(found: {found})")


def init_device(kind):
    """Returns (torch.device, distributed info dict). torchrun's env (WORLD_SIZE, RANK, LOCAL_RANK) selects DDP."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if kind == "cpu":
        dev, backend = torch.device("cpu"), "gloo"
    elif kind == "gpu":
        if local >= device_count("gpu"):
            raise DeviceError(f"--device gpu: no CUDA device {local} (found: {found_devices()})")
        torch.cuda.set_device(local)
        dev, backend = torch.device("cuda", local), "nccl"
    elif kind == "npu":
        n = device_count("npu")
        if local >= n:
            raise DeviceError(f"--device npu: no NPU {local}; found {n} NPU(s)")
        torch.npu.set_device(local)
        dev, backend = torch.device("npu", local), "hccl"
    else:
        raise DeviceError(f"--device {kind}: unknown device (cpu, gpu or npu)")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return dev, {"world": world, "rank": rank, "local_rank": local, "distributed": world > 1, "device": dev}


def is_main(info):
    return info["rank"] == 0


def all_reduce_sum(t, info):
    """Sums a small CPU tensor over all processes (nccl / hccl need it on the device, in float32)."""
    if not info["distributed"]:
        return t
    dev = info["device"]
    if dev.type == "cpu":
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t
    x = t.to(device=dev, dtype=torch.float32)
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x.cpu().to(t.dtype)


def broadcast_buffers(module, info):
    """Rank 0's buffers (BatchNorm running statistics) into every process's ``module``."""
    if info["distributed"]:
        for b in module.buffers():
            dist.broadcast(b, src=0)


class Amp:
    """Mixed precision: ``torch.amp`` autocast (bf16 on CPU, fp16 + GradScaler on GPU/NPU), or apex O1 with a static
    loss scale on NPU when an NPU build of apex is importable."""

    def __init__(self, device, enabled, use_apex=False, loss_scale=None):
        self.enabled = enabled
        self.device_type = device.type
        self.apex = None
        self.scaler = None
        self.dtype = torch.bfloat16 if device.type == "cpu" else torch.float16
        if enabled and use_apex:
            if device.type != "npu":
                raise DeviceError(f"--apex: apex O1 runs on --device npu only (this run: {device.type})")
            try:
                from apex import amp as apex_amp
            except ImportError:
                raise DeviceError("--apex: no NPU build of apex is importable") from None
            self.apex = apex_amp
            self.loss_scale = loss_scale if loss_scale is not None else 19.0
        elif enabled and device.type in ("cuda", "npu"):
            self.scaler = torch.amp.GradScaler(device.type)

    def wrap(self, model, optimizer):
        if self.apex is not None:
            model, optimizer = self.apex.initialize(model, optimizer, opt_level="O1", loss_scale=self.loss_scale,
                                                    combine_grad=True)
        return model, optimizer

    def autocast(self):
        if not self.enabled or self.apex is not None:
            return torch.autocast(self.device_type, enabled=False)
        return torch.autocast(self.device_type, dtype=self.dtype)

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
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, sd):
        if self.scaler is not None and sd:
            self.scaler.load_state_dict(sd)
