"""Convert the PyTorch original's RetinaFace-MobileNet0.25 state dict into a checkpoint of this folder.

    python tools/convert_official.py --src ../../../shared/weights/retinaface_mnet025/Final_Retinaface.pth \
        --dst retinaface_mnet025.ckpt

``Final_Retinaface.pth`` (biubug6/Pytorch_Retinaface @ 3c31dcd) was trained with plain ReLU everywhere, so the
checkpoint is written with the ``mobilenet0.25`` configuration and ``leaky = 0``; later PyTorch releases
(``mobilenet0.25_Final.pth``, LeakyReLU 0.1) convert with ``--leaky 0.1``. The resulting checkpoint carries its model
configuration, so ``eval.py``/``demo.py``/``export.py`` need no other flag.

Conversion: conv/head weights are copied as is (both frameworks use OIHW); BatchNorm weight/bias/running_mean/
running_var become gamma/beta/moving_mean/moving_variance; ``num_batches_tracked`` is dropped; a ``module.`` prefix
(DataParallel) is stripped. Every key must map onto the network and every network parameter must be covered.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from src.errors import CheckpointError, UserError, run_cli  # noqa: E402  (src first: sets the oneDNN ISA)

_BN = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def load_torch_state_dict(path):
    """OrderedDict name -> numpy array, read with torch (CPU), ``module.`` stripped."""
    try:
        import torch
    except ImportError:
        raise UserError("reading a .pth needs PyTorch (the CPU wheel is enough): pip install torch") from None
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: file not found")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        first = (str(e).strip().splitlines() or [""])[0][:160]      # torch's messages run over many lines
        raise CheckpointError(f"{path}: not a readable PyTorch state dict ({e.__class__.__name__}: {first})") \
            from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    out = {}
    for k, v in sd.items():
        if not hasattr(v, "numpy"):
            continue
        k = k[len("module."):] if k.startswith("module.") else k
        out[k] = v.detach().cpu().numpy()
    return out


def convert_state_dict(sd, ms_param_names):
    """Map PyTorch names/arrays onto MindSpore parameter names. Returns {ms_name: array}."""
    ms_names = set(ms_param_names)
    bn_prefixes = {k.rsplit(".", 1)[0] for k in sd if k.endswith("running_mean")}
    out = {}
    unexpected = []
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        prefix, leaf = k.rsplit(".", 1)
        if prefix in bn_prefixes and leaf in _BN:
            name = f"{prefix}.{_BN[leaf]}"
        else:
            name = k
        if name not in ms_names:
            unexpected.append(k)
            continue
        out[name] = v.astype(np.float32)
    missing = sorted(ms_names - set(out))
    if unexpected or missing:
        raise CheckpointError(f"state dict does not match the network: unexpected {unexpected[:5]}"
                         f"{'...' if len(unexpected) > 5 else ''} ({len(unexpected)}), missing {missing[:5]}"
                         f"{'...' if len(missing) > 5 else ''} ({len(missing)})")
    return out


def convert(src, dst, backbone="mobilenet0.25", leaky=0.0):
    import mindspore as ms
    from src.checkpoint import save
    from src.config import get_config
    from src.network import RetinaFace

    cfg = get_config(backbone, leaky=float(leaky))
    net = RetinaFace(cfg, phase="predict")
    params = {p.name: p for p in net.get_parameters()}
    sd = load_torch_state_dict(src)
    try:
        mapped = convert_state_dict(sd, params.keys())
    except CheckpointError as e:
        raise CheckpointError(f"{src}: {e}") from None
    for name, arr in mapped.items():
        if tuple(params[name].shape) != arr.shape:
            raise CheckpointError(f"{src}: {name} has shape {arr.shape}, the network expects {tuple(params[name].shape)}")
        params[name].set_data(ms.Tensor(arr))
    save(net, dst, cfg, extra={"source": os.path.basename(src)})
    return net, cfg


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--src", required=True, help="PyTorch state dict (.pth), e.g. Final_Retinaface.pth")
    p.add_argument("--dst", required=True, help="output MindSpore checkpoint (.ckpt)")
    p.add_argument("--backbone", default="mobilenet0.25", choices=["mobilenet0.25"],
                   help="released PyTorch weights exist for MobileNet0.25 only (the ResNet50 of the MindSpore "
                        "reference is a different, modified-pad network)")
    p.add_argument("--leaky", type=float, default=0.0,
                   help="LeakyReLU slope the weights were trained with: 0 for Final_Retinaface.pth (3c31dcd), "
                        "0.1 for the later mobilenet0.25_Final.pth")
    args = p.parse_args(argv)
    convert(args.src, args.dst, args.backbone, args.leaky)
    print(f"wrote {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "convert_official.py"))
