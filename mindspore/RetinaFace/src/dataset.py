"""WIDER FACE (RetinaFace ``label.txt``) reading and the MindSpore training pipeline.

``label.txt`` (retinaface / biubug6 release format)::

    # 0--Parade/0_Parade_marchingband_1_849.jpg
    449 330 122 149 488.906 373.643 0.0 542.089 376.442 0.0 515.031 412.83 0.0 485.174 425.893 0.0 538.357 431.491 0.0 0.82
    ...

per face ``x y w h`` + 5 landmark triples ``(x, y, flag)`` + one trailing value (20 numbers); ``-1`` in every landmark
field when the face has no landmarks. Lines with only ``x y w h`` (the released ``val/label.txt``) are accepted as
faces without landmarks. Images are ``<label dir>/images/<path>``.
"""
import os

import cv2
import numpy as np

from .augmentation import AugmentationError, Preproc
from .errors import DataError
from .image_io import read_image
from .matching import match
from .prior_box import priors_for


class LabelFormatError(DataError):
    """Malformed ``label.txt`` line; the message is ``file:line: what is wrong``."""


def parse_label_file(label_path, images_dir=None, check_images=False):
    """Parse ``label.txt`` -> list of (image_path, annotations (K, 15) float32).

    Each annotation row is ``x1 y1 x2 y2 lx0 ly0 ... lx4 ly4 flag`` with x2 = x + w, y2 = y + h and flag = -1 when
    the first landmark x is negative (no landmarks) else 1. Boxes with w <= 0 or h <= 0 are dropped, and so are
    images left without boxes (as the reference) -- use :func:`parse_label_entries` to keep them (evaluation).
    """
    return [(p, a) for p, a in parse_label_entries(label_path, images_dir, check_images) if a.shape[0] > 0]


def parse_label_entries(label_path, images_dir=None, check_images=False):
    """Every ``#`` entry of ``label.txt`` in file order, boxes with w/h <= 0 dropped, images without boxes kept."""
    if not os.path.isfile(label_path):
        raise DataError(f"{label_path}: label file not found")
    if images_dir is None:
        images_dir = os.path.join(os.path.dirname(os.path.abspath(label_path)), "images")
    entries = []
    cur_path, cur_rows = None, []

    def flush():
        if cur_path is not None:
            arr = np.asarray(cur_rows, np.float32).reshape(-1, 15)
            entries.append((cur_path, arr))

    with open(label_path, "r", encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                flush()
                rel = line[1:].strip()
                if not rel:
                    raise LabelFormatError(f"{label_path}:{lineno}: '#' line without an image path")
                cur_path = os.path.join(images_dir, rel)
                if check_images and not os.path.isfile(cur_path):
                    raise LabelFormatError(f"{label_path}:{lineno}: image not found: {cur_path}")
                cur_rows = []
                continue
            if cur_path is None:
                raise LabelFormatError(f"{label_path}:{lineno}: face line before the first '# image' line")
            try:
                vals = [float(v) for v in line.split()]
            except ValueError:
                raise LabelFormatError(f"{label_path}:{lineno}: non-numeric value in face line {line!r}") from None
            if len(vals) == 4:
                vals = vals + [-1.0] * 16
            elif len(vals) == 19:
                vals = vals + [0.0]
            elif len(vals) != 20:
                raise LabelFormatError(f"{label_path}:{lineno}: expected 4 or 20 numbers (x y w h, 5 landmark "
                                       f"triples, 1 trailing value), got {len(vals)}")
            x, y, w, h = vals[:4]
            if w <= 0 or h <= 0:
                continue
            lm = [vals[4], vals[5], vals[7], vals[8], vals[10], vals[11], vals[13], vals[14], vals[16], vals[17]]
            flag = -1.0 if vals[4] < 0 else 1.0
            cur_rows.append([x, y, x + w, y + h] + lm + [flag])
    flush()
    return entries


# ----------------------------------------------------------------------------------------------- pipeline pieces
class EpochSampler:
    """Deterministic, resumable, shardable sampler for ``GeneratorDataset``.

    Yields keys ``epoch * N + index`` (the source decodes them) for ``pass_steps * batch_size`` samples per pass
    (``pass_steps`` = steps_per_epoch unless a shorter first pass is needed to reach an epoch boundary).
    The global order is a function of (seed, epoch) only, and training restarted at ``start_step`` continues exactly
    where it stopped (each pass continues the global stream). With ``num_shards`` > 1 the epoch permutation is dealt
    out ``perm[shard_id::num_shards]`` (truncated to equal length), like ``DistributedSampler``.
    """

    def __init__(self, num_samples, batch_size, shuffle=True, seed=1, num_shards=1, shard_id=0, start_step=0,
                 pass_steps=None):
        if num_samples <= 0:
            raise ValueError("the dataset is empty")
        self.n = int(num_samples)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.num_shards = int(num_shards)
        self.shard_id = int(shard_id)
        self.per_shard = self.n // self.num_shards
        self.steps_per_epoch = steps_per_epoch(self.n, self.batch_size, self.num_shards)
        if self.steps_per_epoch == 0:
            raise ValueError(f"{self.n} images over {self.num_shards} shard(s) give less than one batch of "
                             f"{self.batch_size}")
        self.step = int(start_step)
        self.pass_steps = int(pass_steps or self.steps_per_epoch)

    def epoch_indices(self, epoch):
        if self.shuffle:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        else:
            perm = np.arange(self.n)
        return perm[self.shard_id::self.num_shards][:self.per_shard]

    def keys_for_steps(self, first_step, num_steps):
        keys = []
        for s in range(first_step, first_step + num_steps):
            epoch, k = divmod(s, self.steps_per_epoch)
            idx = self.epoch_indices(epoch)[k * self.batch_size:(k + 1) * self.batch_size]
            keys.extend(int(epoch * self.n + i) for i in idx)
        return keys

    def __iter__(self):
        keys = self.keys_for_steps(self.step, self.pass_steps)
        self.step += self.pass_steps
        return iter(keys)

    def __len__(self):
        return self.pass_steps * self.batch_size


class WiderSource:
    """Random-access source: key -> (key, annotations (K, 15))."""

    def __init__(self, entries):
        self.entries = entries

    def __getitem__(self, key):
        _, annot = self.entries[int(key) % len(self.entries)]
        return np.array(key, np.int64), annot

    def __len__(self):
        return len(self.entries)


class ReadImage:
    """map stage 1: key -> BGR uint8 image."""

    def __init__(self, paths):
        self.paths = paths

    def __call__(self, key, annot):
        cv2.setNumThreads(2)
        return read_image(self.paths[int(key) % len(self.paths)]), annot, key


class Augment:
    """map stage 2: augmentation with an RNG seeded by (seed, key) -> identical samples in every worker/run."""

    def __init__(self, image_size, seed=1, mean_bgr=(104.0, 117.0, 123.0), photometric=False, paths=None):
        self.preproc = Preproc(image_size, mean_bgr, photometric)
        self.seed = int(seed)
        self.paths = paths

    def __call__(self, image, annot, key):
        rng = np.random.default_rng([self.seed, 7919, int(key)])
        try:
            return self.preproc(image, annot, rng)
        except AugmentationError as e:
            where = self.paths[int(key) % len(self.paths)] if self.paths else f"sample {int(key)}"
            raise AugmentationError(f"{where}: {e}") from None


class EncodeTargets:
    """map stage 3: match targets to the priors of the training size and encode them."""

    def __init__(self, cfg, image_size):
        self.priors = priors_for(cfg, (image_size, image_size))
        self.variance = cfg["variance"]
        self.threshold = cfg["match_thresh"]

    def __call__(self, image, targets):
        loc, conf, landm = match(self.threshold, targets[:, :4], self.priors, self.variance, targets[:, -1],
                                 targets[:, 4:14])
        return image, loc, conf, landm


def training_entries(data_dir, batch_size, num_shards=1):
    """The training images of ``<data_dir>/label.txt`` (those with a valid box; every listed image must exist);
    a ``DataError`` when they do not fill one batch per device."""
    label_file = os.path.join(data_dir, "label.txt")
    entries = parse_label_file(label_file, check_images=True)
    if len(entries) // num_shards < batch_size:
        raise DataError(f"{label_file}: {len(entries)} image(s) with a valid box, less than one batch of "
                        f"{batch_size} per device on {num_shards} device(s)")
    return entries


def steps_per_epoch(num_images, batch_size, num_shards=1):
    """Full batches per epoch and device (each shard gets ``num_images // num_shards`` images, the rest dropped)."""
    return (int(num_images) // int(num_shards)) // int(batch_size)


def create_dataset(entries, cfg, batch_size=None, image_size=None, shuffle=True, num_shards=1, shard_id=0,
                   num_workers=None, start_step=0, python_multiprocessing=True, pass_steps=None):
    """``GeneratorDataset`` over ``entries`` (:func:`training_entries`) + three parallel ``map`` stages (read,
    augment, match) + ``batch(drop_remainder)``; each pass yields ``pass_steps`` batches (default: an epoch),
    the first pass starting at global step ``start_step``.

    Returns (dataset, sampler). Columns: image (3, S, S) float32, truths (P, 4), conf (P,) int32, landm (P, 10).
    """
    import mindspore.dataset as de

    batch_size = int(batch_size or cfg["batch_size"])
    image_size = int(image_size or cfg["image_size"])
    # MindSpore rejects more map workers than CPU cores
    num_workers = max(1, min(int(num_workers or cfg["num_workers"]), os.cpu_count() or 1))
    sampler = EpochSampler(len(entries), batch_size, shuffle, cfg["seed"], num_shards, shard_id, start_step,
                           pass_steps)
    ds = de.GeneratorDataset(WiderSource(entries), ["key", "annot"], sampler=sampler)
    kw = dict(num_parallel_workers=num_workers, python_multiprocessing=python_multiprocessing)
    paths = [p for p, _ in entries]
    ds = ds.map(operations=ReadImage(paths), input_columns=["key", "annot"],
                output_columns=["image", "annot", "key"], **kw)
    ds = ds.map(operations=Augment(image_size, cfg["seed"], cfg["mean_bgr"], cfg["photometric_distortion"], paths),
                input_columns=["image", "annot", "key"], output_columns=["image", "annot"], **kw)
    ds = ds.map(operations=EncodeTargets(cfg, image_size), input_columns=["image", "annot"],
                output_columns=["image", "truths", "conf", "landm"], **kw)
    ds = ds.project(["image", "truths", "conf", "landm"])
    ds = ds.batch(batch_size, drop_remainder=True)
    # get_dataset_size() runs the sampler (twice) to count rows; do it now (it is cached) and rewind the sampler, so
    # that the training iterator's passes start exactly at ``start_step``
    ds.get_dataset_size()
    sampler.step = int(start_step)
    return ds, sampler
