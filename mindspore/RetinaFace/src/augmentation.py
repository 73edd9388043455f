"""Training augmentation of the MindSpore reference (``augmemtation.py`` ``preproc``), with an explicit RNG.

Order of operations (section 1.8 of the spec):
  1. flip = U(0,1) < 0.5 (decided first);
  2. up to 250 square-crop trials: scale = 1 with probability 0.2 else U(0.3, 1); side = int(scale * min(W, H));
     random top-left; a trial is a candidate when at least one GT box lies fully inside it (IoF >= 1); stop at 3
     candidates (the full image is candidate 0);
  3. a random non-default candidate is tried first (the full image only when no crop was found); boxes and landmarks
     are shifted and scaled to the output size, flipped (x -> S - x, landmark pairs 0<->1 and 3<->4 swapped), boxes
     whose centre is outside [0, S] are dropped, boxes are clipped to [0, S], boxes with w <= 1 or h <= 1 px are
     dropped; landmarks are not clipped; if nothing survives the next candidate is tried;
  4. the crop (or the full image padded to a square with the mean at the bottom/right) is resized with a random
     interpolation out of {LINEAR, CUBIC, AREA, NEAREST, LANCZOS4}, flipped, converted to float32 BGR minus
     (104, 117, 123) and HWC -> CHW.
Optional (``photometric=True``): the PyTorch original's photometric distortion, applied to the crop. The MindSpore
reference defines it but never calls it, so it is off by default.
"""
import cv2
import numpy as np

from .errors import DataError

INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_NEAREST, cv2.INTER_LANCZOS4)


class AugmentationError(DataError):
    """A training image whose boxes no crop can keep (the message names the image)."""


def matrix_iof(boxes, roi):
    """Intersection over the area of each box (boxes (N,4), roi (M,4)) -> (N, M)."""
    tl = np.maximum(boxes[:, None, :2], roi[None, :, :2])
    br = np.minimum(boxes[:, None, 2:], roi[None, :, 2:])
    area_i = np.prod(br - tl, axis=2) * (tl < br).all(axis=2)
    area_a = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return area_i / np.maximum(area_a[:, None], 1)


def choose_candidates(rng, image_w, image_h, boxes, max_trial=250):
    """Crop candidates (x, y, w, h); candidate 0 is the full image."""
    if boxes.shape[0] == 0:
        raise AugmentationError("image has no annotated box")
    candidates = [(0, 0, image_w, image_h)]
    for _ in range(max_trial):
        scale = rng.uniform(0.3, 1.0) if rng.uniform() > 0.2 else 1.0
        side = int(scale * min(image_w, image_h))
        dx = int(rng.uniform(0, image_w - side))
        dy = int(rng.uniform(0, image_h - side))
        roi = np.array([[dx, dy, dx + side, dy + side]], np.float64)
        if not np.any(matrix_iof(boxes, roi) >= 1.0):
            continue
        candidates.append((dx, dy, side, side))
        if len(candidates) >= 3:
            break
    return candidates


def transform_targets(candidate, size, flip, boxes, landms, labels):
    """Apply one crop candidate (and the flip) to the targets; returns (boxes, landms (K,5,2), labels) in pixels of
    the ``size`` x ``size`` output, or None when no box survives."""
    dx, dy, nw, nh = candidate
    scale = float(size) / float(max(nw, nh))
    b = boxes.astype(np.float64).copy()
    lm = landms.astype(np.float64).reshape(-1, 5, 2).copy()
    b[:, [0, 2]] = (b[:, [0, 2]] - dx) * scale
    b[:, [1, 3]] = (b[:, [1, 3]] - dy) * scale
    lm[:, :, 0] = (lm[:, :, 0] - dx) * scale
    lm[:, :, 1] = (lm[:, :, 1] - dy) * scale
    if flip:
        b[:, [0, 2]] = size - b[:, [2, 0]]
        lm[:, :, 0] = size - lm[:, :, 0]
        lm = lm[:, [1, 0, 2, 4, 3], :]
    cx = (b[:, 0] + b[:, 2]) / 2.0
    cy = (b[:, 1] + b[:, 3]) / 2.0
    keep = (cx >= 0) & (cy >= 0) & (cx <= size) & (cy <= size)
    b, lm, lab = b[keep], lm[keep], labels[keep]
    b[:, :2] = np.maximum(b[:, :2], 0)
    b[:, 2:] = np.minimum(b[:, 2:], size)
    keep = ((b[:, 2] - b[:, 0]) > 1) & ((b[:, 3] - b[:, 1]) > 1)
    b, lm, lab = b[keep], lm[keep], lab[keep]
    if b.shape[0] == 0:
        return None
    return b, lm, lab


def _convert(image, alpha=1.0, beta=0.0):
    tmp = image.astype(np.float64) * alpha + beta
    image[:] = np.clip(tmp, 0, 255)


def photometric_distortion(image, rng):
    """The PyTorch original's ``_distort``: brightness +-32, contrast and saturation x[0.5, 1.5], hue +-18, each with
    p = 0.5, contrast before or after the HSV part (p = 0.5). ``image`` is uint8 BGR."""
    image = image.copy()
    contrast_first = rng.integers(2) == 1
    if rng.integers(2):
        _convert(image, beta=rng.uniform(-32, 32))
    if contrast_first and rng.integers(2):
        _convert(image, alpha=rng.uniform(0.5, 1.5))
    image = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    if rng.integers(2):
        _convert(image[:, :, 1], alpha=rng.uniform(0.5, 1.5))
    if rng.integers(2):
        tmp = image[:, :, 0].astype(int) + int(rng.integers(-18, 19))
        image[:, :, 0] = tmp % 180
    image = cv2.cvtColor(image, cv2.COLOR_HSV2BGR)
    if not contrast_first and rng.integers(2):
        _convert(image, alpha=rng.uniform(0.5, 1.5))
    return image


class Preproc:
    """``Preproc(840)(image_uint8_bgr, targets (K, 15), rng) -> (CHW float32 image, (K', 15) normalised targets)``.

    targets rows: x1 y1 x2 y2, 10 landmark coordinates, label (1 with landmarks, -1 without).
    """

    def __init__(self, image_dim, mean_bgr=(104.0, 117.0, 123.0), photometric=False, max_trial=250):
        self.size = int(image_dim)
        self.mean = np.asarray(mean_bgr, np.float32)
        self.photometric = bool(photometric)
        self.max_trial = int(max_trial)

    def __call__(self, image, targets, rng=None):
        if rng is None:
            rng = np.random.default_rng()
        targets = np.asarray(targets, np.float64)
        if targets.ndim != 2 or targets.shape[0] == 0 or targets.shape[1] != 15:
            raise AugmentationError(f"targets must be (K>0, 15), got {targets.shape}")
        boxes, landms, labels = targets[:, :4], targets[:, 4:14], targets[:, 14]
        h, w = image.shape[:2]
        flip = rng.uniform() < 0.5
        candidates = choose_candidates(rng, w, h, boxes, self.max_trial)
        result = None
        while candidates:
            pick = int(rng.integers(1, len(candidates))) if len(candidates) > 1 else 0
            candidate = candidates.pop(pick)
            result = transform_targets(candidate, self.size, flip, boxes, landms, labels)
            if result is not None:
                break
        if result is None:
            raise AugmentationError("no crop candidate keeps a valid box")
        b, lm, lab = result
        dx, dy, nw, nh = candidate
        image = image[dy:dy + nh, dx:dx + nw]
        if self.photometric:
            image = photometric_distortion(image, rng)
        if nw != nh:                                       # full image, not square: pad bottom/right with the mean
            side = max(nw, nh)
            canvas = np.empty((side, side, 3), image.dtype)
            canvas[:, :] = self.mean.round().astype(image.dtype)
            canvas[:nh, :nw] = image
            image = canvas
        interp = INTERPOLATIONS[int(rng.integers(0, 5))]
        image = cv2.resize(image, (self.size, self.size), interpolation=interp)
        if flip:
            image = image[:, ::-1]
        image = image.astype(np.float32) - self.mean
        image = np.ascontiguousarray(image.transpose(2, 0, 1))
        b = b / self.size
        lm = (lm / self.size).reshape(-1, 10)
        out = np.hstack((b, lm, lab[:, None])).astype(np.float32)
        return image, out
