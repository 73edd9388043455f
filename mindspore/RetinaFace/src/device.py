"""Device selection (CPU / GPU / Ascend) and data-parallel initialisation.

A device that was asked for and is not there is a ``DeviceError`` naming it and what was found, raised before
MindSpore tries to use it (it would otherwise fail later with a C++ stack).
"""
import logging
import os

from .errors import DeviceError

_ALIASES = {"cpu": "CPU", "gpu": "GPU", "npu": "Ascend", "ascend": "Ascend"}
TARGETS = ("CPU", "GPU", "Ascend")


def normalize_device(name):
    """``cpu`` / ``gpu`` / ``npu`` (or MindSpore's CPU / GPU / Ascend) -> MindSpore's device target name."""
    key = str(name).lower()
    if key not in _ALIASES:
        raise DeviceError(f"unknown device {name!r}: use cpu, gpu or npu (MindSpore: CPU, GPU, Ascend)")
    return _ALIASES[key]


def _device_count(target):
    """Devices of ``target`` that the backend sees (``None`` when this MindSpore cannot tell)."""
    import mindspore as ms
    try:
        count = {"GPU": lambda: ms.device_context.gpu.device_count,
                 "Ascend": lambda: ms.device_context.ascend.device_count}[target]()
    except (KeyError, AttributeError):          # CPU, or a MindSpore without the device_context API
        return None
    try:
        return int(count())
    except Exception:  # noqa: BLE001 - the query failing means that no device is usable
        return 0


def available_targets():
    """The device targets this MindSpore package has a working backend for (e.g. ``["CPU"]``)."""
    import mindspore as ms
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)       # hal.is_available logs the plugin loading error of each missing backend
    try:
        return [t for t in TARGETS if ms.hal.is_available(t)]
    finally:
        logging.disable(previous)


def check_device(target):
    """Raise ``DeviceError`` unless ``target`` has a backend in this MindSpore package and at least one device."""
    import mindspore as ms
    found = available_targets()
    if target not in found:
        raise DeviceError(f"device {target} was asked for, but this MindSpore {ms.__version__} has no {target} "
                          f"backend (found: {', '.join(found) or 'none'})")
    count = _device_count(target)
    if count == 0:
        raise DeviceError(f"device {target} was asked for, but no {target} device is visible (MindSpore "
                          f"{ms.__version__} has the backend; found 0 devices)")


def set_context(device="CPU", mode="graph", device_id=None):
    """GRAPH (default) or PYNATIVE mode on ``device`` (checked first); returns the MindSpore device target name.

    ``device_id``: the device of this process (default: ``$DEVICE_ID``, else 0; ignored on CPU)."""
    import mindspore as ms
    target = normalize_device(device)
    check_device(target)
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    if target == "CPU":
        ms.set_device(target)
    else:
        ms.set_device(target, int(device_id if device_id is not None else os.environ.get("DEVICE_ID", "0")))
    if target == "GPU":
        ms.set_context(enable_graph_kernel=True, graph_kernel_flags="--enable_parallel_fusion")
    return target


def init_distributed():
    """Data parallel over the processes started by msrun / mpirun (NCCL, HCCL or MindSpore's CPU backend):
    returns (rank, group size)."""
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init
    init()
    rank, group = get_rank(), get_group_size()
    ms.set_auto_parallel_context(device_num=group, parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    return rank, group
