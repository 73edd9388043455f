"""ModelArts adapter (the reference's ``moxing_adapter``): copy the inputs from OBS before a run, the outputs back
after it.

With ``enable_modelarts`` set, ``moxing_wrapper(cfg, pre_process, post_process)`` around an entry point:

1. copies ``data_url`` -> ``data_path``, ``checkpoint_url`` -> ``load_path``, ``train_url`` -> ``output_path``
   (``sync_data``: one process per server copies, the device id modulo ``min(device_num, 8)`` being 0, then leaves a
   lock file ``/tmp/copy_sync.lock<N>``; every process waits for it);
2. points MindSpore's graph dumps to ``output_path/<rank>``, takes ``device_num`` and ``device_id`` from the
   environment, creates ``output_path`` and runs ``pre_process``;
3. runs the entry point (under the MindSpore profiler with ``enable_profiling``);
4. runs ``post_process`` and copies ``output_path`` back to ``train_url``.

``moxing`` exists only on ModelArts: it is imported when a copy is needed, and its absence is one line.
"""
import functools
import os
import time

from ..errors import DeviceError
from .local_adapter import get_device_id, get_device_num, get_rank_id  # noqa: F401 - the same environment variables

_global_sync_count = 0


def get_job_id():
    job_id = os.getenv("JOB_ID")
    return job_id if job_id else "default"


def _moxing():
    try:
        import moxing as mox
    except ImportError:
        raise DeviceError("enable_modelarts needs the moxing package, which exists only on ModelArts (set "
                          "--enable_modelarts=False to run locally)") from None
    return mox


def sync_data(from_path, to_path, timeout=None):
    """Copy ``from_path`` to ``to_path`` once per server; every process returns when the copy is done."""
    global _global_sync_count
    sync_lock = f"/tmp/copy_sync.lock{_global_sync_count}"
    _global_sync_count += 1
    if get_device_id() % min(get_device_num(), 8) == 0 and not os.path.exists(sync_lock):
        print(f"from path: {from_path}\nto path: {to_path}", flush=True)
        _moxing().file.copy_parallel(from_path, to_path)
        print("===finish data synchronization===", flush=True)
        try:
            os.mknod(sync_lock)
        except OSError:
            pass
    start = time.time()
    while not os.path.exists(sync_lock):
        if timeout is not None and time.time() - start > timeout:
            raise DeviceError(f"{sync_lock}: waited {timeout} s for the copy of {from_path}")
        time.sleep(1)
    print(f"Finish sync data from {from_path} to {to_path}.", flush=True)


def moxing_wrapper(cfg, pre_process=None, post_process=None):
    """Decorator running an entry point with the ModelArts copies around it (nothing extra when
    ``cfg.enable_modelarts`` is False, except the optional profiler)."""
    def wrapper(run_func):
        @functools.wraps(run_func)
        def wrapped_func(*args, **kwargs):
            if cfg.enable_modelarts:
                if not cfg.output_path:
                    cfg.output_path = "/cache/train"
                if not cfg.data_path:
                    cfg.data_path = "/cache/data"
                # what the adapter sets counts as given on the command line (over a checkpoint's stored run keys)
                cfg._explicit = set(getattr(cfg, "_explicit", set())) | {"output_path", "device_num", "device_id",
                                                                        "data_path", "load_path"}
                if cfg.data_url:
                    sync_data(cfg.data_url, cfg.data_path)
                    print("Dataset downloaded: ", os.listdir(cfg.data_path), flush=True)
                if cfg.checkpoint_url:
                    sync_data(cfg.checkpoint_url, cfg.load_path)
                    print("Preload downloaded: ", os.listdir(cfg.load_path), flush=True)
                if cfg.train_url:
                    sync_data(cfg.train_url, cfg.output_path)
                    print("Workspace downloaded: ", os.listdir(cfg.output_path), flush=True)
                import mindspore as ms
                ms.set_context(save_graphs_path=os.path.join(cfg.output_path, str(get_rank_id())))
                cfg.device_num = get_device_num()
                cfg.device_id = get_device_id()
                os.makedirs(cfg.output_path, exist_ok=True)
                if pre_process:
                    pre_process()
            profiler = None
            if cfg.enable_profiling:
                from mindspore import Profiler
                profiler = Profiler()
            result = run_func(*args, **kwargs)
            if profiler is not None:
                profiler.analyse()
            if cfg.enable_modelarts:
                if post_process:
                    post_process()
                if cfg.train_url:
                    print("Start to copy output directory", flush=True)
                    sync_data(cfg.output_path, cfg.train_url)
            return result
        return wrapped_func
    return wrapper
