"""Rendering of one synthetic-but-photographic scene: a cluttered background made of real photographs, real
LFW faces pasted at exact, recorded transforms, occluders, and camera effects (noise, JPEG).

Coordinates are continuous pixel coordinates (pixel ``i`` covers ``[i, i + 1)``) everywhere; OpenCV's
pixel-centre convention is converted explicitly where images are warped, so the recorded boxes and landmarks
are exactly where the pixels went.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import assets

SKIN_TONES = np.array([  # RGB multipliers (relative), light to dark
    [1.00, 0.84, 0.72], [1.00, 0.80, 0.66], [0.97, 0.76, 0.62], [0.92, 0.70, 0.55], [0.84, 0.62, 0.47],
    [0.74, 0.53, 0.39], [0.62, 0.43, 0.31], [0.50, 0.35, 0.26]], np.float32)

# WIDER FACE attribute thresholds used to label what was rendered
OCCLUSION_PARTIAL = 0.03   # visible-area loss above this -> occlusion 1 ("partial", WIDER: 1%-30%)
OCCLUSION_HEAVY = 0.30     # above this -> occlusion 2 ("heavy", WIDER: > 30%)
INVALID_OCCLUSION = 0.70   # faces hidden more than this are "invalid" (not recognisable)
MIN_LANDMARK_FACE = 14     # faces lower than this many pixels get no landmarks (-1), like the real labels


@dataclass
class Face:
    lfw_index: int
    flip: bool
    angle: float            # degrees, counter-clockwise in the image
    scale: float            # image pixels per crop pixel (after the exact resize)
    center: np.ndarray      # image position of the crop's face-box centre
    blur: int = 0
    illumination: int = 0
    pose: int = 0
    expression: int = 0
    force_invalid: bool = False
    landmarks_known: bool = True
    # results
    box: np.ndarray = field(default=None)          # x1, y1, x2, y2 (float)
    landmarks: np.ndarray = field(default=None)    # 5 x 2 (float)
    landmark_visible: np.ndarray = field(default=None)
    occlusion_fraction: float = 0.0
    region: tuple = None                            # (y0, x0, mask) of the rendered face ellipse


def crop_geometry(flip: bool):
    """Landmarks (5x2) and face box of a crop, mirrored when flipped (left/right landmark labels swap)."""
    lm = assets.LANDMARKS.copy()
    box = assets.FACE_BOX.copy()
    if flip:
        lm[:, 0] = assets.CROP - lm[:, 0]
        lm = lm[[1, 0, 2, 4, 3]]
        box = np.array([assets.CROP - box[2], box[1], assets.CROP - box[0], box[3]])
    return lm, box


def face_transform(face: Face):
    """2x3 forward affine (continuous coords) crop -> image: p_img = C + s R (p - c)."""
    _, box = crop_geometry(face.flip)
    c = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    t = math.radians(face.angle)
    R = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])  # y down: ccw on screen
    A = face.scale * R
    b = face.center - A @ c
    return np.hstack([A, b[:, None]])


def apply(M, pts):
    pts = np.asarray(pts, np.float64)
    return pts @ M[:, :2].T + M[:, 2]


def face_box_in_image(face: Face) -> np.ndarray:
    """Axis-aligned box of the (possibly rotated) face: the extent of the ellipse inscribed in the crop's
    face box, which for an upright face is exactly that box scaled and moved."""
    _, box = crop_geometry(face.flip)
    a = (box[2] - box[0]) / 2 * face.scale
    b = (box[3] - box[1]) / 2 * face.scale
    t = math.radians(face.angle)
    ex = math.sqrt((a * math.cos(t)) ** 2 + (b * math.sin(t)) ** 2)
    ey = math.sqrt((a * math.sin(t)) ** 2 + (b * math.cos(t)) ** 2)
    cx, cy = face.center
    return np.array([cx - ex, cy - ey, cx + ex, cy + ey])


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def face_alpha(size: int, flip: bool) -> np.ndarray:
    """Soft elliptical matte of a crop rendered at size x size (face box ellipse, feathered, faded at the
    crop border where the LFW crop cuts through forehead and cheeks)."""
    _, box = crop_geometry(flip)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2 + 0.6
    ax, ay = (box[2] - box[0]) / 2 * 1.06, (box[3] - box[1]) / 2 * 1.04
    u = (np.arange(size, dtype=np.float32) + 0.5) * (assets.CROP / size)
    x, y = u[None, :], u[:, None]
    r = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    alpha = _smoothstep((1.08 - r) / 0.22)
    edge = np.minimum(np.minimum(x, assets.CROP - x), np.minimum(y, assets.CROP - y))
    return (alpha * _smoothstep(edge / 1.4)).astype(np.float32)


def colorize(gray: np.ndarray, rng: np.random.Generator, color: bool) -> np.ndarray:
    """Grey LFW crop -> RGB with a skin tone (or neutral grey for black-and-white scenes)."""
    if not color:
        return np.repeat(gray[:, :, None], 3, axis=2)
    tone = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    strength = rng.uniform(0.7, 1.0)
    rgb = gray[:, :, None] * (1 - strength + strength * tone[None, None, :])
    # a little warmth in the highlights so the skin does not look like a sepia print
    return np.clip(rgb * rng.uniform(0.95, 1.15), 0, 1).astype(np.float32)


def render_face(canvas: np.ndarray, owner: np.ndarray, face: Face, face_id: int, rng: np.random.Generator,
                color: bool) -> None:
    """Paste ``face`` into ``canvas`` (float32 RGB, modified in place) and fill its geometry fields."""
    faces, _ = assets.lfw_faces()
    gray = faces[face.lfw_index]
    if face.flip:
        gray = gray[:, ::-1]
    rgb = colorize(np.ascontiguousarray(gray), rng, color)
    if face.illumination:  # extreme illumination: deep shadow or blown-out highlights
        if rng.random() < 0.6:
            rgb = rgb * rng.uniform(0.18, 0.35)
        else:
            rgb = 1 - (1 - rgb) * rng.uniform(0.15, 0.3)
    # exact resize to S x S (continuous coordinates scale by exactly S / 25)
    target = face.scale * assets.CROP
    S = max(3, int(round(target)))
    interp = cv2.INTER_CUBIC if S > assets.CROP else cv2.INTER_AREA
    rgba = np.dstack([np.clip(cv2.resize(rgb, (S, S), interpolation=interp), 0, 1), face_alpha(S, face.flip)])
    face.scale = S / assets.CROP
    M = face_transform(face)                       # crop continuous -> image continuous
    s = face.scale
    A = M[:, :2] / s                               # resized-crop continuous -> image continuous
    corners = apply(np.hstack([A, M[:, 2:]]), [[0, 0], [S, 0], [0, S], [S, S]])
    H, W = canvas.shape[:2]
    x0 = max(0, int(math.floor(corners[:, 0].min())) - 2)
    y0 = max(0, int(math.floor(corners[:, 1].min())) - 2)
    x1 = min(W, int(math.ceil(corners[:, 0].max())) + 2)
    y1 = min(H, int(math.ceil(corners[:, 1].max())) + 2)
    # forward matrix in OpenCV index coordinates of the ROI: i_dst = A (i_src + .5) + b - .5 - origin
    Mi = np.hstack([A, (A @ np.array([0.5, 0.5]) + M[:, 2] - 0.5 - np.array([x0, y0]))[:, None]])
    patch = cv2.warpAffine(rgba, Mi, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=(0, 0, 0, 0))
    h_px = (face_box_in_image(face)[3] - face_box_in_image(face)[1])
    if face.blur:
        sigma = max(0.8, 0.012 * h_px) if face.blur == 1 else max(1.5, 0.035 * h_px)
        if face.force_invalid:
            sigma *= 1.6
        patch = cv2.GaussianBlur(patch, (0, 0), sigma)
    alpha = patch[:, :, 3:4]
    roi = canvas[y0:y1, x0:x1]
    roi[:] = roi * (1 - alpha) + patch[:, :, :3] * alpha
    solid = alpha[:, :, 0] > 0.5
    owner[y0:y1, x0:x1][solid] = face_id
    face.region = (y0, x0, solid)
    lm, _ = crop_geometry(face.flip)
    face.landmarks = apply(M, lm)
    face.box = face_box_in_image(face)


def paste_occluder(canvas, owner, rng, box, side, fraction, source):
    """Cover ``fraction`` of the face box ``box`` from ``side`` with a piece of a real photograph (a sign,
    a shoulder, an object in front of the face), soft edged; marks the covered pixels in ``owner``."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    H, W = canvas.shape[:2]
    pad = 0.25
    if side == "left":
        r = [x1 - pad * w, y1 - pad * h, x1 + fraction * w, y2 + pad * h]
    elif side == "right":
        r = [x2 - fraction * w, y1 - pad * h, x2 + pad * w, y2 + pad * h]
    elif side == "bottom":
        r = [x1 - pad * w, y2 - fraction * h, x2 + pad * w, y2 + pad * h]
    else:
        r = [x1 - pad * w, y1 - pad * h, x2 + pad * w, y1 + fraction * h]
    ox0, oy0 = max(0, int(round(r[0]))), max(0, int(round(r[1])))
    ox1, oy1 = min(W, int(round(r[2]))), min(H, int(round(r[3])))
    if ox1 - ox0 < 2 or oy1 - oy0 < 2:
        return
    src = source
    sh, sw = src.shape[:2]
    cw, ch = min(sw, max(8, int(sw * rng.uniform(0.15, 0.5)))), min(sh, max(8, int(sh * rng.uniform(0.15, 0.5))))
    cx, cy = rng.integers(0, sw - cw + 1), rng.integers(0, sh - ch + 1)
    piece = cv2.resize(src[cy:cy + ch, cx:cx + cw], (ox1 - ox0, oy1 - oy0), interpolation=cv2.INTER_LINEAR)
    piece = piece * rng.uniform(0.6, 1.1)
    a = np.ones(piece.shape[:2], np.float32)
    feather = max(1.0, 0.03 * max(w, h))
    a = cv2.GaussianBlur(a, (0, 0), feather) if min(a.shape) > 4 else a
    # keep the edge that crosses the face crisp-ish, fade the outer edges only
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    a = np.clip(a * 2.0, 0, 1)
    roi = canvas[oy0:oy1, ox0:ox1]
    roi[:] = roi * (1 - a[:, :, None]) + np.clip(piece, 0, 1) * a[:, :, None]
    owner[oy0:oy1, ox0:ox1][a > 0.5] = -2
    del yy, xx


def finish_face(face: Face, owner: np.ndarray, face_id: int) -> None:
    """Measure visibility after everything was drawn."""
    y0, x0, solid = face.region
    sub = owner[y0:y0 + solid.shape[0], x0:x0 + solid.shape[1]]
    n = int(solid.sum())
    face.occlusion_fraction = 0.0 if n == 0 else float(1.0 - (sub[solid] == face_id).mean())
    H, W = owner.shape
    vis = []
    for x, y in face.landmarks:
        ix, iy = min(W - 1, max(0, int(x))), min(H - 1, max(0, int(y)))
        vis.append(bool(owner[iy, ix] == face_id))
    face.landmark_visible = np.array(vis)


# --------------------------------------------------------------------------------------------- background
def random_crop(rng, img, aspect, min_frac=0.35):
    """A random crop of ``img`` with height/width ``aspect``."""
    h, w = img.shape[:2]
    for _ in range(20):
        cw = int(w * rng.uniform(min_frac, 1.0))
        ch = int(round(cw * aspect))
        if 8 <= ch <= h and cw >= 8:
            x = rng.integers(0, w - cw + 1)
            y = rng.integers(0, h - ch + 1)
            return img[y:y + ch, x:x + cw]
    ch = min(h, int(w * aspect))
    cw = min(w, int(ch / aspect))
    return img[:ch, :cw]


def make_background(rng, W, H, n_clutter):
    names = assets.BACKGROUNDS
    base = assets.background(names[rng.integers(len(names))])
    canvas = cv2.resize(random_crop(rng, base, H / W), (W, H), interpolation=cv2.INTER_LINEAR)
    canvas = canvas * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    _, non_faces = assets.lfw_faces()
    for _ in range(n_clutter):
        if rng.random() < 0.3:  # real non-face LFW patches: the hard negatives of the original photos
            g = non_faces[rng.integers(len(non_faces))]
            piece = np.repeat(g[:, :, None], 3, axis=2) * rng.uniform(0.8, 1.2, 3).astype(np.float32)
        else:
            piece = assets.background(names[rng.integers(len(names))])
        pw = int(W * rng.uniform(0.12, 0.5))
        ph = int(pw * rng.uniform(0.5, 1.6))
        ph = min(ph, H - 2)
        piece = cv2.resize(random_crop(rng, piece, ph / pw, 0.2), (pw, ph), interpolation=cv2.INTER_LINEAR)
        px, py = rng.integers(0, W - pw + 1), rng.integers(0, H - ph + 1)
        a = np.zeros((ph, pw), np.float32)
        if rng.random() < 0.5:
            cv2.rectangle(a, (3, 3), (pw - 4, ph - 4), 1.0, -1)
        else:
            cv2.ellipse(a, (pw // 2, ph // 2), (pw // 2 - 3, ph // 2 - 3), 0, 0, 360, 1.0, -1)
        a = cv2.GaussianBlur(a, (0, 0), rng.uniform(1.0, 4.0)) * rng.uniform(0.8, 1.0)
        roi = canvas[py:py + ph, px:px + pw]
        roi[:] = roi * (1 - a[:, :, None]) + piece * a[:, :, None]
    # illumination gradient in a random direction
    t = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    ramp = ((xx / W - 0.5) * math.cos(t) + (yy / H - 0.5) * math.sin(t))
    lo, hi = rng.uniform(0.65, 0.95), rng.uniform(1.0, 1.25)
    canvas = canvas * (lo + (hi - lo) * (ramp + 0.71) / 1.42)[:, :, None]
    return np.clip(canvas, 0, 1).astype(np.float32)


def camera_finish(rng, canvas, grayscale: bool):
    """Sensor noise, optional black-and-white film look; returns uint8 BGR for OpenCV writers."""
    img = canvas
    if grayscale:
        g = img @ np.array([0.299, 0.587, 0.114], np.float32)
        img = np.repeat(g[:, :, None], 3, axis=2)
    sigma = rng.uniform(1.5, 4.5) / 255.0
    noise = rng.standard_normal(img.shape[:2] + (1,), dtype=np.float32) * sigma
    noise = noise + rng.standard_normal(img.shape, dtype=np.float32) * (sigma * 0.5)
    img = np.clip(img + noise, 0, 1)
    out = (img * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(out[:, :, ::-1])
