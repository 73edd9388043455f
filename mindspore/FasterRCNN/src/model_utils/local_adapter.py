"""Local adapter: device id, device count, rank and job id from the environment (``DEVICE_ID``, ``RANK_SIZE``,
``RANK_ID``), as the launch scripts set them."""
import os


def get_device_id():
    return int(os.getenv("DEVICE_ID", "0"))


def get_device_num():
    return int(os.getenv("RANK_SIZE", "1"))


def get_rank_id():
    return int(os.getenv("RANK_ID", "0"))


def get_job_id():
    return "Local Job"
