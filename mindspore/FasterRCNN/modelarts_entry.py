"""ModelArts entry: train (and evaluate) with the data and outputs on OBS, as the reference's ``enable_modelarts``.

    python modelarts_entry.py --data_url=obs://bucket/widerface --train_url=obs://bucket/out [train.py flags]
    python modelarts_entry.py --data_url=DATA --train_url=OUT [train.py flags]          # local folders

With OBS urls (``obs://`` / ``s3://``) this is train.py with ``--enable_modelarts=True``: the data are copied to
``--data_path`` (/cache/data), the outputs written to ``--output_path`` (/cache/train) and copied back to
``--train_url`` by ``src/model_utils/moxing_adapter.py`` (``moxing`` is imported there, and its absence is one
line). With local folders (relative to where this is run) nothing is copied: the data set is read from
``--data_url`` and the outputs written to ``--train_url``. After training, the last checkpoint is evaluated into
``<outputs>/eval`` (``--skip_eval`` leaves that out).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import src  # noqa: E402,F401
from src.errors import run_cli  # noqa: E402

REMOTE = ("obs://", "s3://")


def main(argv=None):
    p = argparse.ArgumentParser(description="Faster R-CNN ModelArts entry", add_help=True)
    p.add_argument("--data_url", required=True, help="data set (OBS url or local folder)")
    p.add_argument("--train_url", required=True, help="outputs (OBS url or local folder)")
    p.add_argument("--skip_eval", action="store_true", help="train only")
    args, rest = p.parse_known_args(argv)
    import eval as eval_entry
    import train as train_entry
    from src.checkpoint import latest_checkpoint
    from src.errors import DataError
    remote = args.data_url.startswith(REMOTE) or args.train_url.startswith(REMOTE)
    if remote:
        common = ["--enable_modelarts=True", f"--data_url={args.data_url}", f"--train_url={args.train_url}"]
        data_root, out = "/cache/data", "/cache/train"
        train_argv = common + [f"--data_path={data_root}"] + rest
    else:
        data_root, out = os.path.abspath(args.data_url), os.path.abspath(args.train_url)
        if not os.path.isdir(data_root):
            raise DataError(f"{args.data_url}: no such data folder")
        common = []
        train_argv = [f"--data_path={data_root}", f"--save_checkpoint_path={out}"] + rest
    status = train_entry.main(train_argv)
    if status or args.skip_eval:
        return status
    ckpt = latest_checkpoint(os.path.join(out, "ckpt_0"))
    if ckpt is None:
        raise DataError(f"{os.path.join(out, 'ckpt_0')}: no checkpoint after training")
    passthrough = [a for a in rest if a.startswith(("--config_path=", "--device_target=", "--device_id="))]
    eval_argv = common + [f"--data_path={data_root}", f"--checkpoint_path={ckpt}",
                          f"--output_path={os.path.join(out, 'eval')}"] + passthrough
    return eval_entry.main(eval_argv)


if __name__ == "__main__":
    sys.exit(run_cli(main, "modelarts_entry.py"))
