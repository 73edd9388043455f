"""ModelArts entry: copies the dataset from OBS (moxing), trains with train.py, evaluates the result on WIDER val and
copies the outputs back.

    python modelarts_entry.py --data_url obs://bucket/wider --train_url obs://bucket/out [--device npu]
        [-- extra train.py flags]

Local folders work too (a run outside ModelArts, without moxing); relative paths are taken from the directory the
command is run from (also in the extra train.py flags). An interrupted job continues where it stopped: training
resumes from the latest checkpoint of the output folder (--resume auto).
"""
import argparse
import os
import subprocess
import sys

from src.config import ArgumentParser
from src.errors import ConfigError, DataError, run_cli

HERE = os.path.dirname(os.path.abspath(__file__))


def is_remote(url):
    return "://" in url


def get_moxing():
    try:
        import moxing as mox
    except ImportError:
        raise ConfigError("moxing is not installed: OBS paths (obs://...) need ModelArts' moxing; outside ModelArts "
                          "pass local folders as --data_url / --train_url") from None
    return mox


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_url", required=True, help="dataset (OBS path or local folder)")
    p.add_argument("--train_url", required=True, help="where outputs go (OBS path or local folder)")
    p.add_argument("--device", default="npu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--cache_dir", default="/cache", help="local staging folder for OBS data and outputs")
    p.add_argument("--skip_eval", action="store_true")
    a, extra = p.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]
    mox = get_moxing() if is_remote(a.data_url) or is_remote(a.train_url) else None
    data = os.path.join(os.path.abspath(a.cache_dir), "data") if is_remote(a.data_url) else os.path.abspath(a.data_url)
    out = os.path.join(os.path.abspath(a.cache_dir), "output") if is_remote(a.train_url) else \
        os.path.abspath(a.train_url)
    if is_remote(a.data_url):
        mox.file.copy_parallel(a.data_url, data)
    elif not os.path.isdir(data):
        raise DataError(f"--data_url {a.data_url}: {data} is not a directory")
    os.makedirs(out, exist_ok=True)
    rc = subprocess.call([sys.executable, os.path.join(HERE, "train.py"), "--data_path", data, "--output_path", out,
                          "--device", a.device, "--resume", "auto"] + extra)
    if rc == 0 and not a.skip_eval:
        rc = subprocess.call([sys.executable, os.path.join(HERE, "eval.py"), "--checkpoint", out, "--data_path", data,
                              "--device", a.device, "--output_path", os.path.join(out, "eval")])
    if is_remote(a.train_url):
        mox.file.copy_parallel(out, a.train_url)
    return rc


if __name__ == "__main__":
    sys.exit(run_cli(main, "modelarts_entry.py"))
