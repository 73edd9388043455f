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


def convert_split(wider_root, out_root, split, skip_invalid=False):
    from widerface_eval import read_split_file
    src = os.path.join(wider_root, "wider_face_split", f"wider_face_{split}_bbx_gt.txt")
    if not os.path.isfile(src):
        raise FileNotFoundError(f"{src}: not found (is --wider_root the WIDER FACE root?)")
    entries = read_split_file(src)
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
    tmp = os.path.join(out_dir, ".label.txt.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(out_dir, "label.txt"))
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
    try:
        for split in args.splits.split(","):
            n, f = convert_split(args.wider_root, args.out, split, args.skip_invalid)
            print(f"{split}: {n} images, {f} faces -> {os.path.join(args.out, split, 'label.txt')}")
    except Exception as e:  # noqa: BLE001 - one line for the user (WiderFormatError carries file:line)
        if isinstance(e, (OSError, ValueError)) or e.__class__.__name__ == "WiderFormatError":
            print(f"wider_to_label.py: error: {e}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
