"""Train Faster R-CNN (MindSpore), as the reference's train.py, with exact resume.

    python train.py --config_path=fasterrcnn_widerface_config.yaml --data_path=/data/widerface \\
        --save_checkpoint_path=out --pre_trained=backbone.ckpt
    python train.py --config_path=default_config.yaml --data_path=/data/coco --mindrecord_dir=/data/mr \\
        --device_target=GPU --pre_trained=backbone.ckpt
    msrun --worker_num=2 --local_worker_num=2 --master_port=PORT --log_dir=out/msrun --join=True \\
        train.py --run_distribute=True ...                     # data parallel (mpirun / rank table work too)
    python train.py --save_checkpoint_path=out --resume=auto  # continue exactly where out/ckpt_0 stopped

Every flag is a key of the YAML (``python train.py --config_path=... --help``). The output folder
(``--save_checkpoint_path``) gets ``ckpt_<rank>/faster_rcnn-<epoch>_<global step>.ckpt`` (weights, optimizer state,
configuration), ``loss_<rank>.log`` (the reference's lines), ``train_log.jsonl`` and ``model_info.json``; the training
MindRecord is written once under ``--mindrecord_dir`` and reused while its inputs are unchanged.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import src  # noqa: E402,F401  (caps oneDNN at AVX2 before MindSpore loads)
from src.errors import run_cli  # noqa: E402


def resolve_resume(cfg, rank, log):
    """The checkpoint to resume (``--resume auto``: the latest of ``ckpt_<rank>``, none -> a new run)."""
    from src.checkpoint import latest_checkpoint
    from src.model_utils.config import train_dir
    if not cfg.resume:
        return None
    if cfg.resume != "auto":
        return cfg.resume
    path = latest_checkpoint(os.path.join(train_dir(cfg), f"ckpt_{rank}"))
    if path is None:
        log(f"--resume=auto: no checkpoint in {os.path.join(train_dir(cfg), f'ckpt_{rank}')}, starting a new run")
    return path


def run_devices(stored):
    """The number of devices of the run whose configuration is ``stored`` (1 unless data parallel)."""
    return int(stored.get("device_num", 1)) if stored.get("run_distribute") else 1


def check_distributed_resume(path, stored):
    """A data-parallel run is resumed data parallel: without a launcher (``python train.py --resume=...``) it is a
    ``ConfigError`` that says how, instead of a silent one-device run with the distributed LR and data order."""
    from src.device import launched
    from src.errors import ConfigError
    if not launched():
        n = run_devices(stored)
        raise ConfigError(f"{path}: a data-parallel run on {n} devices: resume it with its launcher (msrun "
                          f"--worker_num={n} --local_worker_num={n} ... train.py --run_distribute=True --resume=...), "
                          f"or pass --run_distribute=False --allow_changes=True to continue on one device")


def write_model_info(cfg, net, out_dir):
    from src.fileio import write_json_atomic
    params = sum(int(p.size) for p in net.trainable_params())
    write_json_atomic(os.path.join(out_dir, "model_info.json"), {
        "model": "FasterRCNN", "framework": "mindspore", "backbone": cfg.backbone, "params": params,
        "anchors": int(cfg.num_bboxes), "anchors_input_hw": [cfg.img_height, cfg.img_width],
        "config": cfg.to_dict()})
    return params


def main(argv=None):
    from src.model_utils.config import get_config
    from src.model_utils.moxing_adapter import moxing_wrapper
    cfg = get_config(argv, description="Train Faster R-CNN (MindSpore)")

    def pre_process():
        cfg.save_checkpoint_path = cfg.output_path or "/cache/train"

    @moxing_wrapper(cfg, pre_process=pre_process)
    def run():
        return train_fasterrcnn(cfg)

    return run()


def train_fasterrcnn(cfg):
    import mindspore as ms
    from mindspore.train import Model
    from src.checkpoint import load_into_network, read_checkpoint
    from src.convert_checkpoint import load_pretrained
    from src.dataset import TrainOrder, create_fasterrcnn_dataset, prepare_mindrecord
    from src.device import init_distributed, mixed_precision, set_context
    from src.engine import train
    from src.errors import CheckpointError, ConfigError
    from src.FasterRcnn.faster_rcnn import Faster_Rcnn
    from src.lr_schedule import learning_rates
    from src.model_utils.config import apply_resume, check_data_root, dataset_sink, print_config, train_dir
    from src.network_define import LossCallBack, LossNet, StepCheckpoint, TrainOneStepCell, WithLossCell

    if not cfg.resume:
        check_data_root(cfg)
    elif not {"device_target", "run_distribute"} <= cfg._explicit:
        # the resumed run's device and data parallelism, needed before apply_resume (below) restores the rest;
        # every rank has rank 0's
        peek = resolve_resume(cfg, 0, log=lambda msg: None)
        stored = read_checkpoint(peek)[1]["config"] if peek else None
        if stored and stored.get("device_target") and "device_target" not in cfg._explicit:
            cfg.device_target = stored["device_target"]
        if stored and stored.get("run_distribute") and "run_distribute" not in cfg._explicit:
            check_distributed_resume(peek, stored)
            cfg.run_distribute = True
    target = set_context(cfg.device_target, cfg.device_id)
    rank, device_num = (init_distributed() if cfg.run_distribute else (0, 1))
    out_dir = train_dir(cfg)
    os.makedirs(out_dir, exist_ok=True)

    def log(msg):
        print(f"[{rank}] {msg}", flush=True)

    resume_path = resolve_resume(cfg, rank, log)
    resume_params, start_step = None, 0
    if resume_path:
        resume_params, meta = read_checkpoint(resume_path)
        if meta["config"] is None or meta["step"] is None:
            raise CheckpointError(f"{resume_path}: not a checkpoint written by this train.py (no stored "
                                  f"configuration / step); use --pre_trained with --finetune=True instead")
        apply_resume(cfg, meta["config"], resume_path, cfg.allow_changes, log=log)
        start_step = meta["step"]
        was = run_devices(meta["config"])
        if was != device_num:
            if not cfg.allow_changes:
                raise ConfigError(f"{resume_path}: a run on {was} device(s), resumed on {device_num}: the data order "
                                  f"and the LR schedule depend on the number of devices; resume it on {was} (msrun "
                                  f"--worker_num={was} ... --run_distribute=True) or pass --allow_changes=True")
            log(f"resume: devices changed from {was} to {device_num}")
    cfg.device_num = device_num
    check_data_root(cfg)
    print_config(cfg)
    ms.set_seed(cfg.seed)

    mindrecord_files, num_rows = prepare_mindrecord(cfg, rank=rank, log=log)
    order = TrainOrder(num_rows, cfg.batch_size, seed=cfg.seed, device_num=device_num, rank=rank)
    spe = order.steps_per_epoch
    total = cfg.epoch_size * spe
    end_step = min(cfg.steps, total) if cfg.steps else total
    if start_step >= end_step:
        log(f"nothing to do: the checkpoint is at step {start_step}, the run ends at step {end_step}")
        return 0

    net = Faster_Rcnn(cfg)
    net.set_train(True)
    if cfg.pre_trained and not resume_params:
        load_pretrained(net, cfg.pre_trained, cfg.finetune, log=log)
    mixed_precision(net, target)

    base_lr = cfg.base_lr if cfg.run_distribute else cfg.base_lr / 8
    log(f"base_lr {cfg.base_lr} is for 8 devices: " + ("used as is (distributed)" if cfg.run_distribute else
                                                       f"{base_lr:g} for this one-device run (/8)"))
    lr = learning_rates(cfg, spe, base_lr)
    lr_tensor = ms.Tensor(lr, ms.float32)
    if cfg.opt_type == "sgd":
        opt = ms.nn.SGD(params=net.trainable_params(), learning_rate=lr_tensor, momentum=cfg.momentum,
                        weight_decay=cfg.weight_decay)
    else:
        opt = ms.nn.Adam(params=net.trainable_params(), learning_rate=lr_tensor, weight_decay=cfg.weight_decay)
    train_net = TrainOneStepCell(WithLossCell(net, LossNet()), opt, scale_sense=cfg.loss_scale,
                                 grad_clip=cfg.grad_clip)
    if resume_params is not None:
        load_into_network(train_net, resume_params, resume_path)
        log(f"resumed from {resume_path} at global step {start_step} (epoch {start_step // spe + 1})")
    if rank == 0:
        params = write_model_info(cfg, net, out_dir)
        log(f"Faster R-CNN {cfg.backbone}: {params:,} trainable parameters, {cfg.num_bboxes:,} anchors at "
            f"{cfg.img_height}x{cfg.img_width}")
    sink = dataset_sink(cfg, target)
    every = cfg.save_checkpoint_steps or cfg.save_checkpoint_epochs * spe
    callbacks = [LossCallBack(out_dir, rank, lr, start_step, spe, log_json=rank == 0)]
    if cfg.save_checkpoint:
        callbacks.append(StepCheckpoint(os.path.join(out_dir, f"ckpt_{rank}"), cfg.to_dict(), start_step, end_step,
                                        spe, every, cfg.keep_checkpoint_max))
    if cfg.run_eval and rank == 0:
        from src.eval_callback import EvalCallBack
        callbacks.append(EvalCallBack(cfg, net, start_step, spe, out_dir))
    log(f"{num_rows} images, {spe} steps/epoch, batch {cfg.batch_size} x {device_num} device(s), "
        f"{cfg.img_height}x{cfg.img_width}, {target}, sink {sink}, steps {start_step} -> {end_step}")

    def make_dataset(a, b):
        return create_fasterrcnn_dataset(cfg, mindrecord_files, order, a, b, batch_size=cfg.batch_size,
                                         num_parallel_workers=cfg.num_parallel_workers,
                                         python_multiprocessing=cfg.python_multiprocessing)

    train(Model(train_net), make_dataset, start_step, end_step, spe, sink, callbacks)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "train.py"))
