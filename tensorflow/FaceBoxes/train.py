"""Train FaceBoxes (TF1 graph mode, MonitoredTrainingSession; checkpoints every N steps; exact resume).

    python train.py --data_path DATA --output_path models/run00 [--config config.json] [--steps N]
                    [--batch_size B] [--image_size S] [--device cpu|gpu|npu]

DATA holds ``*.tfrecords`` shards (or ``DATA/train_shards/*.tfrecords``), made by
``python -m src.preparedata.create_tfrecords``. Training resumes from the latest checkpoint in --output_path.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_path", default=None, help="folder with the training TFRecord shards")
    p.add_argument("--output_path", default=None, help="model dir: checkpoints, summaries, train_log.jsonl")
    p.add_argument("--config", default=os.path.join(HERE, "config.json"))
    p.add_argument("--steps", "--step", dest="steps", type=int, default=None, help="last global step")
    p.add_argument("--batch_size", type=int, default=None)
    p.add_argument("--image_size", type=int, default=None, help="square training size (default 1024)")
    p.add_argument("--lr_scale", type=float, default=1.0, help="multiply the LR schedule (not the reference)")
    p.add_argument("--save_checkpoints_steps", type=int, default=None)
    p.add_argument("--log_step_count_steps", type=int, default=None)
    p.add_argument("--shuffle_buffer_size", type=int, default=None)
    p.add_argument("--no_augmentation", action="store_true")
    p.add_argument("--init_checkpoint", default=None,
                   help="start from these weights (e.g. a converted checkpoint with the same architecture)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "npu"])
    p.add_argument("--precision_mode", default="allow_mix_precision",
                   help="NPU precision mode (the Ascend port's test script uses allow_mix_precision)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def truncate_log(path, last_step):
    """Drop the records of steps after the checkpoint being resumed (a run killed between two checkpoints logged
    them; they are trained again), so train_log.jsonl has every step once. Rewritten atomically."""
    if not os.path.isfile(path):
        return
    with open(path) as f:
        lines = [ln for ln in f if ln.strip()]
    keep = []
    for ln in lines:
        try:
            if json.loads(ln)["step"] <= last_step:
                keep.append(ln)
        except (ValueError, KeyError, TypeError):  # a line cut by the kill: dropped
            pass
    if len(keep) != len(lines):
        with open(path + ".tmp", "w") as f:
            f.writelines(keep)
        os.replace(path + ".tmp", path)


def build_train_graph(params, args, start_step):
    from src.checkpoint_utils import add_model_config_variable
    from src.detector import Detector
    from src.device import wrap_optimizer
    from src.input_pipeline import Pipeline, find_shards
    from src.tf_compat import tf

    mp, ip, cfg = params["model_params"], params["input_pipeline_params"], params["model_config"]
    shards = find_shards(args.data_path)
    # one graph seed for initialisers, the record order and the augmentation; the record order is made exact on
    # resume by skipping (see Pipeline), the augmentation draws restart their random stream
    tf.set_random_seed(args.seed)
    global_step = tf.train.get_or_create_global_step()
    add_model_config_variable(cfg)
    size = ip["image_size"]
    pipeline = Pipeline(shards, ip["batch_size"], size, is_training=True, augmentation=ip.get("augmentation", True),
                        shuffle_buffer_size=ip["shuffle_buffer_size"], num_parallel_calls=ip["num_parallel_calls"],
                        seed=args.seed, num_workers=args.num_workers, worker_index=args.worker_index,
                        skip=start_step * ip["batch_size"])
    batch = pipeline.get_batch()
    detector = Detector(batch["images"], cfg, is_training=True)
    losses = detector.loss(batch, mp)
    loc = mp["localization_loss_weight"] * losses["localization_loss"]
    cls = mp["classification_loss_weight"] * losses["classification_loss"]
    weights = [v for v in tf.trainable_variables() if "weights" in v.op.name]
    reg = mp["weight_decay"] * tf.add_n([tf.nn.l2_loss(w) for w in weights])
    total = loc + cls + reg
    lr = tf.train.piecewise_constant(global_step, [int(b) for b in mp["lr_boundaries"]],
                                     [float(v) * args.lr_scale for v in mp["lr_values"]])
    optimizer = tf.train.MomentumOptimizer(lr, momentum=mp["momentum"], use_nesterov=True)
    optimizer = wrap_optimizer(optimizer, args.device)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = optimizer.minimize(total, global_step=global_step)
    for name, t in (("localization_loss", loc), ("classification_loss", cls), ("regularization_loss", reg),
                    ("total_loss", total), ("learning_rate", lr)):
        tf.summary.scalar(name, t)
    return {"train_op": train_op, "total": total, "loc": loc, "cls": cls, "reg": reg, "lr": lr,
            "global_step": global_step, "batch_size": ip["batch_size"]}


def run(args):
    from src.checkpoint_utils import CheckpointError, read_model_config, resolve_checkpoint
    from src.config import load_config
    from src.device import session_config
    from src.input_pipeline import find_shards
    from src.tf_compat import tf

    if not args.data_path:
        raise ValueError("--data_path is required (a folder with *.tfrecords shards)")
    if not args.output_path:
        raise ValueError("--output_path is required (the model directory)")
    find_shards(args.data_path)
    params = load_config(args.config)
    mp, ip = params["model_params"], params["input_pipeline_params"]
    if args.steps is not None:
        mp["num_steps"] = args.steps
    if args.batch_size:
        ip["batch_size"] = args.batch_size
    if args.image_size:
        ip["image_size"] = [args.image_size, args.image_size]
    if args.save_checkpoints_steps:
        mp["save_checkpoints_steps"] = args.save_checkpoints_steps
    if args.log_step_count_steps:
        mp["log_step_count_steps"] = args.log_step_count_steps
    if args.shuffle_buffer_size:
        ip["shuffle_buffer_size"] = args.shuffle_buffer_size
    if args.no_augmentation:
        ip["augmentation"] = False
    os.makedirs(args.output_path, exist_ok=True)
    from src.device import npu_rank_size

    args.num_workers, args.worker_index = 1, 0
    if args.device == "npu" and npu_rank_size() > 1:
        args.num_workers, args.worker_index = npu_rank_size(), int(os.environ.get("RANK_ID", "0"))
    is_chief = args.worker_index == 0

    start_step = 0
    latest = tf.train.latest_checkpoint(args.output_path)
    if latest:
        stored = read_model_config(latest)
        if stored != params["model_config"]:
            raise CheckpointError("%s: checkpoint was trained with model configuration %s, config asks for %s"
                                  % (latest, stored, params["model_config"]))
        start_step = int(tf.train.load_variable(latest, "global_step"))
        print("resuming from %s (step %d)" % (latest, start_step), flush=True)
        if is_chief:
            truncate_log(os.path.join(args.output_path, "train_log.jsonl"), start_step)
        if start_step >= mp["num_steps"]:
            print("checkpoint is already at step %d >= %d: nothing to train" % (start_step, mp["num_steps"]))
            return 0
    if is_chief:
        from src.io_utils import write_json_atomic

        write_json_atomic(os.path.join(args.output_path, "config.json"), params)

    graph = tf.Graph()
    with graph.as_default():
        t = build_train_graph(params, args, start_step)
        scaffold = None
        if args.init_checkpoint and not latest:
            init_prefix = resolve_checkpoint(args.init_checkpoint)
            init_cfg = read_model_config(init_prefix)
            if init_cfg != params["model_config"]:
                raise CheckpointError("%s: --init_checkpoint architecture %s differs from the config's %s"
                                      % (init_prefix, init_cfg, params["model_config"]))
            names = set(n for n, _ in tf.train.list_variables(init_prefix))
            restore = [v for v in tf.global_variables() if v.op.name in names and v.op.name != "global_step"]
            init_saver = tf.train.Saver(restore)
            scaffold = tf.train.Scaffold(init_fn=lambda scaffold, sess: init_saver.restore(sess, init_prefix),
                                         saver=tf.train.Saver(max_to_keep=5))
        if scaffold is None:
            scaffold = tf.train.Scaffold(saver=tf.train.Saver(max_to_keep=5))

        hooks = [tf.train.StopAtStepHook(last_step=mp["num_steps"]), tf.train.NanTensorHook(t["total"])]
        log_path = os.path.join(args.output_path, "train_log.jsonl" if is_chief else
                                "train_log_rank%d.jsonl" % args.worker_index)
        every = max(1, int(mp["log_step_count_steps"]))
        fetch = {k: t[k] for k in ("train_op", "total", "loc", "cls", "reg", "lr", "global_step")}

        def lr_at(step):  # the schedule in Python, for messages
            values = [float(v) * args.lr_scale for v in mp["lr_values"]]
            return values[sum(step > int(b) for b in mp["lr_boundaries"])]
        config = session_config(args.device, args.precision_mode)
        with tf.train.MonitoredTrainingSession(
                checkpoint_dir=args.output_path if is_chief else None, is_chief=is_chief, scaffold=scaffold, hooks=hooks, config=config,
                save_checkpoint_steps=mp["save_checkpoints_steps"], save_summaries_steps=mp["save_summary_steps"],
                log_step_count_steps=None) as sess, open(log_path, "a") as log:
            last = time.time()
            window = []
            while not sess.should_stop():
                try:
                    r = sess.run(fetch)
                except tf.train.NanLossDuringTrainingError:
                    raise ValueError("training loss became NaN at step %d (learning rate %g); the checkpoints in %s "
                                     "are intact: lower the learning rate or check the data"
                                     % (start_step + 1, float(lr_at(start_step)), args.output_path))
                now = time.time()
                start_step += 1
                step = start_step
                dt = now - last
                last = now
                rec = {"step": step, "loss": float(r["total"]), "loc": float(r["loc"]), "cls": float(r["cls"]),
                       "reg": float(r["reg"]), "lr": float(r["lr"]), "sec": dt}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                window.append(dt)
                if step % every == 0 or step == 1 or sess.should_stop():  # the last step is always logged
                    # the estimator's log line (loss = ..., step = ... (sec)), then the loss terms and the speed
                    span = sum(window)
                    print("loss = %.4f, step = %d (%.3f sec); localization %.4f, classification %.4f, "
                          "regularization %.4f, lr %g, global_step/sec: %.3f, images/sec: %.2f"
                          % (rec["loss"], step, span, rec["loc"], rec["cls"], rec["reg"], rec["lr"],
                             len(window) / max(span, 1e-9), len(window) * t["batch_size"] / max(span, 1e-9)),
                          flush=True)
                    window = []
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        from src.checkpoint_utils import CheckpointError
        from src.device import DeviceError
        from src.input_pipeline.pipeline import DataError

        return run(args)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume from the latest checkpoint in %s"
              % args.output_path, file=sys.stderr)
        return 130
    except (ValueError, OSError, CheckpointError, DeviceError, DataError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # TF runtime errors (e.g. a corrupt record) -> one line, no traceback
        import tensorflow as _tf

        if not isinstance(e, _tf.errors.OpError):
            raise
        lines = [ln.strip() for ln in str(e.message).splitlines()
                 if ln.strip() and not ln.strip().startswith(("[[", "Graph execution error", "Original stack"))]
        detail = lines[0] if lines else type(e).__name__
        where = None
        if args.data_path and os.path.isdir(args.data_path):
            from src.input_pipeline.pipeline import diagnose_shards, find_shards

            try:
                where = diagnose_shards(find_shards(args.data_path))
            except Exception:
                where = None
        print("error: %s" % (where or ("training failed: %s" % detail)), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
