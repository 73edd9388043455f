"""Split the Kaggle Face Mask Detection data set (VOC xml + png) into train and val folders.

    python src/split_data.py --data_path=/data/facemask --output_path=/data/facemask_split [--train_percent=0.8]

``--data_path`` holds ``images/<name>.png`` and ``annotations/<name>.xml`` (the Kaggle layout); the output gets
``train/{images,annotations}`` and ``val/{images,annotations}``. As the reference, ``random.seed(10)`` draws
``int(0.8 n)`` training images; unlike it, every other image goes to val (the reference drew ``int(0.2 n)`` of the
rest, which left one of the 853 images unused), the listing is sorted first (the reference's split depended on
the file system's listing order), and the paths are flags (the reference hard-coded ``/data``).
"""
import argparse
import os
import random
import shutil
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "src"  # noqa: A001

from .errors import DataError, run_cli  # noqa: E402


def split(data_path, output_path, train_percent=0.8, seed=10, progress=True):
    """Copy the pairs into ``output_path/{train,val}``; returns ``(train names, val names)``."""
    from tqdm import tqdm
    ann_dir, img_dir = os.path.join(data_path, "annotations"), os.path.join(data_path, "images")
    for d in (ann_dir, img_dir):
        if not os.path.isdir(d):
            raise DataError(f"{d}: not found (--data_path must hold images/ and annotations/)")
    names = sorted(os.path.splitext(f)[0] for f in os.listdir(ann_dir) if f.endswith(".xml"))
    if not names:
        raise DataError(f"{ann_dir}: no .xml annotation")
    images = {}
    for name in names:
        found = [f for f in (name + ext for ext in (".png", ".jpg", ".jpeg")) if os.path.isfile(os.path.join(img_dir, f))]
        if not found:
            raise DataError(f"{os.path.join(ann_dir, name + '.xml')}: no image {name}.png (or .jpg) in {img_dir}")
        images[name] = found[0]
    num_train = int(len(names) * train_percent)
    train = set(random.Random(seed).sample(range(len(names)), num_train))
    parts = {"train": [n for i, n in enumerate(names) if i in train],
             "val": [n for i, n in enumerate(names) if i not in train]}
    for part, members in parts.items():
        for sub in ("images", "annotations"):
            os.makedirs(os.path.join(output_path, part, sub), exist_ok=True)
        for name in tqdm(members, desc=part, unit="img", disable=not progress):
            shutil.copyfile(os.path.join(img_dir, images[name]), os.path.join(output_path, part, "images", images[name]))
            shutil.copyfile(os.path.join(ann_dir, name + ".xml"),
                            os.path.join(output_path, part, "annotations", name + ".xml"))
    print(f"train set number:{len(parts['train'])}, val set number:{len(parts['val'])}")
    return parts["train"], parts["val"]


def main(argv=None):
    p = argparse.ArgumentParser(description="split a Face Mask (VOC) data set into train/ and val/")
    p.add_argument("--data_path", required=True, help="folder with images/ and annotations/")
    p.add_argument("--output_path", required=True, help="folder to write train/ and val/ into")
    p.add_argument("--train_percent", type=float, default=0.8, help="share of training images (default 0.8)")
    p.add_argument("--seed", type=int, default=10, help="random seed (default 10, the reference's)")
    args = p.parse_args(argv)
    if not 0 < args.train_percent < 1:
        p.error("--train_percent must be between 0 and 1")
    split(args.data_path, args.output_path, args.train_percent, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "split_data.py"))
