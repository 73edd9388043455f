"""Converts WIDER FACE + RetinaFace label.txt landmarks into the reference's COCO-keypoints annotations.

    python tools/widerface_to_coco.py --data_path DATA --out DATA
writes DATA/annotations/{train,val}_wider_face.json (image file names are "<event>/<name>.jpg", relative to
DATA/WIDER_{train,val}/images) and, with --link_images, the reference's DATA/image -> WIDER_train/images link.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.coco_convert import convert, wider_paths  # noqa: E402
from src.config import ArgumentParser  # noqa: E402
from src.errors import run_cli  # noqa: E402


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_path", required=True, help="WIDER FACE root (WIDER_train/, WIDER_val/, train/label.txt, "
                                                      "val/label.txt)")
    p.add_argument("--out", required=True, help="output root; the json files go to OUT/annotations/")
    p.add_argument("--splits", default="train,val")
    p.add_argument("--link_images", action="store_true", help="also create OUT/image -> WIDER_train/images")
    a = p.parse_args(argv)
    for split in a.splits.split(","):
        label, img_dir = wider_paths(a.data_path, split)
        out = os.path.join(a.out, "annotations", f"{split}_wider_face.json")
        st = convert(label, img_dir, out)
        print(f"{out}: {st['images']} images, {st['faces']} faces ({st['without_landmarks']} without landmarks, "
              f"{st['dropped_invalid']} invalid boxes dropped, {st['empty_images']} images without faces)")
    if a.link_images:
        link = os.path.join(a.out, "image")
        if not os.path.exists(link):
            os.symlink(os.path.abspath(wider_paths(a.data_path, "train")[1]), link)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "widerface_to_coco.py"))
