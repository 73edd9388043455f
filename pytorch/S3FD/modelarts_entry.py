"""ModelArts entry: training (train.py) then the WIDER FACE val evaluation (eval.py), with OBS through moxing.

    python modelarts_entry.py --data_url obs://bucket/WIDER --train_url obs://bucket/s3fd [--device npu]
                              [--eval wider|single|none] [any train.py flag, e.g. --basenet ... --amp]

``--data_url`` is the dataset root that train.py's ``--data_path`` takes (WIDER FACE layout with the evaluation
ground truth); ``--train_url`` receives the checkpoints, run files and evaluation. ``obs://`` (or ``s3://``) URLs are
copied with ``moxing`` (imported only then; ModelArts has it) through ``--cache_dir``; local paths are used in place,
relative to the current directory. The run's exit status is train.py's (or eval.py's).
"""
import argparse
import os
import subprocess
import sys

from src.errors import UserError, run_cli

HERE = os.path.dirname(os.path.abspath(__file__))
REMOTE = ("obs://", "s3://")


def moxing():
    try:
        import moxing as mox
    except ImportError:
        raise UserError("obs:// URLs need moxing (installed on ModelArts); it is not installed here: pass local "
                        "folders instead") from None
    return mox


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_url", help="dataset root (OBS URL or local folder)")
    p.add_argument("--train_url", help="output (OBS URL or local folder)")
    p.add_argument("--device", default="npu", choices=("cpu", "gpu", "npu"))
    p.add_argument("--eval", default="wider", choices=("wider", "single", "none"),
                   help="evaluation after training: the reference's protocol, the base scale only, or none")
    p.add_argument("--cache_dir", default="/cache", help="local staging folder for OBS data (default /cache)")
    a, extra = p.parse_known_args(argv)
    if not a.data_url or not a.train_url:
        raise UserError("--data_url and --train_url are required")
    remote_data, remote_out = a.data_url.startswith(REMOTE), a.train_url.startswith(REMOTE)
    mox = moxing() if remote_data or remote_out else None
    data = os.path.join(a.cache_dir, "data") if remote_data else os.path.abspath(a.data_url)
    out = os.path.join(a.cache_dir, "output") if remote_out else os.path.abspath(a.train_url)
    if remote_data:
        mox.file.copy_parallel(a.data_url, data)
    elif not os.path.isdir(data):
        raise UserError(f"--data_url {a.data_url}: no such directory")
    os.makedirs(out, exist_ok=True)
    try:
        rc = subprocess.call([sys.executable, os.path.join(HERE, "train.py"), f"--data_path={data}",
                              f"--output_path={out}", f"--device={a.device}"] + extra)
        if rc == 0 and a.eval != "none":
            best = os.path.join(out, "sfd_face.pth")
            if not os.path.isfile(best):
                with open(os.path.join(out, "last_checkpoint"), encoding="utf-8") as f:
                    best = os.path.join(out, f.read().strip())
            rc = subprocess.call([sys.executable, os.path.join(HERE, "eval.py"), f"--checkpoint={best}",
                                  f"--data_path={data}", f"--output_path={out}", f"--device={a.device}"] +
                                 (["--single_scale"] if a.eval == "single" else []))
    finally:
        if remote_out:
            mox.file.copy_parallel(out, a.train_url)
    return rc


if __name__ == "__main__":
    sys.exit(run_cli(main, "modelarts_entry.py"))
