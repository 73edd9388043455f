"""Device adapter: the ModelArts adapter when ``enable_modelarts`` is set, the local one otherwise (both read the
environment; only the job id differs)."""
from . import local_adapter, moxing_adapter


def _adapter(cfg=None):
    return moxing_adapter if cfg is not None and getattr(cfg, "enable_modelarts", False) else local_adapter


def get_device_id(cfg=None):
    return _adapter(cfg).get_device_id()


def get_device_num(cfg=None):
    return _adapter(cfg).get_device_num()


def get_rank_id(cfg=None):
    return _adapter(cfg).get_rank_id()


def get_job_id(cfg=None):
    return _adapter(cfg).get_job_id()


__all__ = ["get_device_id", "get_device_num", "get_rank_id", "get_job_id"]
