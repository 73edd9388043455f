"""ModelArts entry: copy the data from OBS, train, copy the run's files back.

    python modelarts_entry.py --data_url=obs://bucket/widerface --train_url=obs://bucket/output [train.py flags]

On ModelArts (``moxing`` importable) ``--data_url`` is copied to ``/cache/data`` and ``/cache/train`` (the output
folder of ``train.py``: checkpoints, ``train_log.jsonl``, ``model_info.json``) is copied to ``--train_url/rank_<id>``
after training, also when it fails, so partial checkpoints are kept. Elsewhere both are local folders (relative to
the current directory) and nothing is copied. Every other flag goes to ``train.py`` (``--device_target`` defaults
to Ascend).
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from src.errors import DeviceError, run_cli  # noqa: E402  (src first: sets the oneDNN ISA)


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
        raise DeviceError("obs:// URLs need moxing, which only ModelArts has (elsewhere give local folders)")
    if mox is not None:
        data_dir = os.path.join(args.cache_dir, "data")
        out_dir = os.path.join(args.cache_dir, "train")
        mox.file.copy_parallel(args.data_url, data_dir)
    else:
        data_dir, out_dir = os.path.abspath(args.data_url), os.path.abspath(args.train_url)
    train_args = [f"--data_path={data_dir}", f"--output_path={out_dir}"]
    if not any(a.startswith(("--device_target", "--device=")) or a == "--device" for a in rest):
        train_args.append("--device_target=Ascend")
    import train
    try:
        return train.main(train_args + rest)
    finally:
        if mox is not None and os.path.isdir(out_dir):
            mox.file.copy_parallel(out_dir, os.path.join(args.train_url, f"rank_{os.environ.get('RANK_ID', '0')}"))


if __name__ == "__main__":
    sys.exit(run_cli(main, "modelarts_entry.py"))
