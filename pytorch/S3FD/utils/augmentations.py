"""S3FD training augmentation (the reference's ``utils/augmentations.preprocess``) and the input normalisation.

``preprocess(img, bbox_labels, mode, cfg, rng)`` takes a PIL RGB image and ``bbox_labels`` rows
``[label, x1, y1, x2, y2]`` normalised by the image size, and returns the network input (CHW float32) and the
surviving rows. Mode ``"train"`` (``cfg.augment``):

1. photometric distortion (PIL), in one of two orders chosen with p 0.5 each: brightness (p 0.5, factor 1 ± 0.125),
   contrast (p 0.5, 1 ± 0.5), saturation (p 0.5, 1 ± 0.5), hue (p 0.5, ± 18 on PIL's 0-255 HSV hue, wrapping);
2. expansion (off: ``apply_expand`` False, as the reference);
3. with p 0.5 data-anchor-sampling (``anchor_crop_image_sampling``), else the SSD samplers (``generate_batch_samples``:
   5 square samplers of scale 1 and U(0.3, 1), 50 trials each, at least one face fully covered) and ``crop_image``;
4. resize to ``resize_width x resize_height`` with a random PIL filter of (bilinear, hamming, nearest, bicubic,
   lanczos) (aspect ratio not kept);
5. horizontal flip with p 0.5.

Mode ``"val"``: step 4 only. Every random number comes from the numpy ``Generator`` ``rng`` (the reference mixes
``numpy.random`` and ``random``; the distributions are the same), so a sample depends only on its seed.

``to_input(image, order, cfg)`` is the one normalisation of the zoo's S3FD, for training and inference alike: pixels
stay 0-255, the mean (104, 117, 123) is subtracted in BGR, and the channels are RGB (``yxlijun``) or BGR (``sfd``).
"""
import math

import cv2
import numpy as np
from PIL import Image, ImageEnhance

PIL_FILTERS = [Image.BILINEAR, Image.HAMMING, Image.NEAREST, Image.BICUBIC, Image.LANCZOS]
CV2_FILTERS = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_NEAREST, cv2.INTER_LANCZOS4]
MAX_SIDE = 12000                 # data-anchor-sampling never scales an image beyond 12000² pixels
DAS_MIN_IOU = 0.7                # a data-anchor-sampling crop is accepted if a face lies inside or IoU > 0.7


# ----------------------------------------------------------------------------------------------- normalisation
def to_input(image, order, cfg):
    """An HxWx3 uint8 ``image`` with channels in ``order`` ("rgb" or "bgr") -> the 3xHxW float32 network input."""
    x = np.asarray(image, dtype=np.float32)
    if order == "rgb":
        x = x[:, :, ::-1]                                   # to BGR, where the mean is subtracted
    x = x - np.asarray(cfg.img_mean, np.float32)
    if cfg.arch["input_order"] == "rgb":
        x = x[:, :, ::-1]
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def to_chw_bgr(image):
    """HWC RGB -> CHW BGR (the reference's helper)."""
    return np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1)[[2, 1, 0]])


# ----------------------------------------------------------------------------------------------- photometric
def random_brightness(img, cfg, rng):
    if rng.uniform(0, 1) < cfg.brightness_prob:
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(-cfg.brightness_delta, cfg.brightness_delta) + 1)
    return img


def random_contrast(img, cfg, rng):
    if rng.uniform(0, 1) < cfg.contrast_prob:
        img = ImageEnhance.Contrast(img).enhance(rng.uniform(-cfg.contrast_delta, cfg.contrast_delta) + 1)
    return img


def random_saturation(img, cfg, rng):
    if rng.uniform(0, 1) < cfg.saturation_prob:
        img = ImageEnhance.Color(img).enhance(rng.uniform(-cfg.saturation_delta, cfg.saturation_delta) + 1)
    return img


def random_hue(img, cfg, rng):
    """Shift PIL's HSV hue (0-255) by U(-hue_delta, hue_delta); the sum is truncated and wraps around 256 as the
    reference's float-to-uint8 assignment does."""
    if rng.uniform(0, 1) < cfg.hue_prob:
        delta = rng.uniform(-cfg.hue_delta, cfg.hue_delta)
        hsv = np.array(img.convert("HSV"))
        hsv[:, :, 0] = np.mod(np.trunc(hsv[:, :, 0] + delta).astype(np.int64), 256).astype(np.uint8)
        img = Image.fromarray(hsv, mode="HSV").convert("RGB")
    return img


def distort_image(img, cfg, rng):
    if rng.uniform(0, 1) > 0.5:
        steps = (random_brightness, random_contrast, random_saturation, random_hue)
    else:
        steps = (random_brightness, random_saturation, random_hue, random_contrast)
    for step in steps:
        img = step(img, cfg, rng)
    return img


# ----------------------------------------------------------------------------------------------- box helpers
class BBox:
    def __init__(self, xmin, ymin, xmax, ymax):
        self.xmin, self.ymin, self.xmax, self.ymax = xmin, ymin, xmax, ymax


def clip_bbox(b):
    return BBox(*(max(min(v, 1.0), 0.0) for v in (b.xmin, b.ymin, b.xmax, b.ymax)))


def bbox_area(b):
    if b.xmax < b.xmin or b.ymax < b.ymin:
        return 0.0
    return (b.xmax - b.xmin) * (b.ymax - b.ymin)


def intersect_bbox(a, b):
    if b.xmin > a.xmax or b.xmax < a.xmin or b.ymin > a.ymax or b.ymax < a.ymin:
        return BBox(0.0, 0.0, 0.0, 0.0)
    return BBox(max(a.xmin, b.xmin), max(a.ymin, b.ymin), min(a.xmax, b.xmax), min(a.ymax, b.ymax))


def bbox_coverage(obj, sample):
    """The fraction of ``obj`` inside ``sample``."""
    inter = bbox_area(intersect_bbox(obj, sample))
    return inter / bbox_area(obj) if inter > 0 else 0.0


def meet_emit_constraint(obj, sample):
    """The box centre lies in the sample (borders included)."""
    cx, cy = (obj.xmax + obj.xmin) / 2, (obj.ymax + obj.ymin) / 2
    return sample.xmin <= cx <= sample.xmax and sample.ymin <= cy <= sample.ymax


def project_bbox(obj, sample):
    """``obj`` in the sample's normalised coordinates, clipped; ``None`` when it does not overlap."""
    if obj.xmin >= sample.xmax or obj.xmax <= sample.xmin or obj.ymin >= sample.ymax or obj.ymax <= sample.ymin:
        return None
    sw, sh = sample.xmax - sample.xmin, sample.ymax - sample.ymin
    proj = clip_bbox(BBox((obj.xmin - sample.xmin) / sw, (obj.ymin - sample.ymin) / sh,
                          (obj.xmax - sample.xmin) / sw, (obj.ymax - sample.ymin) / sh))
    return proj if bbox_area(proj) > 0 else None


def jaccard_numpy(box_a, box_b):
    """IoU of boxes [A, 4] with one box [4] (plain areas)."""
    max_xy = np.minimum(box_a[:, 2:], box_b[2:])
    min_xy = np.maximum(box_a[:, :2], box_b[:2])
    inter = np.clip(max_xy - min_xy, 0, np.inf)
    inter = inter[:, 0] * inter[:, 1]
    area_a = (box_a[:, 2] - box_a[:, 0]) * (box_a[:, 3] - box_a[:, 1])
    area_b = (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])
    return inter / (area_a + area_b - inter)


def expand_image(img, bbox_labels, img_width, img_height, cfg, rng):
    """Zoom out (paste into a mean-filled canvas up to ``expand_max_ratio`` times larger); off by default."""
    if rng.uniform(0, 1) < cfg.expand_prob and cfg.expand_max_ratio - 1 >= 0.01:
        ratio = rng.uniform(1, cfg.expand_max_ratio)
        height, width = int(img_height * ratio), int(img_width * ratio)
        h_off = math.floor(rng.uniform(0, height - img_height))
        w_off = math.floor(rng.uniform(0, width - img_width))
        expand_bbox = BBox(-w_off / img_width, -h_off / img_height,
                           (width - w_off) / img_width, (height - h_off) / img_height)
        canvas = Image.fromarray(np.uint8(np.ones((height, width, 3)) * np.asarray(cfg.img_mean)))
        canvas.paste(img, (int(w_off), int(h_off)))
        return canvas, transform_labels_sampling(bbox_labels, expand_bbox), width, height
    return img, bbox_labels, img_width, img_height


# ----------------------------------------------------------------------------------------------- SSD samplers
class Sampler:
    def __init__(self, max_sample, max_trial, min_scale, max_scale, min_aspect_ratio, max_aspect_ratio,
                 min_jaccard_overlap, max_jaccard_overlap, min_object_coverage, max_object_coverage,
                 use_square=False):
        self.max_sample, self.max_trial = max_sample, max_trial
        self.min_scale, self.max_scale = min_scale, max_scale
        self.min_aspect_ratio, self.max_aspect_ratio = min_aspect_ratio, max_aspect_ratio
        self.min_jaccard_overlap, self.max_jaccard_overlap = min_jaccard_overlap, max_jaccard_overlap
        self.min_object_coverage, self.max_object_coverage = min_object_coverage, max_object_coverage
        self.use_square = use_square


# the reference's five square samplers: one of the whole image, four of scale U(0.3, 1); one face fully covered
SSD_SAMPLERS = [Sampler(1, 50, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, True)] + \
    [Sampler(1, 50, 0.3, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, True) for _ in range(4)]


def generate_sample(sampler, image_width, image_height, rng):
    scale = rng.uniform(sampler.min_scale, sampler.max_scale)
    aspect = rng.uniform(sampler.min_aspect_ratio, sampler.max_aspect_ratio)
    aspect = min(max(aspect, scale ** 2.0), 1 / (scale ** 2.0))
    bw, bh = scale * aspect ** 0.5, scale / aspect ** 0.5
    if sampler.use_square:                      # square in pixels
        if image_height < image_width:
            bw = bh * image_height / image_width
        else:
            bh = bw * image_width / image_height
    xmin, ymin = rng.uniform(0, 1 - bw), rng.uniform(0, 1 - bh)
    return BBox(xmin, ymin, xmin + bw, ymin + bh)


def jaccard_overlap(a, b):
    if a.xmin >= b.xmax or a.xmax <= b.xmin or a.ymin >= b.ymax or a.ymax <= b.ymin:
        return 0.0
    inter = (min(a.xmax, b.xmax) - max(a.xmin, b.xmin)) * (min(a.ymax, b.ymax) - max(a.ymin, b.ymin))
    return inter / (bbox_area(a) + bbox_area(b) - inter)


def satisfy_sample_constraint(sampler, sample, bbox_labels):
    """True when one face meets the sampler's IoU and coverage bounds (a bound of 0 is no bound)."""
    has_jaccard = not (sampler.min_jaccard_overlap == 0 and sampler.max_jaccard_overlap == 0)
    has_coverage = not (sampler.min_object_coverage == 0 and sampler.max_object_coverage == 0)
    if not has_jaccard and not has_coverage:
        return True
    for row in bbox_labels:
        obj = BBox(*row[1:5])
        if has_jaccard:
            ov = jaccard_overlap(sample, obj)
            if sampler.min_jaccard_overlap != 0 and ov < sampler.min_jaccard_overlap:
                continue
            if sampler.max_jaccard_overlap != 0 and ov > sampler.max_jaccard_overlap:
                continue
        if has_coverage:
            cov = bbox_coverage(obj, sample)
            if sampler.min_object_coverage != 0 and cov < sampler.min_object_coverage:
                continue
            if sampler.max_object_coverage != 0 and cov > sampler.max_object_coverage:
                continue
        return True
    return False


def generate_batch_samples(batch_sampler, bbox_labels, image_width, image_height, rng):
    sampled = []
    for sampler in batch_sampler:
        found = 0
        for _ in range(sampler.max_trial):
            if found >= sampler.max_sample:
                break
            sample = generate_sample(sampler, image_width, image_height, rng)
            if satisfy_sample_constraint(sampler, sample, bbox_labels):
                sampled.append(sample)
                found += 1
    return sampled


def transform_labels_sampling(bbox_labels, sample, resize_val=1.0, min_face_size=0.0):
    """Faces whose centre lies in ``sample``, projected into it and clipped; faces smaller than ``min_face_size``²
    px once the sample is scaled to ``resize_val`` are dropped (no minimum by default: the reference's
    ``transform_labels``)."""
    out = []
    for row in bbox_labels:
        obj = BBox(*row[1:5])
        if not meet_emit_constraint(obj, sample):
            continue
        proj = project_bbox(obj, sample)
        if proj is None:
            continue
        real_w, real_h = (proj.xmax - proj.xmin) * resize_val, (proj.ymax - proj.ymin) * resize_val
        if real_w * real_h < float(min_face_size * min_face_size):
            continue
        out.append([row[0], proj.xmin, proj.ymin, proj.xmax, proj.ymax])
    return out


def crop_image(img, bbox_labels, sample, image_width, image_height, resize_width, min_face_size):
    sample = clip_bbox(sample)
    xmin, xmax = int(sample.xmin * image_width), int(sample.xmax * image_width)
    ymin, ymax = int(sample.ymin * image_height), int(sample.ymax * image_height)
    return img[ymin:ymax, xmin:xmax], transform_labels_sampling(bbox_labels, sample, resize_width, min_face_size)


# ----------------------------------------------------------------------------------------------- data-anchor-sampling
def _labels_in(boxes, labels, width, height, cfg):
    """Rows [label, x1, y1, x2, y2] normalised by ``width x height``; with ``filter_min_face`` boxes of area
    <= min_face_size² px are dropped."""
    if cfg.filter_min_face:
        keep = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) > cfg.min_face_size * cfg.min_face_size
        boxes, labels = boxes[keep], labels[keep]
    norm = boxes / np.array([width, height, width, height], np.float64)
    return [[labels[i]] + norm[i].tolist() for i in range(len(boxes))]


def anchor_crop_image_sampling(img, bbox_labels, scale_array, img_width, img_height, cfg, rng):
    """Data-anchor-sampling (PyramidBox): rescale the image so that a random face takes the size of a random anchor
    no larger than the next one above its own (x 2^U(-1, 1)), then crop ``resize_width x resize_height`` around it.

    1. face i at random, side s = sqrt((w + 1)(h + 1)); idx = the anchor nearest to s; target = random choice of
       ``scale_array[0 : min(idx + 1, 5) + 1]``; ratio = target / s * 2^U(-1, 1), capped at 12000² pixels;
    2. cv2 resize by ratio with a random interpolation (linear, cubic, area, nearest, lanczos4);
    3. 50 tries of a crop with face i inside when it fits (else the crop inside the face), accepted when a face lies
       fully inside or one has IoU > 0.7 with it; one accepted crop at random; crops that start left of or above the
       image are padded with (104, 117, 123) in the array's channel order (as the reference);
    4. faces whose centre lies strictly inside the crop are kept, shifted, not clipped; ``filter_min_face`` drops
       those of area <= 6² px; boxes are normalised by the crop's size. Without an accepted crop the whole rescaled
       image is used.
    Returns (HxWx3 image, rows).
    """
    bbox_labels = np.asarray(bbox_labels, np.float64)
    scale = np.array([img_width, img_height, img_width, img_height], np.float64)
    boxes = bbox_labels[:, 1:5] * scale
    labels = bbox_labels[:, 0]

    box_area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    rand_idx = int(rng.integers(len(box_area)))
    rand_side = box_area[rand_idx] ** 0.5
    anchor_idx = int(np.argmin(np.abs(np.asarray(scale_array, np.float64) - rand_side)))
    target_anchor = scale_array[int(rng.integers(min(anchor_idx + 1, 5) + 1))]
    ratio = float(target_anchor) / rand_side * 2 ** rng.uniform(-1, 1)
    if int(img_height * ratio * img_width * ratio) > MAX_SIDE * MAX_SIDE:
        ratio = (MAX_SIDE * MAX_SIDE / (img_height * img_width)) ** 0.5
    interp = CV2_FILTERS[int(rng.integers(len(CV2_FILTERS)))]
    image = cv2.resize(img, None, None, fx=ratio, fy=ratio, interpolation=interp)
    boxes = boxes * ratio
    height, width = image.shape[:2]

    xmin, ymin = boxes[rand_idx, 0], boxes[rand_idx, 1]
    bw = boxes[rand_idx, 2] - boxes[rand_idx, 0] + 1
    bh = boxes[rand_idx, 3] - boxes[rand_idx, 1] + 1
    w, h = cfg.resize_width, cfg.resize_height
    candidates = []
    for _ in range(50):
        if w < max(height, width):
            w_off = rng.uniform(xmin + bw - w, xmin) if bw <= w else rng.uniform(xmin, xmin + bw - w)
            h_off = rng.uniform(ymin + bh - h, ymin) if bh <= h else rng.uniform(ymin, ymin + bh - h)
        else:
            w_off, h_off = rng.uniform(width - w, 0), rng.uniform(height - h, 0)
        w_off, h_off = math.floor(w_off), math.floor(h_off)
        rect = np.array([int(w_off), int(h_off), int(w_off + w), int(h_off + h)])
        inside = (rect[0] <= boxes[:, 0]) & (rect[1] <= boxes[:, 1]) & (rect[2] >= boxes[:, 2]) & \
            (rect[3] >= boxes[:, 3])
        if inside.any() or jaccard_numpy(boxes, rect).max() > DAS_MIN_IOU:
            candidates.append(rect)

    if not candidates:
        return image, _labels_in(boxes, labels, width, height, cfg)

    box = candidates[int(rng.integers(len(candidates)))]
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    keep = (box[0] < centers[:, 0]) & (box[1] < centers[:, 1]) & (box[2] > centers[:, 0]) & \
        (box[3] > centers[:, 1])
    cur = boxes[keep].copy()
    cur_labels = labels[keep]
    cur[:, :2] -= box[:2]
    cur[:, 2:] -= box[:2]
    if box[0] < 0 or box[1] < 0:
        pad_w = width if box[0] >= 0 else width - box[0]
        pad_h = height if box[1] >= 0 else height - box[1]
        canvas = np.empty((pad_h, pad_w, 3), np.float64)
        canvas[:, :, :] = np.asarray(cfg.img_mean, np.float64)
        left, top = max(0, -box[0]), max(0, -box[1])
        canvas[top:, left:, :] = image
        x0, y0 = max(box[0], 0), max(box[1], 0)
        crop = canvas[y0:y0 + (box[3] - box[1]), x0:x0 + (box[2] - box[0])].copy()
    else:
        crop = image[box[1]:box[3], box[0]:box[2]].copy()
    ch, cw = crop.shape[:2]
    return crop, _labels_in(cur, cur_labels, cw, ch, cfg)


# ----------------------------------------------------------------------------------------------- the pipeline
def resize_and_flip(img, labels, mode, cfg, rng):
    """Steps 4 and 5: the random-filter resize to the training size, then (train) the horizontal flip."""
    img = img.resize((cfg.resize_width, cfg.resize_height),
                     resample=PIL_FILTERS[int(rng.integers(len(PIL_FILTERS)))])
    img = np.array(img)
    labels = [list(r) for r in labels]
    if mode == "train" and int(rng.uniform(0, 2)) == 1:
        img = img[:, ::-1, :]
        for r in labels:
            r[1], r[3] = 1 - r[3], 1 - r[1]
    return img, labels


def preprocess(img, bbox_labels, mode, cfg, rng):
    """One training sample; see the module docstring. ``img``: PIL RGB; returns (3xHxW float32, rows)."""
    img_width, img_height = img.size
    labels = [list(r) for r in bbox_labels]
    if mode == "train":
        if cfg.apply_distort:
            img = distort_image(img, cfg, rng)
        if cfg.apply_expand:
            img, labels, img_width, img_height = expand_image(img, labels, img_width, img_height, cfg, rng)
        if rng.uniform(0.0, 1.0) > cfg.data_anchor_sampling_prob and cfg.anchor_sampling and labels:
            arr, labels = anchor_crop_image_sampling(np.array(img), labels, cfg.ANCHOR_SIZES, img_width,
                                                     img_height, cfg, rng)
            img = Image.fromarray(arr.astype(np.uint8))
        else:
            sampled = generate_batch_samples(SSD_SAMPLERS, labels, img_width, img_height, rng)
            arr = np.array(img)
            if sampled:
                sample = sampled[int(rng.uniform(0, len(sampled)))]
                arr, labels = crop_image(arr, labels, sample, img_width, img_height, cfg.resize_width,
                                         cfg.min_face_size)
            img = Image.fromarray(np.ascontiguousarray(arr))
    img, labels = resize_and_flip(img, labels, mode, cfg, rng)
    return to_input(img, "rgb", cfg), labels
