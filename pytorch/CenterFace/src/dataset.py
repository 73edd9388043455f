"""COCO-keypoints WIDER FACE dataset (the reference's FACEHP x MultiPoseDataset)."""
import json
import os

import cv2
import numpy as np
import torch.utils.data as data

from . import augment
from .config import OUTPUT_STRIDE
from .errors import DataError
from .image_io import read_image
from .targets import build_targets
from .transforms import get_affine_transform, normalize_bgr


def malformed(json_path, what, e):
    """The one-line error of a malformed entry of a COCO json (a missing key, a wrong type or value)."""
    why = f"no {e.args[0]!r}" if isinstance(e, KeyError) else str(e)
    return DataError(f"{json_path}: {what} is malformed ({why})")


def load_coco(json_path):
    if not os.path.isfile(json_path):
        raise DataError(f"{json_path}: annotation file not found")
    try:
        with open(json_path) as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{json_path}:{e.lineno}: invalid JSON ({e.msg})") from None
    for key in ("images", "annotations"):
        if key not in coco:
            raise DataError(f"{json_path}: missing top-level key {key!r}")
    return coco


class WiderFaceCOCO(data.Dataset):
    """Items: (image tensor [3,S,S] float32, target dict), S = ``cfg.input_size``, encoded in ``cfg.convention``.

    ``train``: the training set, images with at least one face (as the reference), with the reference augmentation
    unless ``cfg.augment`` is off (``cfg.color_aug``: colour jitter and PCA lighting on top). Otherwise, and for the
    val set, the letterbox (centre, s = max side) without augmentation, as the reference's val loss.
    The random numbers of an item depend only on (``cfg.seed``, epoch, index): resuming reproduces them."""

    def __init__(self, json_path, image_dir, cfg, train=True):
        self.json_path = json_path
        self.image_dir = image_dir
        self.input_size = cfg.input_size
        self.output_size = cfg.input_size // OUTPUT_STRIDE
        self.augment = train and cfg.augment
        self.color_aug = self.augment and cfg.color_aug
        self.input_format = cfg.input_format
        self.convention = cfg.convention
        self.max_objs = cfg.max_objs
        self.seed = cfg.seed
        self.epoch = 0
        coco = load_coco(json_path)
        anns = {}
        for i, a in enumerate(coco["annotations"]):
            try:
                x, y, w, h = [float(v) for v in a["bbox"]]
                kps = np.array(a.get("keypoints", [0] * 15), np.float32).reshape(5, 3)
                anns.setdefault(a["image_id"], []).append((np.array([x, y, x + w, y + h], np.float32), kps))
            except (KeyError, ValueError, TypeError) as e:
                raise malformed(json_path, f"annotation #{i}", e) from None
        self.images = []
        for i, im in enumerate(coco["images"]):
            try:
                image_id, file_name = im["id"], str(im["file_name"])
            except (KeyError, TypeError) as e:
                raise malformed(json_path, f"image #{i}", e) from None
            faces = anns.get(image_id, [])
            if train and not faces:  # the reference trains only on images with >= 1 face
                continue
            self.images.append((file_name, faces))
        if not self.images:
            raise DataError(f"{json_path}: no usable images")

    def __len__(self):
        return len(self.images)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def _rng(self, index):
        return np.random.RandomState((self.seed * 1000003 + self.epoch * 100003 + index) % (2 ** 32))

    def load(self, index, rng):
        """Image and annotations after face sampling and augmentation, before target encoding.
        Returns (input HWC float32 [0,1] BGR, boxes (N,4), landmarks (N,5,3) in output px, lm_allowed (N,))."""
        fname, faces = self.images[index]
        img = read_image(os.path.join(self.image_dir, fname))
        if len(faces) > self.max_objs:  # sampled WITHOUT replacement (the reference samples with replacement)
            faces = [faces[i] for i in rng.choice(len(faces), self.max_objs, replace=False)]
        boxes = np.stack([f[0] for f in faces]).astype(np.float32) if faces else np.zeros((0, 4), np.float32)
        lms = np.stack([f[1] for f in faces]).astype(np.float32) if faces else np.zeros((0, 5, 3), np.float32)
        if self.augment and len(boxes):
            img, boxes, lms = augment.data_anchor_sample(img, boxes, lms, rng)
        lm_allowed = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) > 16
        h, w = img.shape[:2]
        if self.augment:
            c, s = augment.random_crop_center(h, w, rng)
            if rng.random_sample() < 0.5:
                img, boxes, lms, c = augment.hflip(img, boxes, lms, c)
        else:
            c, s = np.array([w / 2.0, h / 2.0], np.float32), float(max(h, w))
        t_in = get_affine_transform(c, s, (self.input_size, self.input_size))
        inp = cv2.warpAffine(img, t_in, (self.input_size, self.input_size), flags=cv2.INTER_LINEAR)
        inp = inp.astype(np.float32) / 255.0
        if self.color_aug:
            augment.color_aug(rng, inp)
        t_out = get_affine_transform(c, s, (self.output_size, self.output_size))
        boxes, lms = augment.warp_annotations(boxes, lms, t_out)
        return inp, boxes, lms, lm_allowed

    def __getitem__(self, index):
        rng = self._rng(index)
        inp, boxes, lms, lm_allowed = self.load(index, rng)
        if self.input_format == "bgr_norm":
            x = normalize_bgr(inp)
        else:  # rgb_raw: the official model's input
            x = inp[:, :, ::-1] * 255.0
        tgt = build_targets(boxes, lms, (self.output_size, self.output_size), self.max_objs, lm_allowed,
                            self.convention)
        return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32), tgt
