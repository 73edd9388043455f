"""Device / context selection shared by the entry scripts."""
import os

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

_ALIASES = {"cpu": "CPU", "gpu": "GPU", "npu": "Ascend", "ascend": "Ascend"}


def normalize_device(name):
    key = str(name).lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown device {name!r}: use CPU, GPU or Ascend (cpu/gpu/npu)")
    return _ALIASES[key]


def set_context(device="CPU", mode="graph", device_id=None):
    """GRAPH (default) or PYNATIVE mode on CPU / GPU / Ascend; returns the normalised device name."""
    import mindspore as ms
    target = normalize_device(device)
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    if device_id is None:
        device_id = int(os.environ.get("DEVICE_ID", "0")) if target != "CPU" else None
    try:
        if device_id is None:
            ms.set_device(target)
        else:
            ms.set_device(target, device_id)
    except (RuntimeError, ValueError) as e:
        raise RuntimeError(f"device {target} is not available in this MindSpore build ({e})") from None
    if target == "GPU":
        ms.set_context(enable_graph_kernel=True, graph_kernel_flags="--enable_parallel_fusion")
    return target
