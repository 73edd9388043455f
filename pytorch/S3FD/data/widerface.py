"""WIDER FACE for S3FD training: the reference's list files, ``WIDERDetection`` and ``detection_collate``.

A list file (``face_train.txt`` / ``face_val.txt``, written by ``prepare_wider_data.py``) has one line per image::

    <image path> <N> x y w h 1 x y w h 1 ...          (WIDER pixel boxes, label 1)

A relative image path is relative to the list file's folder. As the reference, the loader skips boxes with
``w <= 0`` or ``h <= 0`` and images left without a box, and turns boxes into ``(x1, y1, x2, y2)`` normalised by the
image size. A malformed line is a ``DataError`` naming ``file:line`` and what is wrong; an image that is missing or
does not decode completely is a ``DataError`` naming the image.

Augmentation is seeded per sample: sample ``index`` of epoch ``e`` draws from
``numpy.random.default_rng([seed, e, index])``, so the batches of an epoch are the same whatever the number of
loader workers, and a resumed run sees the same data as an uninterrupted one.
"""
import os

import numpy as np
import torch
import torch.utils.data as data
from PIL import Image

from src.errors import DataError
from src.image_io import read_image
from utils.augmentations import preprocess


def parse_list_file(list_file):
    """Read a list file. Returns ``(fnames, boxes, labels, skipped)``: image paths, per image an [n, 4] float64 array
    of ``x1 y1 x2 y2`` pixel boxes with positive size, per image an int64 label array, and the number of images
    skipped for having no such box. Raises ``DataError`` (``file:line: what``) on a malformed line."""
    try:
        with open(list_file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise DataError(f"{list_file}: list file not found (write it with prepare_wider_data.py)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{list_file}: cannot read the list file ({e})") from None
    root = os.path.dirname(os.path.abspath(list_file))
    fnames, boxes, labels, skipped = [], [], [], 0
    for lineno, line in enumerate(lines, 1):
        tok = line.split()
        if not tok:
            continue
        where = f"{list_file}:{lineno}"
        if len(tok) < 2:
            raise DataError(f"{where}: expected '<image path> <N> x y w h label ...', found {len(tok)} field")
        try:
            n = int(tok[1])
        except ValueError:
            raise DataError(f"{where}: face count {tok[1]!r} is not a whole number") from None
        if n < 0:
            raise DataError(f"{where}: negative face count {n}")
        if len(tok) != 2 + 5 * n:
            raise DataError(f"{where}: {n} faces need {2 + 5 * n} fields (path, count, 5 per face), "
                            f"found {len(tok)}")
        try:
            vals = np.array([float(t) for t in tok[2:]], np.float64).reshape(n, 5)
        except ValueError:
            bad = next(t for t in tok[2:] if not _is_number(t))
            raise DataError(f"{where}: {bad!r} is not a number") from None
        if not np.all(np.isfinite(vals)):
            raise DataError(f"{where}: a box value is not finite")
        if np.any(vals[:, 4] != np.round(vals[:, 4])):
            raise DataError(f"{where}: a label is not a whole number")
        keep = (vals[:, 2] > 0) & (vals[:, 3] > 0)
        vals = vals[keep]
        if len(vals) == 0:
            skipped += 1
            continue
        path = tok[0] if os.path.isabs(tok[0]) else os.path.join(root, tok[0])
        fnames.append(path)
        boxes.append(np.stack([vals[:, 0], vals[:, 1], vals[:, 0] + vals[:, 2], vals[:, 1] + vals[:, 3]], 1))
        labels.append(vals[:, 4].astype(np.int64))
    return fnames, boxes, labels, skipped


def _is_number(t):
    try:
        float(t)
        return True
    except ValueError:
        return False


class WIDERDetection(data.Dataset):
    """The images of a list file; item ``i`` = (3xHxW float32 input, [n, 5] float32 ``x1 y1 x2 y2 label``).

    ``mode`` "train" augments (when ``cfg.augment``), "val" only resizes (random filter, as the reference)."""

    def __init__(self, list_file, mode, cfg, seed=0):
        super().__init__()
        self.list_file = list_file
        self.mode = mode if cfg.augment or mode == "val" else "val"
        self.cfg = cfg
        self.seed = int(seed)
        self.epoch = 0
        self.fnames, self.boxes, self.labels, self.skipped = parse_list_file(list_file)
        if not self.fnames:
            raise DataError(f"{list_file}: no image with a face box (w > 0, h > 0)")

    def __len__(self):
        return len(self.fnames)

    def set_epoch(self, epoch):
        """Augmentation of epoch ``epoch`` (call before the loader's iterator is created)."""
        self.epoch = int(epoch)

    def __getitem__(self, index):
        img, target = self.pull_item(index)
        return torch.from_numpy(img), torch.from_numpy(target)

    def pull_item(self, index):
        """The reference's loop: when no face survives the augmentation, a random other image is used."""
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        for _ in range(1000):
            img = Image.fromarray(read_image(self.fnames[index], "rgb"))
            w, h = img.size
            boxes = self.boxes[index] / np.array([w, h, w, h], np.float64)
            rows = [[float(lab)] + b.tolist() for lab, b in zip(self.labels[index], boxes)]
            x, rows = preprocess(img, rows, self.mode, self.cfg, rng)
            if rows:
                rows = np.asarray(rows, np.float64)
                target = np.concatenate([rows[:, 1:5], rows[:, :1]], 1).astype(np.float32)
                return x, target
            index = int(rng.integers(len(self)))
        raise DataError(f"{self.list_file}: 1000 augmented samples in a row lost every face")


def detection_collate(batch):
    """Stack the images; the targets stay a list of [n_i, 5] tensors."""
    return torch.stack([b[0] for b in batch], 0), [b[1] for b in batch]
