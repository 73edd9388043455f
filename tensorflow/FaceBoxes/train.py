"""Train FaceBoxes (TF1 graph mode, MonitoredTrainingSession; checkpoints every N steps; exact resume).

    python train.py --data_path DATA --output_path models/run00 [--steps N] [--batch_size B] [--image_size S]
                    [--config FILE] [--checkpoint CKPT | --resume auto|CKPT [--allow_changes]]
                    [--device cpu|gpu|npu]

DATA holds ``*.tfrecords`` shards (or ``DATA/train_shards/*.tfrecords``), made by
``python -m src.preparedata.create_tfrecords``. The settings are the reference's (src/config.py); --config FILE
(JSON in the layout of TropComplique's config.json, any subset) and the flags below change them. --steps is the
last global step. --resume auto continues the run of --output_path from its latest checkpoint with the run's own
settings (a flag that contradicts them is refused unless --allow_changes). With TF_CONFIG naming several workers
(test/train_full_8p.sh sets it) every worker runs this script and the workers train as one synchronous
data-parallel job (src/distributed.py).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.errors import ConfigError, run_cli  # noqa: E402

# flag -> (section, key, value of the setting); --steps is the run's limit, not a setting
FLAG_SETTINGS = {
    "batch_size": ("input_pipeline_params", "batch_size", int),
    "image_size": ("input_pipeline_params", "image_size", lambda s: [s, s]),
    "shuffle_buffer_size": ("input_pipeline_params", "shuffle_buffer_size", int),
    "augmentation": ("input_pipeline_params", "augmentation", bool),
    "lr_scale": ("model_params", "lr_scale", float),
    "save_checkpoints_steps": ("model_params", "save_checkpoints_steps", int),
    "log_step_count_steps": ("model_params", "log_step_count_steps", int),
    "seed": ("model_params", "seed", int),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_path", default=None, help="folder with the training TFRecord shards")
    p.add_argument("--output_path", default=None, help="run folder: checkpoints, summaries, train_log.jsonl, "
                                                       "model_info.json")
    p.add_argument("--config", default=None, help="JSON with settings to change (layout of config.json)")
    p.add_argument("--steps", "--step", dest="steps", type=int, default=None, help="last global step")
    p.add_argument("--batch_size", type=int, default=None, help="per worker (default 16)")
    p.add_argument("--image_size", type=int, default=None, help="square training size (default 1024)")
    p.add_argument("--lr_scale", type=float, default=None, help="multiply the LR schedule (not the reference)")
    p.add_argument("--save_checkpoints_steps", type=int, default=None)
    p.add_argument("--log_step_count_steps", type=int, default=None)
    p.add_argument("--shuffle_buffer_size", type=int, default=None)
    p.add_argument("--no_augmentation", dest="augmentation", action="store_const", const=False, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--checkpoint", "--init_checkpoint", dest="checkpoint", default=None,
                   help="start a new run from these weights (e.g. the converted release); its architecture is used")
    p.add_argument("--resume", default=None, help="auto (the latest checkpoint of --output_path) or a checkpoint")
    p.add_argument("--allow_changes", action="store_true", help="on resume, let flags change the run's settings")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--precision_mode", default="allow_mix_precision",
                   help="NPU precision mode (the Ascend port's test script uses allow_mix_precision)")
    p.add_argument("--threads", type=int, default=None, help="TensorFlow intra/inter-op threads (default: all cores)")
    return p.parse_args(argv)


def requested_settings(args):
    """The settings this command asks for: the --config file, then the flags given. Returns (partial config dict,
    {"section.key": where it was asked})."""
    from src.config import load_config_file

    partial, origin = {}, {}
    if args.config:
        for section, values in load_config_file(args.config).items():
            partial[section] = dict(values) if isinstance(values, dict) else values
            if isinstance(values, dict):
                origin.update({"%s.%s" % (section, k): "--config %s" % args.config for k in values})
    for flag, (section, key, convert) in FLAG_SETTINGS.items():
        value = getattr(args, flag)
        if value is not None:
            partial.setdefault(section, {})[key] = convert(value)
            origin["%s.%s" % (section, key)] = "--no_augmentation" if flag == "augmentation" else \
                "--%s=%s" % (flag, value)
    return partial, origin


def resolve_run(args, num_workers):
    """The run's configuration, start step, and the checkpoints to resume from / start from."""
    from src.checkpoint import (check_architecture, checkpoint_step_of, global_step_of, latest_checkpoint,
                                read_config, resolve_checkpoint)
    from src.config import differences, from_dict

    partial, origin = requested_settings(args)
    if "num_workers" not in partial.get("input_pipeline_params", {}):
        partial.setdefault("input_pipeline_params", {})["num_workers"] = num_workers
        origin["input_pipeline_params.num_workers"] = "TF_CONFIG (%d worker(s))" % num_workers
    latest = latest_checkpoint(args.output_path)
    if args.resume and args.checkpoint:
        raise ConfigError("--resume continues a run, --checkpoint starts a new one from weights: give one of them")
    resume_from = None
    if args.resume == "auto":
        resume_from = latest
        if latest is None:
            print("--resume auto: %s holds no checkpoint yet, starting a new run" % args.output_path, flush=True)
    elif args.resume:
        resume_from = resolve_checkpoint(args.resume)
        if latest and os.path.realpath(resume_from) != os.path.realpath(latest):
            raise ConfigError("--resume %s: %s already holds the checkpoints of a run up to step %s; resume from its "
                              "latest (--resume auto) or give another --output_path"
                              % (args.resume, args.output_path, checkpoint_step_of(latest)))
    elif latest:
        raise ConfigError("%s already holds the checkpoints of a run (latest: step %s): pass --resume auto to "
                          "continue it, or give another --output_path" % (args.output_path, checkpoint_step_of(latest)))

    if resume_from is None:
        base = None
        init_from = resolve_checkpoint(args.checkpoint) if args.checkpoint else None
        if init_from and "architecture" not in partial:
            base = from_dict({"architecture": read_config(init_from)["architecture"]})
        cfg = from_dict(partial, source="the flags", base=base)
        if init_from:
            check_architecture(init_from, read_config(init_from), cfg, "--checkpoint")
        start_step = 0
    else:
        init_from = None
        stored = read_config(resume_from)
        start_step = global_step_of(resume_from)
        cfg = from_dict(partial, source="the flags", base=stored)
        check_architecture(resume_from, stored, cfg, "the resumed run")
        changes = [d for d in differences(stored, cfg) if d[0] != "model_params.num_steps"]
        for key, old, new in changes:
            what = "%s asks for %s = %s, the resumed run (%s) has %s" % (origin.get(key, key), key, new, resume_from,
                                                                         old)
            if not args.allow_changes:
                raise ConfigError(what + ": pass --allow_changes to change it")
            print("changing the resumed run's settings: " + what, flush=True)
        print("resuming from %s (step %d)" % (resume_from, start_step), flush=True)
    if cfg["input_pipeline_params"]["num_workers"] != num_workers:
        raise ConfigError("%s sets input_pipeline_params.num_workers = %d, but this run has %d worker(s) (TF_CONFIG)"
                          % (origin["input_pipeline_params.num_workers"], cfg["input_pipeline_params"]["num_workers"],
                             num_workers))
    if args.steps is not None:
        cfg = from_dict({"model_params": {"num_steps": args.steps}}, source="--steps", base=cfg)
    return cfg, start_step, resume_from, init_from


def write_model_info(path, cfg):
    from src.config import num_anchors, to_dict
    from src.detector import count_parameters
    from src.fileio import write_json_atomic

    h, w = cfg["input_pipeline_params"]["image_size"]
    write_json_atomic(path, {"model": "FaceBoxes", "framework": "tensorflow",
                             "params": count_parameters(cfg["architecture"]),
                             "anchors": num_anchors(h, w, cfg["architecture"]["pad_multiple"]),
                             "anchors_input_hw": [h, w], "config": to_dict(cfg)})


def main(argv=None):
    args = parse_args(argv)
    from src.device import check_device, npu_rank, session_config
    from src.distributed import Cluster
    from src.engine import train
    from src.input_pipeline import find_shards

    if not args.data_path:
        raise ConfigError("--data_path is required (a folder with *.tfrecords shards, or a WIDER FACE root's "
                          "train_shards/)")
    if not args.output_path:
        raise ConfigError("--output_path is required (the run folder)")
    shards = find_shards(args.data_path)
    check_device(args.device)
    cluster = Cluster.from_environ() if args.device != "npu" else None
    data_rank = npu_rank() if args.device == "npu" else (cluster.num_workers, cluster.index) if cluster else (1, 0)
    cfg, start_step, resume_from, init_from = resolve_run(args, data_rank[0])
    last = cfg["model_params"]["num_steps"]
    if start_step >= last:
        print("the checkpoint is already at step %d >= %d: nothing to train" % (start_step, last))
        return 0
    if cluster:
        print("worker %d of %d (%s)%s" % (cluster.index, cluster.num_workers, cluster.workers[cluster.index],
                                           ": the chief" if cluster.is_chief else ": writes no run files"),
              flush=True)
    config = session_config(args.device, args.precision_mode, args.threads)
    server = None
    if cluster:
        cluster.configure(config)
        server = cluster.start_server(config)
    if data_rank[1] == 0:
        os.makedirs(args.output_path, exist_ok=True)
        write_model_info(os.path.join(args.output_path, "model_info.json"), cfg)
    train(cfg, shards, args.output_path, start_step, resume_from=resume_from, init_from=init_from,
          device=args.device, session_config=config, cluster=cluster, server=server, data_rank=data_rank)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "train.py"))
