"""Reading a MindSpore ``.ckpt`` file despite MindSpore 2.10's memory check. Identical copy in every MindSpore model
folder (``ci/model_template_mindspore/src/``; ``ci/tests`` checks it)."""


def mem_available():
    """Bytes the kernel can hand out now: /proc/meminfo's MemAvailable (free memory plus the page cache it drops on
    demand), or ``None`` where there is no such file."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_ckpt(path):
    """``mindspore.load_checkpoint(path)``, with its memory check counting the page cache. MindSpore 2.10 refuses a
    ``.ckpt`` larger than the *free* memory (``SC_AVPHYS_PAGES``), which leaves out the page cache: on a machine that
    has just written a few checkpoints, a checkpoint of some 100 MB is refused with "not enough memory" while
    gigabytes are available. The check is given MemAvailable instead, for this call only."""
    import mindspore as ms
    from mindspore.train import serialization
    original = getattr(serialization, "_get_available_memory", None)
    if original is None or mem_available() is None:
        return ms.load_checkpoint(path)
    serialization._get_available_memory = mem_available
    try:
        return ms.load_checkpoint(path)
    finally:
        serialization._get_available_memory = original
