"""Build RetinaFace ``train/label.txt`` and ``val/label.txt`` from the official WIDER FACE layout.

    python tools/wider_to_label.py --wider_root /data/WIDER --out /data/widerface

reads ``WIDER_root/wider_face_split/wider_face_{train,val}_bbx_gt.txt`` and writes ``OUT/{train,val}/label.txt``
(``# event/name.jpg`` then ``x y w h`` + 15 x ``-1.0`` + ``-1.0`` per face: no landmarks, so those faces train
boxes and classes only) and links ``OUT/{split}/images`` to ``WIDER_root/WIDER_{split}/images``. The retinaface
release's landmark annotations (``label.txt`` with 5 points per face) are better when you have them. Faces flagged
invalid are kept unless ``--skip_invalid``; zero-size boxes are written but skipped by the loader, as the reference.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.errors import DataError, run_cli  # noqa: E402
from src.fileio import write_text_atomic  # noqa: E402


def convert_split(wider_root, out_root, split, skip_invalid=False):
    from widerface_eval import WiderFormatError, read_split_file
    src = os.path.join(wider_root, "wider_face_split", f"wider_face_{split}_bbx_gt.txt")
    if not os.path.isfile(src):
        raise DataError(f"{src}: not found (is --wider_root the WIDER FACE root?)")
    try:
        entries = read_split_file(src)
    except WiderFormatError as e:                # file:line: what
        raise DataError(str(e)) from None
    out_dir = os.path.join(out_root, split)
    os.makedirs(out_dir, exist_ok=True)
    lines, faces = [], 0
    for e in entries:
        lines.append(f"# {e.name}")
        for box, attr in zip(e.boxes, e.attrs):
            if skip_invalid and attr[3] == 1:
                continue
            x, y, w, h = (int(v) for v in box)
            lines.append(f"{x} {y} {w} {h} " + " ".join(["-1.0"] * 15) + " -1.0")
            faces += 1
    write_text_atomic(os.path.join(out_dir, "label.txt"), "\n".join(lines) + "\n")
    images = os.path.join(out_dir, "images")
    target = os.path.abspath(os.path.join(wider_root, f"WIDER_{split}", "images"))
    if not os.path.exists(images):
        os.symlink(target, images)
    return len(entries), faces


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wider_root", required=True, help="holds wider_face_split/ and WIDER_{train,val}/images/")
    p.add_argument("--out", required=True, help="output root (gets train/label.txt, val/label.txt)")
    p.add_argument("--splits", default="train,val")
    p.add_argument("--skip_invalid", action="store_true")
    args = p.parse_args(argv)
    for split in args.splits.split(","):
        n, f = convert_split(args.wider_root, args.out, split, args.skip_invalid)
        print(f"{split}: {n} images, {f} faces -> {os.path.join(args.out, split, 'label.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "wider_to_label.py"))
