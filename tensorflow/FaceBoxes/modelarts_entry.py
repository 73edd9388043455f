"""ModelArts entry point: copy data in (moxing, when present), run test/train_full_1p.sh, copy the results back.

    python modelarts_entry.py --data_url=obs://bucket/WIDER --train_url=obs://bucket/output [--steps=N]
                              [--device=npu]

Without moxing (not on ModelArts) --data_url and --train_url are local folders and are used in place.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_url", required=True)
    p.add_argument("--train_url", required=True)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--device", default="npu", choices=["cpu", "gpu", "npu"])
    args, unknown = p.parse_known_args(argv)  # ModelArts appends its own arguments
    try:
        import moxing as mox
    except ImportError:
        mox = None
    if mox is not None:
        data_dir, out_dir = "/cache/data", "/cache/output"
        os.makedirs(data_dir, exist_ok=True)
        os.makedirs(out_dir, exist_ok=True)
        print("copying %s -> %s" % (args.data_url, data_dir), flush=True)
        mox.file.copy_parallel(args.data_url, data_dir)
    else:
        data_dir, out_dir = args.data_url, args.train_url
        if not os.path.isdir(data_dir):
            print("error: --data_url %s is not a folder (moxing is not available, so it must be local)" % data_dir,
                  file=sys.stderr)
            return 1
        os.makedirs(out_dir, exist_ok=True)
    cmd = ["bash", os.path.join(HERE, "test", "train_full_1p.sh"), "--data_path=%s" % data_dir,
           "--output_path=%s" % out_dir, "--device=%s" % args.device]
    if args.steps:
        cmd.append("--steps=%d" % args.steps)
    print(" ".join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=HERE)
    if mox is not None:
        log_dir = os.path.join(HERE, "test", "output")
        mox.file.copy_parallel(out_dir, args.train_url)
        if os.path.isdir(log_dir):
            mox.file.copy_parallel(log_dir, os.path.join(args.train_url, "logs"))
    return rc


if __name__ == "__main__":
    sys.exit(main())
