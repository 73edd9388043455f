"""The training and evaluation loops (``train.py`` and ``eval.py`` parse, build and call these).

``train``: the training graph (input pipeline -> Detector -> OHEM loss + L2 -> Nesterov momentum with the piecewise
LR, gradients averaged over the data-parallel workers) run by ``MonitoredTrainingSession`` to the last global step,
with the reference's log line and one ``train_log.jsonl`` record per step, checkpoints and summaries from the chief.
``evaluate``: a Predictor over a list of images into a WIDER prediction folder.
"""
import hashlib
import json
import os
import statistics
import time

from src.checkpoint import add_config_variable, checkpoint_path, restorer, saver_for
from src.config import learning_rate, to_dict
from src.detector import Detector
from src.device import wrap_optimizer
from src.distributed import Replicas, SyncFromChiefHook
from src.errors import DataError, UserError
from src.fileio import StepLog
from src.input_pipeline import Pipeline, diagnose_shards
from src.tf_compat import tf

WARMUP_STEPS = 2   # left out of the speed figure, as ci/smoke.py's sec_per_step (graph building, allocator warm-up)


def build_training(cfg, shards, start_step, replicas=None, device="cpu", data_rank=(1, 0)):
    """The training graph in the current default graph. ``data_rank`` = (number of readers, this reader's index)
    of the shards (the data-parallel workers, or Ascend's RANK_SIZE / RANK_ID). Returns a dict of tensors."""
    mp, ip = cfg["model_params"], cfg["input_pipeline_params"]
    replicas = replicas or Replicas()
    # one graph seed for initialisers, the record order and the augmentation; the record order is made exact on
    # resume by skipping (see Pipeline), the augmentation draws restart their random stream
    tf.set_random_seed(mp["seed"])
    global_step = tf.train.get_or_create_global_step()
    add_config_variable(cfg)
    pipeline = Pipeline(shards, ip["batch_size"], ip["image_size"], ip["augmentation"], ip["shuffle_buffer_size"],
                        ip["num_parallel_calls"], mp["seed"], num_workers=data_rank[0], worker_index=data_rank[1],
                        skip=start_step * ip["batch_size"])
    batch = pipeline.get_batch()
    before = set(tf.global_variables())
    detector = Detector(batch["images"], cfg["architecture"], is_training=True, replicas=replicas)
    network_variables = [v for v in tf.global_variables() if v not in before]
    losses = detector.loss(batch, mp)
    loc = mp["localization_loss_weight"] * losses["localization_loss"]
    cls = mp["classification_loss_weight"] * losses["classification_loss"]
    kernels = [v for v in tf.trainable_variables() if "weights" in v.op.name]
    reg = mp["weight_decay"] * tf.add_n([tf.nn.l2_loss(w) for w in kernels])
    lr = tf.train.piecewise_constant(global_step, mp["lr_boundaries"], [v * mp["lr_scale"] for v in mp["lr_values"]])
    optimizer = wrap_optimizer(tf.train.MomentumOptimizer(lr, momentum=mp["momentum"], use_nesterov=True), device)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        # each worker's loc + cls is its share of the global batch's loss (the normaliser counts the matches of
        # the whole global batch): scaled by the number of workers, the average of the workers' gradients is the
        # gradient of the global batch's loss
        data_loss = loc + cls if replicas.num_workers == 1 else replicas.num_workers * (loc + cls)
        grads = optimizer.compute_gradients(data_loss + reg)
        train_op = optimizer.apply_gradients(replicas.average_gradients(grads), global_step=global_step)
    # the logged losses are those of the global batch (identical on every worker)
    if replicas.num_workers > 1:
        loc, cls = tf.unstack(replicas.sum(tf.stack([loc, cls])))
    total = loc + cls + reg
    for name, t in (("localization_loss", loc), ("classification_loss", cls), ("regularization_loss", reg),
                    ("total_loss", total), ("learning_rate", lr)):
        tf.summary.scalar(name, t)
    return {"train_op": train_op, "total": total, "loc": loc, "cls": cls, "reg": reg, "lr": lr,
            "global_step": global_step, "network_variables": network_variables}


class CheckpointHook(tf.train.SessionRunHook):
    """Saves ``model.ckpt-<global step>`` every ``every`` steps and after the last step, through the Saver (files
    renamed into place, the last N of the folder kept). Unlike tf.train.CheckpointSaverHook it writes no .meta
    graph and no graph.pbtxt at every save (the code rebuilds the graph; TensorBoard finds it in the events file):
    a save takes milliseconds instead of half a second."""

    def __init__(self, saver, prefix, every, global_step):
        self.saver, self.prefix, self.every, self.global_step = saver, prefix, every, global_step
        self.step = self.last_saved = None

    def _save(self, session):
        self.saver.save(session, self.prefix, global_step=self.step, write_meta_graph=False)
        self.last_saved = self.step

    def after_create_session(self, session, coord):
        self.step = int(session.run(self.global_step))

    def after_run(self, run_context, run_values):
        self.step += 1   # every run of the training session is one optimizer step
        if self.step % self.every == 0:
            self._save(run_context.session)

    def end(self, session):
        if self.step != self.last_saved:
            self._save(session)


def _fingerprint(cfg, start_step):
    text = json.dumps([to_dict(cfg), start_step], sort_keys=True).encode()
    return int(hashlib.sha256(text).hexdigest()[:15], 16)


def train(cfg, shards, output_path, start_step, resume_from=None, init_from=None, device="cpu", session_config=None,
          cluster=None, server=None, data_rank=(1, 0)):
    """Train from ``start_step`` to ``cfg["model_params"]["num_steps"]`` (the last global step).

    ``resume_from``: the checkpoint whose every variable is restored (weights, BN statistics, momentum, global step);
    ``init_from``: a checkpoint whose network weights start a new run. ``cluster`` / ``server``: the data-parallel
    workers (src/distributed.py); ``data_rank``: (RANK_SIZE, RANK_ID) of Ascend's HCCL processes. Only the chief
    (worker / rank 0) writes checkpoints, summaries and train_log.jsonl into ``output_path``. Returns the seconds of
    every step."""
    mp, ip = cfg["model_params"], cfg["input_pipeline_params"]
    replicas = Replicas(cluster.num_workers, cluster.index) if cluster else Replicas()
    if cluster:
        data_rank = (cluster.num_workers, cluster.index)
    is_chief = replicas.is_chief and data_rank[1] == 0
    global_batch = ip["batch_size"] * data_rank[0]
    graph = tf.Graph()
    with graph.as_default(), tf.device(cluster.device if cluster else None):
        t = build_training(cfg, shards, start_step, replicas, device, data_rank)
        init_fn = None
        if resume_from:
            init_fn = restorer(resume_from, tf.global_variables())
        elif init_from:
            init_fn = restorer(init_from, t["network_variables"])
        sync_op, fingerprints = replicas.sync_from_chief(tf.global_variables(), _fingerprint(cfg, start_step))
        saver = saver_for(output_path, mp["keep_checkpoint_max"]) if is_chief else tf.train.Saver()
        scaffold = tf.train.Scaffold(saver=saver, init_fn=(lambda _, session: init_fn(session)) if init_fn else None)
        hooks = [SyncFromChiefHook(sync_op, fingerprints)] if sync_op is not None else []
        hooks += [tf.train.StopAtStepHook(last_step=mp["num_steps"]), tf.train.NanTensorHook(t["total"])]
        if is_chief:
            hooks.append(CheckpointHook(saver, checkpoint_path(output_path), mp["save_checkpoints_steps"],
                                        t["global_step"]))
        # the (scalar) summaries are fetched at every step and written every save_summary_steps: one fetch set for
        # every step, so TensorFlow prepares one executor (a second one costs seconds of graph optimisation)
        fetch = {k: t[k] for k in ("train_op", "total", "loc", "cls", "reg", "lr")}
        fetch["summary"] = tf.summary.merge_all()
        writer = tf.summary.FileWriterCache.get(output_path) if is_chief else None
        if writer is not None:
            writer.add_graph(graph)
        log = StepLog(os.path.join(output_path, "train_log.jsonl"), resume_step=start_step) if is_chief else None
        every = mp["log_step_count_steps"]
        secs, window, step = [], [], start_step
        try:
            with tf.train.MonitoredTrainingSession(
                    master=server.target if server is not None else "", is_chief=True, checkpoint_dir=None,
                    scaffold=scaffold, hooks=hooks, config=session_config, save_checkpoint_secs=None,
                    save_summaries_steps=None, save_summaries_secs=None, log_step_count_steps=None) as sess:
                last = time.time()
                while not sess.should_stop():
                    try:
                        r = sess.run(fetch)
                    except tf.train.NanLossDuringTrainingError:
                        raise UserError("training loss became NaN at step %d (learning rate %g); the checkpoints in "
                                        "%s are intact: lower the learning rate or check the data"
                                        % (step + 1, learning_rate(cfg, step + 1), output_path)) from None
                    now = time.time()
                    step, dt, last = step + 1, now - last, now
                    secs.append(dt)
                    window.append(dt)
                    if log is not None:
                        log.write(step, r["total"], dt, r["lr"], loc=r["loc"], cls=r["cls"], reg=r["reg"])
                    if writer is not None and (step == start_step + 1 or step % mp["save_summary_steps"] == 0):
                        writer.add_summary(r["summary"], step)
                    if step % every == 0 or step == start_step + 1 or sess.should_stop():  # the last step too
                        # the estimator's log line (loss = ..., step = ... (sec)), then the loss terms and the speed
                        span = max(sum(window), 1e-9)
                        print("loss = %.4f, step = %d (%.3f sec); localization %.4f, classification %.4f, "
                              "regularization %.4f, lr %g, global_step/sec: %.3f, images/sec: %.2f"
                              % (r["total"], step, span, r["loc"], r["cls"], r["reg"], r["lr"], len(window) / span,
                                 len(window) * global_batch / span), flush=True)
                        window = []
        except tf.errors.OpError as e:  # a record the pipeline cannot decode: name the shard, record and image
            bad = diagnose_shards(shards)
            if bad is None:
                raise
            raise DataError(bad) from e
        finally:
            if log is not None:
                log.close()
            if writer is not None:
                writer.flush()
    if secs:
        rest = secs[WARMUP_STEPS:] or secs[-1:]
        sec = statistics.median(rest)
        print("Final Performance images/sec : %.2f" % (global_batch / sec))
        print("Final Performance sec/step : %.4f" % sec, flush=True)
    return secs


def evaluate(predictor, images, pred_dir):
    """Run ``predictor`` on ``images`` [(WIDER relative path "event/name.jpg", file path)] and write the official
    prediction folder ``pred_dir`` (replaced only when every image is done). Returns seconds per image."""
    import widerface_eval
    from tqdm import tqdm

    t0 = time.time()
    with widerface_eval.PredictionFolder(pred_dir) as folder:
        for rel, path in tqdm(images, desc="WIDER val", unit="img"):
            folder.write(rel, predictor(path))
    return (time.time() - t0) / max(len(images), 1)
