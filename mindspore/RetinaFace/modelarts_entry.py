"""ModelArts entry: copy the data from OBS, train, copy the checkpoints back.

    python modelarts_entry.py --data_url=obs://bucket/widerface --train_url=obs://bucket/output [train.py flags]

On ModelArts (``moxing`` importable) ``--data_url`` is copied to ``/cache/data`` and ``/cache/train`` is copied to
``--train_url`` after training (also when it fails, so partial checkpoints are kept). Elsewhere both are local
folders and nothing is copied. Every other flag goes to ``train.py`` (``--device_target`` defaults to Ascend).
"""
import argparse
import os
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _moxing():
    try:
        import moxing as mox  # noqa: F401  (only on ModelArts)
        return mox
    except ImportError:
        return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_url", required=True)
    p.add_argument("--train_url", required=True)
    p.add_argument("--cache_dir", default="/cache")
    args, rest = p.parse_known_args(argv)
    mox = _moxing()
    if mox is None and (args.data_url.startswith("obs://") or args.train_url.startswith("obs://")):
        print("modelarts_entry.py: error: obs:// URLs need moxing (only available on ModelArts)", file=sys.stderr)
        return 2
    if mox is not None:
        data_dir = os.path.join(args.cache_dir, "data")
        out_dir = os.path.join(args.cache_dir, "train")
        mox.file.copy_parallel(args.data_url, data_dir)
    else:
        data_dir, out_dir = args.data_url, args.train_url
    os.makedirs(out_dir, exist_ok=True)
    rank = os.environ.get("RANK_ID", "0")
    train_args = [f"--data_path={data_dir}", f"--ckpt_path={os.path.join(out_dir, 'checkpoint')}"]
    if not any(a.startswith("--device_target") for a in rest):
        train_args.append("--device_target=Ascend")
    import train
    from src.errors import run_cli
    try:
        rc = run_cli(lambda: train.main(train_args + rest), "modelarts_entry.py")
    finally:
        if mox is not None:
            mox.file.copy_parallel(out_dir, os.path.join(args.train_url, f"rank_{rank}"))
    return rc


if __name__ == "__main__":
    sys.exit(main())
