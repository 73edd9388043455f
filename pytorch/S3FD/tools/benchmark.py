"""S3FD's speed figures, each next to the reference's measured in the same run on the same machine.

    python tools/benchmark.py [--json OUT.json] [--reference_dir SCRATCH] [--checkpoint CKPT] [--data_path MINI]
                              [--train_steps 3] [--infer_runs 5] [--skip ddp,ap]

Figures (CONTRIBUTING.md §7):

* ``train images/s 640x640 1p``: the training step (forward, MultiBoxLoss, backward, SGD) on a batch of 2 inputs of
  640 x 640 with three faces each, timed as the reference's ``Timer`` (median of ``--train_steps`` after one warm-up);
  reference: the same step of yxlijun/S3FD.pytorch (``tools/reference_timing.py``).
* ``train images/s 640x640 DDP 2 processes``: the same step under torchrun + DistributedDataParallel (gloo), 2
  processes with a batch of 2 each (global 4), images/s of the whole job; the reference has no data-parallel mode,
  its figure is the 1-process one.
* ``inference ms 640x480 fp32`` and ``bf16``: the 'test' phase forward (network + Detect) of one 640 x 480 input,
  median of ``--infer_runs``; bf16 = ``torch.autocast`` (cpu); reference: its fp32 forward.
* ``parameters``: the learnable weights of the inference network; reference: its network's count (same run).
* ``easy AP fp32`` / ``easy AP bf16`` on the mini val set (``--data_path``) with ``--checkpoint`` (default: the
  overfit run's last checkpoint, ``test/output/train_overfit``), protocol ``resize`` at the checkpoint's training
  size (the model saw that geometry); the bf16 figure's reference is the fp32 AP.

The weights of the timing runs are the fixture's seed-0 yxlijun weights (regenerated with
``$ZOO_SHARED/weights/s3fd_reference/make_weights.py`` into a temporary folder), for both implementations, so that
Detect sees the same candidates. Without ``--reference_dir`` (a checkout of yxlijun/S3FD.pytorch @ bccf1d9) the
reference figures are the ones issue 9 states for an Intel Xeon of this kind (10.96 s per step of 2, 1.51 s per
forward), marked as such. Prints ``Final Performance images/sec : N`` (the 1p training figure).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(MODEL_DIR))
sys.path.insert(0, MODEL_DIR)

from src.benchmark_record import figure as record_figure, write_benchmark  # noqa: E402
from src.errors import UserError, run_cli  # noqa: E402

ISSUE_REFERENCE = {"train_step_s": 10.96, "infer_s": 1.51, "source": "issue 9: yxlijun/S3FD.pytorch on an Intel Xeon "
                   "of this kind (another run, not this machine)"}
FACES = [[0.10, 0.10, 0.30, 0.32, 1.0], [0.50, 0.40, 0.58, 0.50, 1.0], [0.70, 0.70, 0.74, 0.75, 1.0]]


def shared_dir():
    return os.path.abspath(os.environ.get("ZOO_SHARED") or os.path.join(REPO_ROOT, "..", "shared"))


def seed0_weights(tmp):
    """The fixture's seed-0 weights (yxlijun format) and their converted checkpoint, or (None, None)."""
    gen = os.path.join(shared_dir(), "weights", "s3fd_reference", "make_weights.py")
    if not os.path.isfile(gen):
        return None, None
    pth, ckpt = os.path.join(tmp, "seed0_yxlijun.pth"), os.path.join(tmp, "seed0.pth")
    subprocess.run([sys.executable, gen, "--seed", "0", "--format", "yxlijun", "--out", pth], check=True,
                   capture_output=True)
    from tools.convert_official import convert_file
    convert_file(pth, ckpt)
    return pth, ckpt


def ours_train_step_secs(ckpt, batch, steps):
    """Median-able list of our training step times (the reference's Timer span) at 640 x 640."""
    import torch

    from data.config import make_config
    from layers.modules.multibox_loss import MultiBoxLoss
    from s3fd import build_s3fd, init_weights
    from src.checkpoint import load_weights, read_checkpoint
    cfg = make_config()
    net = build_s3fd("train", 2, cfg)
    if ckpt:
        load_weights(net, read_checkpoint(ckpt)["state_dict"], ckpt)
    else:
        init_weights(net)
    net.train()
    crit = MultiBoxLoss(cfg)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.LR, momentum=cfg.MOMENTUM, weight_decay=cfg.WEIGHT_DECAY)
    x = torch.randn(batch, 3, 640, 640, generator=torch.Generator().manual_seed(0)) * 50
    targets = [torch.tensor(FACES) for _ in range(batch)]
    secs = []
    for i in range(steps + 1):
        t0 = time.time()
        out = net(x)
        loss_l, loss_c = crit(out, targets)
        opt.zero_grad()
        (loss_l + loss_c).backward()
        opt.step()
        if i:
            secs.append(time.time() - t0)
    return secs


def ddp_worker(args):
    """One process of the 2-process DDP figure (run by torchrun)."""
    import torch
    import torch.distributed as dist

    from data.config import make_config
    from layers.modules.multibox_loss import MultiBoxLoss
    from s3fd import build_s3fd, init_weights
    from src.device import Dist
    dist.init_process_group("gloo")
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.get_world_size()))
    cfg = make_config()
    net = build_s3fd("train", 2, cfg)
    init_weights(net)
    model = torch.nn.parallel.DistributedDataParallel(net)
    crit = MultiBoxLoss(cfg, Dist())                    # the loss of the global batch, as train.py
    opt = torch.optim.SGD(net.parameters(), lr=cfg.LR, momentum=cfg.MOMENTUM, weight_decay=cfg.WEIGHT_DECAY)
    x = torch.randn(args.batch, 3, 640, 640, generator=torch.Generator().manual_seed(dist.get_rank())) * 50
    targets = [torch.tensor(FACES) for _ in range(args.batch)]
    secs = []
    for i in range(args.train_steps + 1):
        dist.barrier()
        t0 = time.time()
        loss_l, loss_c = crit(model(x), targets)
        opt.zero_grad()
        (loss_l + loss_c).backward()
        opt.step()
        dist.barrier()
        if i:
            secs.append(time.time() - t0)
    if dist.get_rank() == 0:
        print("DDP_SECS " + json.dumps(secs), flush=True)
    dist.destroy_process_group()
    return 0


def ours_infer_secs(ckpt, runs, amp):
    import torch

    from data.config import make_config
    from s3fd import build_s3fd
    from src.checkpoint import config_of, load_weights, read_checkpoint
    if ckpt:
        ck = read_checkpoint(ckpt)
        cfg = config_of(ck, ckpt)
        net = build_s3fd("test", 2, cfg)
        load_weights(net, ck["state_dict"], ckpt)
    else:
        net = build_s3fd("test", 2, make_config())
    net.eval()
    x = torch.randn(1, 3, 480, 640, generator=torch.Generator().manual_seed(0)) * 50
    secs = []
    with torch.no_grad():
        for i in range(runs + 1):
            t0 = time.time()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                net(x)
            if i:
                secs.append(time.time() - t0)
    return secs


def reference_run(reference_dir, task, weights, steps, batch=2):
    """What ``tools/reference_timing.py`` reports: ``secs`` (the timed steps) and ``params`` of the reference net."""
    cmd = [sys.executable, os.path.join(HERE, "reference_timing.py"), "--reference_dir", reference_dir, "--task", task,
           "--steps", str(steps), "--batch", str(batch)] + (["--weights", weights] if weights else [])
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if r.returncode != 0:
        raise UserError(f"the reference run failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def our_params():
    """Learnable weights of the inference network (the reference's count: the L2Norm scales included)."""
    from s3fd import build_s3fd
    return sum(p.numel() for p in build_s3fd("test").parameters())


def easy_aps(ckpt, data_path):
    """(fp32, bf16) easy AP of ``ckpt`` on the val set of ``data_path``, protocol resize at its training size."""
    from src.inference import Predictor
    from tools.wider_test import evaluate, find_gt_dir
    gt = find_gt_dir(data_path)
    out = []
    for amp in (False, True):
        pred = Predictor.from_checkpoint(ckpt, amp=amp)
        with tempfile.TemporaryDirectory() as tmp:
            res = evaluate(pred, data_path, gt, tmp, "resize", input_size=pred.cfg.resize_width, progress=False)
        out.append(float(res.aps["easy"]))
    return out, pred.cfg.resize_width


def figure(name, value, unit, reference, source):
    """A figure of the record (src/benchmark_record.py), value and reference rounded to 4 decimals."""
    return record_figure(name, round(value, 4), unit, None if reference is None else round(reference, 4), source)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--reference_dir", default=os.environ.get("S3FD_REFERENCE_DIR"),
                   help="checkout of yxlijun/S3FD.pytorch @ bccf1d9 (default $S3FD_REFERENCE_DIR)")
    p.add_argument("--checkpoint", help="model of the AP figures (default: the overfit run's last checkpoint)")
    p.add_argument("--data_path", default=os.path.join(REPO_ROOT, "ci", "data", "mini_widerface"))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--train_steps", type=int, default=3)
    p.add_argument("--infer_runs", type=int, default=5)
    p.add_argument("--skip", default="", help="comma-separated: ddp, ap, reference")
    p.add_argument("--ddp_worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.ddp_worker:
        return ddp_worker(a)
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    import torch
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        pth, ckpt = seed0_weights(tmp)
        use_ref = a.reference_dir and "reference" not in skip
        if a.reference_dir and not os.path.isfile(os.path.join(a.reference_dir, "s3fd.py")):
            raise UserError(f"--reference_dir {a.reference_dir}: no s3fd.py (a checkout of yxlijun/S3FD.pytorch)")
        src = "yxlijun/S3FD.pytorch @ bccf1d9, same run, same machine" if use_ref else ISSUE_REFERENCE["source"]

        ours = statistics.median(ours_train_step_secs(ckpt, a.batch, a.train_steps))
        ref = statistics.median(reference_run(a.reference_dir, "train", pth, a.train_steps, a.batch)["secs"]) if use_ref \
            else ISSUE_REFERENCE["train_step_s"] * a.batch / 2
        ips = a.batch / ours
        figures.append(figure("train images/s 640x640 1p", ips, "images/s", a.batch / ref, src))
        if "ddp" not in skip:
            r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
                                "--master_addr=127.0.0.1", f"--master_port={free_port()}", __file__, "--ddp_worker",
                                "--batch", str(a.batch), "--train_steps", str(a.train_steps)],
                               capture_output=True, text=True, cwd=MODEL_DIR)
            line = [ln for ln in r.stdout.splitlines() if ln.startswith("DDP_SECS ")]
            if r.returncode != 0 or not line:
                raise UserError(f"the DDP run failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
            ddp = statistics.median(json.loads(line[0][len("DDP_SECS "):]))
            figures.append(figure("train images/s 640x640 DDP 2 processes (gloo)", 2 * a.batch / ddp, "images/s",
                                  a.batch / ref, src + "; the reference has no data-parallel mode: its 1p figure"))
        ref_run = reference_run(a.reference_dir, "infer", pth, a.infer_runs) if use_ref else None
        ref_inf = statistics.median(ref_run["secs"]) if use_ref else ISSUE_REFERENCE["infer_s"]
        figures.append(figure("parameters", our_params(), "count", ref_run["params"] if use_ref else None,
                              src if use_ref else None))
        for amp in (False, True):
            ms = 1000 * statistics.median(ours_infer_secs(ckpt, a.infer_runs, amp))
            figures.append(figure(f"inference ms 640x480 {'bf16 autocast' if amp else 'fp32'}", ms, "ms",
                                  1000 * ref_inf, src + ("; its fp32 forward" if amp else "")))
    if "ap" not in skip:
        ap_ckpt = a.checkpoint or default_checkpoint()
        if ap_ckpt:
            (ap32, ap16), size = easy_aps(ap_ckpt, a.data_path)
            where = f"mini val, {os.path.basename(ap_ckpt)}, protocol resize {size}"
            figures.append(figure(f"easy AP fp32 ({where})", ap32, "AP", None, None))
            figures.append(figure(f"easy AP bf16 ({where})", ap16, "AP", ap32, "the fp32 AP of the same run"))
    for f in figures:
        ratio = f" (x{f['value'] / f['reference']:.2f} of the reference {f['reference']})" if f["reference"] else ""
        print(f"{f['name']}: {f['value']} {f['unit']}{ratio}")
    print(f"Final Performance images/sec : {ips:.2f}")
    if a.json:
        write_benchmark(a.json, "S3FD", figures, torch=torch.__version__, threads=torch.get_num_threads())
    return 0


def default_checkpoint():
    folder = os.path.join(MODEL_DIR, "test", "output", "train_overfit")
    try:
        with open(os.path.join(folder, "last_checkpoint")) as f:
            path = os.path.join(folder, f.read().strip())
        return path if os.path.isfile(path) else None
    except OSError:
        return None


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(run_cli(main, "benchmark.py"))
