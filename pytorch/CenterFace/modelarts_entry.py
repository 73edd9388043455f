"""ModelArts entry: copies the dataset from OBS (moxing, when present), trains with train.py, evaluates on WIDER
val and copies the outputs back.

    python modelarts_entry.py --data_url DATA --train_url OUT [--device npu] [-- extra train.py flags]

Without moxing (a local run), --data_url and --train_url are used as local folders.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def get_moxing():
    try:
        import moxing as mox
    except ImportError:
        return None
    return mox


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_url", required=True, help="dataset (OBS path or local folder)")
    p.add_argument("--train_url", required=True, help="where outputs go (OBS path or local folder)")
    p.add_argument("--device", default="npu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--cache_dir", default="/cache", help="local staging folder when moxing is used")
    p.add_argument("--skip_eval", action="store_true")
    a, extra = p.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]
    mox = get_moxing()
    if mox is not None:
        data = os.path.join(a.cache_dir, "data")
        out = os.path.join(a.cache_dir, "output")
        os.makedirs(out, exist_ok=True)
        mox.file.copy_parallel(a.data_url, data)
    else:
        data, out = a.data_url, a.train_url
        if not os.path.isdir(data):
            print(f"error: --data_url: {data} is not a directory (moxing is not installed, so a local path is "
                  "expected)", file=sys.stderr)
            return 2
        os.makedirs(out, exist_ok=True)
    rc = subprocess.call([sys.executable, os.path.join(HERE, "train.py"), "--data_path", data, "--output_path", out,
                          "--device", a.device] + extra, cwd=HERE)
    if rc == 0 and not a.skip_eval:
        rc = subprocess.call([sys.executable, os.path.join(HERE, "eval.py"), "--checkpoint",
                              os.path.join(out, "model_last.pth"), "--data_path", data, "--device", a.device,
                              "--output_path", os.path.join(out, "eval")], cwd=HERE)
    if mox is not None:
        mox.file.copy_parallel(out, a.train_url)
    return rc


if __name__ == "__main__":
    sys.exit(main())
