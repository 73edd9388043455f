"""Devices: selection (CPU / GPU / Ascend, also spelled cpu / gpu / npu), distributed init, mixed precision.

A device that was asked for and is not there is a ``DeviceError`` naming it and what this MindSpore build offers
(one line at the command line), never MindSpore's C++ stack. Every graph runs in GRAPH mode (MindSpore 2.10's
PyNative mode fails on some scalar ops with NumPy 2.4; the reference has no PyNative path either).
"""
import os

from .errors import DeviceError

_ALIASES = {"cpu": "CPU", "gpu": "GPU", "npu": "Ascend", "ascend": "Ascend"}
TARGETS = ("CPU", "GPU", "Ascend")


def normalize_device(name):
    """``CPU`` / ``GPU`` / ``Ascend`` of a device name in any of the zoo's spellings."""
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise DeviceError(f"unknown device {name!r}: use CPU, GPU or Ascend (cpu, gpu, npu)")
    return _ALIASES[key]


def available_targets():
    """The device targets this MindSpore build can run (without MindSpore's warnings about missing plugins)."""
    from mindspore._c_expression import MSContext
    ctx = MSContext.get_instance()
    return [t for t in TARGETS if ctx.is_pkg_support_device(t)]


def set_context(device, device_id=None, max_call_depth=2000):
    """GRAPH mode on ``device``; ``device_id`` defaults to ``$DEVICE_ID`` (0) on GPU / Ascend. Returns the target."""
    import mindspore as ms
    target = normalize_device(device)
    found = available_targets()
    if target not in found:
        raise DeviceError(f"device {target} was asked for, but this MindSpore {ms.__version__} build can only run "
                          f"on {', '.join(found)} (install the {target} build of MindSpore, or use "
                          f"--device_target {found[0]})")
    ms.set_context(mode=ms.GRAPH_MODE, max_call_depth=max_call_depth)
    try:
        if target == "CPU":
            ms.set_device(target)
        else:
            ms.set_device(target, int(os.environ.get("DEVICE_ID", "0")) if device_id is None else int(device_id))
    except (RuntimeError, ValueError) as e:
        raise DeviceError(f"device {target} could not be selected: {str(e).strip().splitlines()[0]}") from None
    if target == "GPU":
        ms.set_context(enable_graph_kernel=True)
    return target


def launched():
    """Whether this process was started by a data-parallel launcher (msrun / mpirun / an Ascend rank table)."""
    return any(k in os.environ for k in ("MS_ROLE", "OMPI_COMM_WORLD_SIZE", "RANK_TABLE_FILE", "MS_WORKER_NUM"))


def init_distributed():
    """Data-parallel init under a launcher (msrun / mpirun / an Ascend rank table): ``(rank, group size)``."""
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init
    if not launched():
        raise DeviceError("--run_distribute=True needs a launcher: msrun (CPU / GPU / Ascend), mpirun (GPU) or "
                          "an Ascend rank table (scripts/run_distribute_train_*.sh)")
    try:
        init()
    except (RuntimeError, ValueError) as e:
        raise DeviceError(f"distributed init failed: {str(e).strip().splitlines()[0]}") from None
    rank, group = get_rank(), get_group_size()
    ms.set_auto_parallel_context(device_num=group, parallel_mode=ms.ParallelMode.DATA_PARALLEL,
                                 gradients_mean=True)
    return rank, group


def mixed_precision(net, target):
    """fp16 on Ascend, as the reference (``net.to_float(float16)``); fp32 elsewhere."""
    import mindspore as ms
    if target == "Ascend":
        net.to_float(ms.float16)
    return net
