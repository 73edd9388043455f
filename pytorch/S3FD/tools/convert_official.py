"""Released S3FD weights -> a checkpoint of this folder, carrying its configuration.

    python tools/convert_official.py --src sfd_face.pth --dst s3fd_yxlijun.pth             # yxlijun release
    python tools/convert_official.py --src s3fd-619a316812.pth --dst s3fd_sfd.pth          # official SFD weights

The format is told by the keys:

* ``yxlijun``: yxlijun/S3FD.pytorch's ``sfd_face.pth`` (``vgg.N``, ``L2Norm3_3``, ``extras``, ``loc``, ``conf``; a
  ``module.`` prefix and the ``{'epoch', 'weight'}`` resume file are accepted) -> configuration ``ARCH=yxlijun``;
* ``sfd``: the official SFD model converted from Caffe, as the face_alignment package downloads it
  (``s3fd-619a316812.pth``: ``conv1_1`` ... ``fc6``, ``fc7``, ``conv6_1`` ... ``conv3_3_norm``,
  ``conv3_3_norm_mbox_conf`` ...) -> configuration ``ARCH=sfd`` (fc6 padding 3 without dilation, pool3 rounding down,
  BGR input), renamed to this folder's parameter names; values are unchanged.

Anything else is refused with one line naming the first key that is in neither format.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.checkpoint import (SFD_KEYS, SFD_NAMES, YXLIJUN_KEYS, identify, load_weights,  # noqa: E402
                            save_checkpoint, strip_module, torch_load)
from src.errors import CheckpointError, UserError, run_cli  # noqa: E402


def convert(obj, src="weights"):
    """``(state_dict in this folder's names, ARCH)`` of a loaded released file; ``CheckpointError`` otherwise."""
    kind = identify(obj)
    if kind == "yxlijun":
        return dict(strip_module(obj)), "yxlijun"
    if kind == "yxlijun_resume":
        return dict(strip_module(obj["weight"])), "yxlijun"
    if kind == "sfd":
        sd = strip_module(obj)
        return {ours: sd[theirs] for ours, theirs in SFD_NAMES.items()}, "sfd"
    if kind == "zoo":
        raise CheckpointError(f"{src}: already a checkpoint of this folder; nothing to convert")
    if isinstance(obj, dict) and obj:
        sd = strip_module(obj.get("weight", obj)) if isinstance(obj.get("weight", obj), dict) else obj
        known = YXLIJUN_KEYS | SFD_KEYS
        unknown = [k for k in sd if k not in known]
        if unknown:
            raise CheckpointError(f"{src}: key {unknown[0]!r} is in neither released S3FD format (yxlijun "
                                  f"'vgg.N/L2Norm3_3/extras/loc/conf', official SFD 'conv1_1 ... fc7_mbox_conf')")
        missing = sorted((YXLIJUN_KEYS if any(k in YXLIJUN_KEYS for k in sd) else SFD_KEYS) - set(sd))
        raise CheckpointError(f"{src}: incomplete S3FD weights: key {missing[0]!r} is missing")
    raise CheckpointError(f"{src}: {kind}")


def convert_file(src, dst):
    """Convert ``src`` and write the checkpoint ``dst``; returns its ARCH."""
    from data.config import make_config, to_dict
    from s3fd import build_s3fd

    sd, arch = convert(torch_load(src), src)
    cfg = make_config(arch)
    net = build_s3fd("test", cfg.NUM_CLASSES, cfg)
    load_weights(net, sd, src)                       # shapes checked against the architecture
    save_checkpoint(dst, {"config": to_dict(cfg), "state_dict": net.state_dict(), "source": os.path.abspath(src),
                          "source_format": arch})
    return arch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", help="released weight file (.pth)")
    p.add_argument("--dst", help="checkpoint to write")
    a = p.parse_args(argv)
    if not a.src or not a.dst:
        raise UserError("--src RELEASED and --dst CKPT are both required")
    arch = convert_file(a.src, a.dst)
    print(f"{a.src} ({arch} format) -> {a.dst} (configuration ARCH={arch})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "convert_official.py"))
