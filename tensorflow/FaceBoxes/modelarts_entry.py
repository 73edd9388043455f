"""ModelArts entry point: copy the data in, run test/train_full_1p.sh, copy the results back.

    python modelarts_entry.py --data_url=obs://bucket/WIDER --train_url=obs://bucket/output [--steps=N]
                              [--batch_size=B] [--image_size=S] [--device=npu]

On ModelArts (``moxing`` importable) OBS URLs are copied to /cache and the run folder and logs back to --train_url.
Elsewhere --data_url and --train_url are local folders (relative to the current directory), used in place; an
``obs://`` URL without moxing is an error. ModelArts appends arguments of its own, which are listed and ignored.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from src.errors import ConfigError, DataError, DeviceError, run_cli  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_url", default=None)
    p.add_argument("--train_url", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch_size", type=int, default=None)
    p.add_argument("--image_size", type=int, default=None)
    p.add_argument("--device", default="npu", choices=["cpu", "gpu", "npu"])
    args, unknown = p.parse_known_args(argv)  # ModelArts appends its own arguments
    if not args.data_url or not args.train_url:
        raise ConfigError("--data_url and --train_url are required")
    if unknown:
        print("ignoring arguments for ModelArts: %s" % " ".join(unknown), flush=True)
    remote = any(u.startswith(("obs://", "s3://")) for u in (args.data_url, args.train_url))
    try:
        import moxing as mox
    except ImportError:
        if remote:
            raise DeviceError("%s is an OBS URL but moxing (ModelArts' file library) is not installed: run on "
                              "ModelArts, or give local folders" % (args.data_url if args.data_url.startswith(
                                  ("obs://", "s3://")) else args.train_url)) from None
        mox = None
    if mox is not None:
        data_dir, out_dir = "/cache/data", "/cache/output"
        os.makedirs(data_dir, exist_ok=True)
        os.makedirs(out_dir, exist_ok=True)
        print("copying %s -> %s" % (args.data_url, data_dir), flush=True)
        mox.file.copy_parallel(args.data_url, data_dir)
    else:  # local folders, relative to where the command is run
        data_dir, out_dir = os.path.abspath(args.data_url), os.path.abspath(args.train_url)
        if not os.path.isdir(data_dir):
            raise DataError("--data_url %s: no such folder" % args.data_url)
        os.makedirs(out_dir, exist_ok=True)
    cmd = ["bash", os.path.join(HERE, "test", "train_full_1p.sh"), "--data_path=%s" % data_dir,
           "--output_path=%s" % out_dir, "--device=%s" % args.device]
    for flag in ("steps", "batch_size", "image_size"):
        if getattr(args, flag) is not None:
            cmd.append("--%s=%d" % (flag, getattr(args, flag)))
    print(" ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if mox is not None:
        mox.file.copy_parallel(out_dir, args.train_url)
        log_dir = os.path.join(HERE, "test", "output")
        if os.path.isdir(log_dir):
            mox.file.copy_parallel(log_dir, args.train_url.rstrip("/") + "/logs")
    return rc


if __name__ == "__main__":
    sys.exit(run_cli(main, "modelarts_entry.py"))
