"""Train RetinaFace (MindSpore), as ``official/cv/RetinaFace_ResNet50/train.py`` with a device flag.

    python train.py --data_path=/data/widerface                          # 1 device, ResNet50, 840x840, batch 8
    msrun --worker_num=2 --local_worker_num=2 --master_port=8118 --log_dir=test/output/msrun --join=True \
        train.py --data_path=/data/widerface --is_distributed --device_target=CPU

``--data_path`` is the WIDER FACE root holding ``train/label.txt`` and ``train/images/``. Checkpoints
(``RetinaFace-<epoch>_<step>.ckpt``) hold the weights, the optimizer state, the step counter and the model
configuration; ``--resume_net`` continues a run exactly (same data order, augmentation and learning rates).
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.errors import run_cli  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train RetinaFace (MindSpore)")
    p.add_argument("--data_path", default=None, help="WIDER FACE root with train/label.txt and train/images/")
    p.add_argument("--backbone", default="resnet50", choices=["resnet50", "mobilenet0.25"])
    p.add_argument("--device_target", default="GPU", help="CPU, GPU or Ascend (cpu/gpu/npu accepted)")
    p.add_argument("--mode", default="graph", choices=["graph", "pynative"])
    p.add_argument("--is_distributed", action="store_true", help="data parallel; launch with msrun or mpirun")
    p.add_argument("--epoch", type=int, default=None)
    p.add_argument("--batch_size", type=int, default=None, help="per device (default 8 for ResNet50)")
    p.add_argument("--image_size", type=int, default=None, help="square training size (default 840)")
    p.add_argument("--lr", type=float, default=None, help="initial lr (default 0.01)")
    p.add_argument("--lr_type", default=None, choices=["dynamic_lr", "standard_lr"])
    p.add_argument("--warmup_epoch", type=int, default=None)
    p.add_argument("--optim", default=None, choices=["sgd", "momentum"])
    p.add_argument("--grad_clip", type=float, default=None, help="per-tensor clip norm, 0 = off (default)")
    p.add_argument("--photometric_distortion", action="store_true",
                   help="apply the PyTorch original's photometric distortion (off in the MindSpore reference)")
    p.add_argument("--num_workers", type=int, default=None)
    p.add_argument("--no_python_multiprocessing", action="store_true",
                   help="run the map stages in threads instead of processes")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--pretrain_path", default=None, help="backbone checkpoint (ImageNet, same layer names)")
    p.add_argument("--resume_net", default=None, help="checkpoint written by this script: resume exactly")
    p.add_argument("--ckpt_path", default=None, help="checkpoint folder (default ./checkpoint/)")
    p.add_argument("--save_checkpoint_steps", type=int, default=None)
    p.add_argument("--keep_checkpoint_max", type=int, default=None)
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = full schedule)")
    p.add_argument("--dataset_sink_mode", default="auto", choices=["auto", "true", "false"],
                   help="auto: on for GPU/Ascend, off for CPU")
    p.add_argument("--log_json", default=None, help="write per-step losses and times to this JSON file")
    return p.parse_args(argv)


def build_cfg(args):
    from src.config import get_config
    cfg = get_config(args.backbone)
    for key, val in (("epoch", args.epoch), ("batch_size", args.batch_size), ("image_size", args.image_size),
                     ("initial_lr", args.lr), ("lr_type", args.lr_type), ("warmup_epoch", args.warmup_epoch),
                     ("optim", args.optim), ("grad_clip", args.grad_clip), ("num_workers", args.num_workers),
                     ("seed", args.seed), ("ckpt_path", args.ckpt_path), ("resume_net", args.resume_net),
                     ("save_checkpoint_steps", args.save_checkpoint_steps),
                     ("keep_checkpoint_max", args.keep_checkpoint_max)):
        if val is not None:
            cfg[key] = val
    if args.photometric_distortion:
        cfg["photometric_distortion"] = True
    if args.pretrain_path is not None:
        cfg["pretrain_path"] = args.pretrain_path
        cfg["pretrain"] = bool(args.pretrain_path)
    else:
        cfg["pretrain"] = False
    return cfg


def make_step_logger(max_steps=0, log_json=None, batch_size=None):
    """A Callback recording each step's loss and wall time (written to ``log_json`` at the end) that stops
    training after ``max_steps`` steps. Built on demand so that ``--help`` and argument errors need no MindSpore."""
    from mindspore.train import Callback

    class StepLogger(Callback):
        def __init__(self):
            super().__init__()
            self.max_steps = max_steps
            self.losses, self.times = [], []
            self.count = 0
            self._t = None

        def on_train_step_begin(self, run_context):
            self._t = time.time()

        def on_train_step_end(self, run_context):
            loss = run_context.original_args().net_outputs
            self.losses.append(float(loss.asnumpy() if hasattr(loss, "asnumpy") else loss))
            self.times.append(time.time() - self._t)
            self.count += 1
            if self.max_steps and self.count >= self.max_steps:
                run_context.request_stop()

        def on_train_end(self, run_context):
            if log_json:
                with open(log_json, "w", encoding="utf-8") as f:
                    json.dump({"losses": self.losses, "step_times": self.times, "batch_size": batch_size}, f)

    return StepLogger()


def main(argv=None):
    args = parse_args(argv)
    if not args.data_path:
        raise ValueError("--data_path is required (WIDER FACE root with train/label.txt)")
    label = os.path.join(args.data_path, "train", "label.txt")
    if not os.path.isfile(label):
        raise FileNotFoundError(f"{label}: not found (--data_path must hold train/label.txt and train/images/)")

    import mindspore as ms
    from mindspore import nn
    from mindspore.train import Model, LossMonitor, TimeMonitor, ModelCheckpoint, CheckpointConfig
    from src.config import model_config
    from src.dataset import create_dataset
    from src.device import set_context
    from src.loss import MultiBoxLoss
    from src.lr_schedule import adjust_learning_rate
    from src.network import RetinaFace, RetinaFaceWithLossCell, TrainingWrapper, build_backbone
    from src.utils import CONFIG_KEY, load_ckpt

    cfg = build_cfg(args)
    target = set_context(args.device_target, args.mode)
    ms.set_seed(cfg["seed"])

    rank, group = 0, 1
    if args.is_distributed:
        from mindspore.communication import init, get_rank, get_group_size
        init()
        rank, group = get_rank(), get_group_size()
        ms.set_auto_parallel_context(device_num=group, parallel_mode=ms.ParallelMode.DATA_PARALLEL,
                                     gradients_mean=True)
    ckpt_dir = os.path.join(cfg["ckpt_path"], f"ckpt_{rank}")

    # resume: weights + optimizer state + global step from one checkpoint
    resume_params, start_step = None, 0
    if cfg["resume_net"]:
        resume_params, saved_cfg, _ = load_ckpt(cfg["resume_net"])
        if saved_cfg and saved_cfg["backbone"] != cfg["backbone"]:
            raise ValueError(f"{cfg['resume_net']}: was trained with backbone {saved_cfg['backbone']!r}, "
                             f"not {cfg['backbone']!r}")
        resume_params.pop("learning_rate", None)       # re-derived from the schedule (allows changing --epoch)
        if "global_step" in resume_params:
            start_step = int(resume_params["global_step"].asnumpy().reshape(-1)[0])

    ds, sampler = create_dataset(os.path.join(args.data_path, "train"), cfg, num_shards=group, shard_id=rank,
                                 start_step=start_step,
                                 python_multiprocessing=not args.no_python_multiprocessing)
    steps_per_epoch = sampler.steps_per_epoch

    backbone = build_backbone(cfg)
    if cfg["pretrain"] and not cfg["resume_net"]:
        params, _, _ = load_ckpt(cfg["pretrain_path"])
        not_loaded, _ = ms.load_param_into_net(backbone, params)
        if not_loaded:
            raise ValueError(f"{cfg['pretrain_path']}: {len(not_loaded)} backbone parameters missing, e.g. "
                             f"{not_loaded[:3]}")
        print(f"Load pretrained backbone from [{cfg['pretrain_path']}] done.", flush=True)
    net = RetinaFace(cfg, phase="train", backbone=backbone)
    loss_net = RetinaFaceWithLossCell(net, MultiBoxLoss(2, cfg["neg_pos_ratio"]), cfg)

    lr = adjust_learning_rate(cfg["initial_lr"], cfg["gamma"], [cfg["decay1"], cfg["decay2"]], steps_per_epoch,
                              cfg["epoch"], cfg["warmup_epoch"], cfg["lr_type"])
    if cfg["optim"] == "momentum":
        opt = nn.Momentum(net.trainable_params(), ms.Tensor(lr, ms.float32), cfg["momentum"])
    else:
        opt = nn.SGD(net.trainable_params(), ms.Tensor(lr, ms.float32), momentum=cfg["momentum"],
                     weight_decay=cfg["weight_decay"], loss_scale=1.0)
    train_net = TrainingWrapper(loss_net, opt, grad_clip=cfg["grad_clip"])
    if resume_params is not None:
        not_loaded, _ = ms.load_param_into_net(train_net, resume_params)
        not_loaded = [n for n in not_loaded if n != "learning_rate"]
        if not_loaded:
            raise ValueError(f"{cfg['resume_net']}: {len(not_loaded)} parameters missing, e.g. {not_loaded[:3]}")
        print(f"Resume from [{cfg['resume_net']}] at step {start_step}.", flush=True)

    total_steps = cfg["epoch"] * steps_per_epoch
    if args.max_steps:
        total_steps = min(total_steps, start_step + args.max_steps)
    if start_step >= total_steps:
        print(f"nothing to do: checkpoint is at step {start_step} of {total_steps}", flush=True)
        return 0

    sink = {"auto": target != "CPU", "true": True, "false": False}[args.dataset_sink_mode]
    model = Model(train_net)
    config_ck = CheckpointConfig(save_checkpoint_steps=cfg["save_checkpoint_steps"],
                                 keep_checkpoint_max=cfg["keep_checkpoint_max"],
                                 append_info=[{CONFIG_KEY: json.dumps(model_config(cfg), sort_keys=True)}])
    ckpt_cb = ModelCheckpoint(prefix="RetinaFace", directory=ckpt_dir, config=config_ck)
    log_json = args.log_json
    if log_json and group > 1:
        root, ext = os.path.splitext(log_json)
        log_json = f"{root}_rank{rank}{ext or '.json'}"
    logger = make_step_logger(total_steps - start_step, log_json, cfg["batch_size"])
    callbacks = [LossMonitor(), TimeMonitor(data_size=steps_per_epoch), logger, ckpt_cb]
    print(f"RetinaFace-{cfg['backbone']}: {len(sampler.epoch_indices(0))} images/shard, {steps_per_epoch} "
          f"steps/epoch, batch {cfg['batch_size']} x {group} device(s), {cfg['image_size']}px, device {target}, "
          f"sink {sink}, steps {start_step}->{total_steps}", flush=True)

    # first a partial pass to the next epoch boundary when resuming mid-epoch, then whole epochs
    first_epoch, offset = divmod(start_step, steps_per_epoch)
    end_epoch = -(-total_steps // steps_per_epoch)
    if offset:
        part_ds, _ = create_dataset(os.path.join(args.data_path, "train"), cfg, num_shards=group, shard_id=rank,
                                    start_step=start_step, pass_steps=steps_per_epoch - offset,
                                    python_multiprocessing=not args.no_python_multiprocessing)
        model.train(first_epoch + 1, part_ds, callbacks=callbacks, dataset_sink_mode=False,
                    initial_epoch=first_epoch)
        first_epoch += 1
        sampler.step = first_epoch * steps_per_epoch
    if first_epoch < end_epoch and logger.count < logger.max_steps:
        model.train(end_epoch, ds, callbacks=callbacks, dataset_sink_mode=sink, initial_epoch=first_epoch)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "train.py"))
