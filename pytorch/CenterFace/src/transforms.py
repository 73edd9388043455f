"""Geometry and pre-processing shared by training and inference (CenterNet-style affine helpers)."""
import math

import cv2
import numpy as np

# CenterNet COCO statistics, applied to BGR channels in this order (chenjun2hao convention)
MEAN_BGR = np.array([0.40789654, 0.44719302, 0.47026115], dtype=np.float32)
STD_BGR = np.array([0.28863828, 0.27408164, 0.27809835], dtype=np.float32)


def get_affine_transform(center, scale, output_size, inv=False):
    """Maps the square of side ``scale`` centred at ``center`` onto ``output_size`` (w, h), no rotation.
    Same 3-point construction as CenterNet (the square's centre, and a point half a side above it)."""
    if not isinstance(scale, (list, tuple, np.ndarray)):
        scale = np.array([scale, scale], dtype=np.float32)
    src_w = float(scale[0])
    dst_w, dst_h = output_size
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = np.array(center, np.float32) + np.array([0, -0.5 * src_w], np.float32)
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5], np.float32) + np.array([0, -0.5 * dst_w], np.float32)
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def _third_point(a, b):
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def affine_points(pts, t):
    """Applies a 2x3 affine matrix to an (N, 2) array of points."""
    pts = np.asarray(pts, np.float32).reshape(-1, 2)
    return pts @ t[:, :2].T.astype(np.float32) + t[:, 2].astype(np.float32)


def normalize_bgr(img_float01):
    return (img_float01 - MEAN_BGR) / STD_BGR


def ceil32_size(h, w):
    return int(math.ceil(h / 32) * 32), int(math.ceil(w / 32) * 32)


def preprocess(bgr, input_format, resize, input_size=None):
    """Prepares one uint8 BGR image for the network.

    ``resize``: ``ceil32`` (official demo: stretch each side to the next multiple of 32, aspect NOT kept) or
    ``letterbox`` (reference test: max side to ``input_size``, the config's, centred on a black ``input_size``²
    canvas).
    ``input_format``: ``rgb_raw`` (official: RGB 0-255) or ``bgr_norm`` (BGR /255, CenterNet mean/std).
    Returns (float32 CHW array, meta) where meta maps input-pixel coordinates back to the image."""
    h, w = bgr.shape[:2]
    if resize == "ceil32":
        hn, wn = ceil32_size(h, w)
        img = cv2.resize(bgr, (wn, hn), interpolation=cv2.INTER_LINEAR) if (hn, wn) != (h, w) else bgr
        meta = {"kind": "scale", "scale_w": wn / w, "scale_h": hn / h}
    elif resize == "letterbox":
        if input_size is None:
            raise ValueError("letterbox pre-processing needs the input_size")
        c = np.array([w / 2.0, h / 2.0], np.float32)
        s = float(max(h, w))
        t = get_affine_transform(c, s, (input_size, input_size))
        img = cv2.warpAffine(bgr, t, (input_size, input_size), flags=cv2.INTER_LINEAR)
        meta = {"kind": "affine", "inv": get_affine_transform(c, s, (input_size, input_size), inv=True)}
    else:
        raise ValueError(f"unknown resize mode {resize!r}")
    if input_format == "rgb_raw":
        x = img[:, :, ::-1].astype(np.float32)
    elif input_format == "bgr_norm":
        x = normalize_bgr(img.astype(np.float32) / 255.0)
    else:
        raise ValueError(f"unknown input format {input_format!r}")
    meta["input_hw"] = img.shape[:2]
    meta["image_hw"] = (h, w)
    return np.ascontiguousarray(x.transpose(2, 0, 1)), meta


def to_image_coords(dets, meta):
    """Maps (N, 15) detections [x1 y1 x2 y2 score lx0 ly0 ... lx4 ly4] from input pixels to image pixels."""
    dets = np.array(dets, np.float32, copy=True)
    if len(dets) == 0:
        return dets
    xs = [0, 2] + list(range(5, dets.shape[1], 2))
    ys = [1, 3] + list(range(6, dets.shape[1], 2))
    if meta["kind"] == "scale":
        dets[:, xs] /= meta["scale_w"]
        dets[:, ys] /= meta["scale_h"]
    else:
        t = meta["inv"]
        for xi, yi in zip(xs, ys):
            p = affine_points(np.stack([dets[:, xi], dets[:, yi]], 1), t)
            dets[:, xi], dets[:, yi] = p[:, 0], p[:, 1]
    return dets
