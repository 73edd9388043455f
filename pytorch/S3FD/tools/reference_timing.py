"""Times the reference implementation (yxlijun/S3FD.pytorch @ bccf1d9) for tools/benchmark.py; our own harness.

    python tools/reference_timing.py --reference_dir SCRATCH --task train|infer [--batch 2] [--steps 3]
                                     [--weights yxlijun.pth] [--threads N]

SCRATCH is an unmodified checkout of the reference (``git archive bccf1d9 | tar -x -C SCRATCH``). Nothing is written
there: the files are copied to a temporary folder where the three one-line fixes that Python 3 / torch 2 need are
applied (the ones ``../shared/weights/s3fd_reference/README.md`` §3 lists: the relative import of Detect, ``~mask``
for ``1 - mask``, Detect as a plain class), with two stand-ins for imports the timed code never uses (``easydict``:
a dict with attribute access; ``torchvision.transforms``: empty). This process never imports this folder's modules
(the reference's ``s3fd``, ``data``, ``layers``, ``utils`` have the same names). Prints one JSON line: the seconds of
each timed step.

``train``: the reference train.py's step (forward of the 'train' phase, MultiBoxLoss with scale-compensation
matching, backward, SGD lr 1e-3 momentum 0.9 weight decay 5e-4) on a batch of 640 x 640 inputs with three faces per
image, timed as its ``Timer`` (forward to optimizer step). ``infer``: the 'test' phase forward (network + Detect) of a
640 x 480 input.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import types

FIXES = [("layers/functions/__init__.py", "from detection import Detect", "from .detection import Detect"),
         ("layers/bbox_utils.py", "best_truth_overlap_clone[1 - add_idx] = 0", "best_truth_overlap_clone[~add_idx] = 0"),
         ("layers/functions/detection.py", "class Detect(Function):", "class Detect(object):")]
FACES = [[0.10, 0.10, 0.30, 0.32, 1.0], [0.50, 0.40, 0.58, 0.50, 1.0], [0.70, 0.70, 0.74, 0.75, 1.0]]


def prepared_copy(reference_dir):
    """A temporary copy of the reference with the fixes applied; the stand-in modules are registered."""
    if not os.path.isfile(os.path.join(reference_dir, "s3fd.py")):
        raise SystemExit(f"reference_timing.py: error: {reference_dir}: no s3fd.py (a checkout of yxlijun/S3FD.pytorch)")
    tmp = tempfile.mkdtemp(prefix="s3fd_reference_")
    for sub in ("data", "layers", "utils"):
        shutil.copytree(os.path.join(reference_dir, sub), os.path.join(tmp, sub))
    shutil.copy(os.path.join(reference_dir, "s3fd.py"), tmp)
    for rel, old, new in FIXES:
        path = os.path.join(tmp, rel)
        with open(path) as f:
            text = f.read()
        if new not in text:
            if text.count(old) != 1:
                raise SystemExit(f"reference_timing.py: error: {path}: expected the line {old!r} once")
            with open(path, "w") as f:
                f.write(text.replace(old, new))
    easydict = types.ModuleType("easydict")

    class EasyDict(dict):
        def __getattr__(self, k):
            try:
                return self[k]
            except KeyError:
                raise AttributeError(k) from None

        def __setattr__(self, k, v):
            self[k] = v

    easydict.EasyDict = EasyDict
    tv = types.ModuleType("torchvision")
    tv.transforms = types.ModuleType("torchvision.transforms")
    sys.modules.update({"easydict": easydict, "torchvision": tv, "torchvision.transforms": tv.transforms})
    sys.path.insert(0, tmp)
    return tmp


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference_dir", required=True)
    p.add_argument("--task", choices=("train", "infer"), required=True)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    p.add_argument("--weights", help="a yxlijun state dict (default: the reference's initialisation)")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    tmp = prepared_copy(os.path.abspath(a.reference_dir))
    import warnings
    warnings.filterwarnings("ignore")
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    try:
        import layers.functions.detection as detection
        from data.config import cfg
        from layers.modules import MultiBoxLoss
        from s3fd import build_s3fd
        detection.Detect.__call__ = detection.Detect.forward
        net = build_s3fd(a.task if a.task == "train" else "test", cfg.NUM_CLASSES)
        if a.weights:
            net.load_state_dict(torch.load(a.weights, map_location="cpu", weights_only=True))
        else:
            for m in net.modules():
                if isinstance(m, torch.nn.Conv2d):
                    torch.nn.init.xavier_uniform_(m.weight)
                    torch.nn.init.zeros_(m.bias)
        secs = []
        if a.task == "train":
            net.train()
            crit = MultiBoxLoss(cfg, "face", False)
            opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
            x = torch.randn(a.batch, 3, 640, 640, generator=torch.Generator().manual_seed(0)) * 50
            targets = [torch.tensor(FACES) for _ in range(a.batch)]
            for i in range(a.steps + 1):
                t0 = time.time()
                out = net(x)
                opt.zero_grad()
                loss_l, loss_c = crit(out, targets)
                (loss_l + loss_c).backward()
                opt.step()
                if i:
                    secs.append(time.time() - t0)
        else:
            net.eval()
            x = torch.randn(1, 3, 480, 640, generator=torch.Generator().manual_seed(0)) * 50
            with torch.no_grad():
                for i in range(a.steps + 1):
                    t0 = time.time()
                    net(x)
                    if i:
                        secs.append(time.time() - t0)
        params = sum(p.numel() for p in net.parameters())
        print(json.dumps({"task": a.task, "batch": a.batch, "secs": secs, "threads": torch.get_num_threads(),
                          "params": params}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
