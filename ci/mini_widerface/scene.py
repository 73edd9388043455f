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


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    return (SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.95, 1.05, 3)).astype(np.float32)


def colorize(gray: np.ndarray, rng: np.random.Generator, tone) -> np.ndarray:
    """Grey LFW crop -> RGB with a skin tone (``tone`` None: neutral grey, for black-and-white scenes)."""
    if tone is None:
        return np.repeat(gray[:, :, None], 3, axis=2)
    strength = rng.uniform(0.7, 1.0)
    rgb = gray[:, :, None] * (1 - strength + strength * tone[None, None, :])
    # a little warmth in the highlights so the skin does not look like a sepia print
    return np.clip(rgb * rng.uniform(0.95, 1.15), 0, 1).astype(np.float32)


def render_face(canvas: np.ndarray, owner: np.ndarray, face: Face, face_id: int, rng: np.random.Generator,
                tone) -> None:
    """Paste ``face`` into ``canvas`` (float32 RGB, modified in place) and fill its geometry fields."""
    faces, _ = assets.lfw_faces()
    gray = faces[face.lfw_index]
    if face.flip:
        gray = gray[:, ::-1]
    rgb = colorize(np.ascontiguousarray(gray), rng, tone)
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
    """Cover ``fraction`` of the face box ``box`` from ``side`` with a placard (a framed piece of a real
    photograph, held in front of the face as in WIDER's parade and demonstration pictures), with a drop
    shadow; the covered pixels get owner -2."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    H, W = canvas.shape[:2]
    pad = rng.uniform(0.2, 0.6)
    if side == "left":
        r = [x1 - pad * w, y1 - 0.3 * h, x1 + fraction * w, y2 + pad * h]
    elif side == "right":
        r = [x2 - fraction * w, y1 - 0.3 * h, x2 + pad * w, y2 + pad * h]
    elif side == "bottom":
        r = [x1 - pad * w, y2 - fraction * h, x2 + pad * w, y2 + 1.5 * pad * h]
    else:
        r = [x1 - pad * w, y1 - pad * h, x2 + pad * w, y1 + fraction * h]
    ox0, oy0 = max(0, int(round(r[0]))), max(0, int(round(r[1])))
    ox1, oy1 = min(W, int(round(r[2]))), min(H, int(round(r[3])))
    if ox1 - ox0 < 2 or oy1 - oy0 < 2:
        return
    piece = cv2.resize(random_crop(rng, source, (oy1 - oy0) / (ox1 - ox0), 0.3), (ox1 - ox0, oy1 - oy0),
                       interpolation=cv2.INTER_AREA) * rng.uniform(0.75, 1.05)
    bw = max(1, int(round(0.04 * min(w, h))))
    if rng.random() < 0.7 and min(piece.shape[:2]) > 2 * bw + 2:
        piece[:bw], piece[-bw:], piece[:, :bw], piece[:, -bw:] = [rng.choice([0.1, 0.9])] * 4
    off = max(1, int(round(0.05 * w)))
    sx0, sy0 = max(0, ox0 - 2 * off), max(0, oy0 - 2 * off)
    sx1, sy1 = min(W, ox1 + 3 * off), min(H, oy1 + 3 * off)
    sh = np.zeros((sy1 - sy0, sx1 - sx0), np.float32)
    sh[max(0, oy0 + off - sy0):oy1 + off - sy0, max(0, ox0 + off - sx0):ox1 + off - sx0] = 1.0
    sh = cv2.GaussianBlur(sh, (0, 0), max(1.0, off)) * rng.uniform(0.3, 0.5)
    canvas[sy0:sy1, sx0:sx1] *= (1 - sh)[:, :, None]
    canvas[oy0:oy1, ox0:ox1] = np.clip(piece, 0, 1)
    owner[oy0:oy1, ox0:ox1] = -2


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


# natural colours for the grey photographs (a lawn is green, bricks are red, ...): RGB gain, strength drawn
GREY_TINTS = {"grass.png": (0.72, 0.95, 0.55), "gravel.png": (1.0, 0.92, 0.78), "brick.png": (1.0, 0.72, 0.6),
              "moon.png": (0.95, 0.95, 0.92), "text.png": (0.9, 0.95, 0.9), "page.png": (1.0, 0.98, 0.92),
              "clock_motion.png": (1.0, 0.97, 0.9)}


def texture_fill(rng, name, W, H, zoom):
    """Fill W x H with one crop of a photograph at ``zoom`` or more (grey photographs get a natural tint)."""
    img = assets.background(name)
    if name in GREY_TINTS:
        k = rng.uniform(0.3, 1.0)
        img = img * (1 - k + k * np.array(GREY_TINTS[name], np.float32))
    if rng.random() < 0.5:
        img = img[:, ::-1]
    h, w = img.shape[:2]
    zoom = max(zoom, W / w, H / h)       # one crop of the photograph, never a tiling (no mirror patterns)
    tw, th = min(w, max(1, int(round(W / zoom)))), min(h, max(1, int(round(H / zoom))))
    y = rng.integers(0, img.shape[0] - th + 1)
    x = rng.integers(0, img.shape[1] - tw + 1)
    return cv2.resize(img[y:y + th, x:x + tw], (W, H), interpolation=cv2.INTER_LINEAR)


def _soft_poly_alpha(shape, pts, blur):
    """Anti-aliased polygon matte (float32 in [0, 1]) of ``shape``; ``pts`` in continuous coordinates."""
    SUB = 4
    m = np.zeros((shape[0] * SUB, shape[1] * SUB), np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(pts) * SUB - 0.5).astype(np.int32)], 255)
    a = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return cv2.GaussianBlur(a, (0, 0), blur) if blur > 0.3 else a


def make_background(rng, W, H, n_prints):
    """A cluttered backdrop made of real photographs: a scene, or a wall above a ground with a soft horizon,
    then a few photographs hung or held in the scene (posters, signs) with borders and drop shadows."""
    if rng.random() < 0.35:
        canvas = texture_fill(rng, assets.SCENES[rng.integers(len(assets.SCENES))], W, H, rng.uniform(1.2, 2.2))
    else:
        wall = texture_fill(rng, assets.WALLS[rng.integers(len(assets.WALLS))], W, H, rng.uniform(0.8, 2.0))
        ground = texture_fill(rng, assets.GROUNDS[rng.integers(len(assets.GROUNDS))], W, H, rng.uniform(0.8, 1.8))
        wall = wall * (rng.uniform(0.75, 1.15) * rng.uniform(0.93, 1.07, 3)).astype(np.float32)
        ground = ground * (rng.uniform(0.7, 1.1) * rng.uniform(0.93, 1.07, 3)).astype(np.float32)
        horizon = rng.uniform(0.45, 0.8) * H
        xs = np.arange(W, dtype=np.float32)
        wave = horizon + rng.uniform(0, 0.03 * H) * np.sin(xs / W * rng.uniform(2, 9) + rng.uniform(0, 6.3))
        ys = np.arange(H, dtype=np.float32)[:, None]
        a = _smoothstep((ys - wave[None, :]) / rng.uniform(4, 25) + 0.5)
        canvas = wall * (1 - a[:, :, None]) + ground * a[:, :, None]
    for _ in range(n_prints):
        src = assets.background(assets.PRINTS[rng.integers(len(assets.PRINTS))])
        pw = int(W * rng.uniform(0.08, 0.25))
        ph = max(8, min(H - 12, int(pw * rng.uniform(0.6, 1.4))))
        piece = cv2.resize(random_crop(rng, src, ph / pw, 0.6), (pw, ph), interpolation=cv2.INTER_AREA)
        border = int(rng.integers(0, 5))
        if border:
            frame = np.full((ph + 2 * border, pw + 2 * border, 3), rng.choice([0.08, 0.92]), np.float32)
            frame[border:-border, border:-border] = piece
            piece = frame
        ph, pw = piece.shape[:2]
        px, py = int(rng.integers(0, max(1, W - pw))), int(rng.integers(0, max(1, H - ph)))
        ph, pw = min(ph, H - py), min(pw, W - px)
        # drop shadow, then the print
        off = int(rng.integers(2, 7))
        sx0, sy0, sx1, sy1 = max(0, px - 12), max(0, py - 12), min(W, px + pw + off + 12), min(H, py + ph + off + 12)
        sh = np.zeros((sy1 - sy0, sx1 - sx0), np.float32)
        sh[py + off - sy0:py + ph + off - sy0, px + off - sx0:px + pw + off - sx0] = 1.0
        sh = cv2.GaussianBlur(sh, (0, 0), 4.0) * rng.uniform(0.25, 0.5)
        canvas[sy0:sy1, sx0:sx1] *= (1 - sh)[:, :, None]
        canvas[py:py + ph, px:px + pw] = piece[:ph, :pw] * rng.uniform(0.8, 1.1)
    return np.clip(canvas, 0, 1).astype(np.float32)


CLOTHES = np.array([[0.08, 0.08, 0.1], [0.13, 0.14, 0.2], [0.75, 0.75, 0.72], [0.45, 0.12, 0.12], [0.12, 0.2, 0.38],
                    [0.28, 0.29, 0.28], [0.45, 0.38, 0.27], [0.18, 0.3, 0.2], [0.55, 0.52, 0.48], [0.3, 0.2, 0.15],
                    [0.05, 0.05, 0.05], [0.2, 0.22, 0.3]], np.float32)
HAIR = np.array([[0.05, 0.04, 0.04], [0.12, 0.08, 0.06], [0.25, 0.17, 0.1], [0.45, 0.35, 0.2],
                 [0.55, 0.55, 0.55], [0.1, 0.1, 0.1]], np.float32)


def draw_person(canvas, owner, face: Face, rng, tone, grain_src):
    """Shoulders, neck and hair behind a face (drawn before the face).  Pixels get owner -3 (a body), so a
    nearer person's body hiding a farther face is measured as occlusion of that face."""
    H, W = canvas.shape[:2]
    M = face_transform(face)
    s = face.scale
    fw, fh = 18.9 * s, 24.6 * s
    chin = apply(M, [[11.05, 24.0]])[0]
    cx = chin[0]
    top = chin[1] + 0.12 * fh
    bottom = top + rng.uniform(1.4, 2.2) * fh   # a bust: the chest fades out below ...
    fade = 0.6 * fh
    if bottom > H:                               # ... unless the frame cuts it
        bottom, fade = H + 2.0, 0.0
    sw = rng.uniform(1.3, 1.6) * fw   # half shoulder width
    # neckline, rounded shoulders (sampled arc), upper arms down to the bottom
    arc = [(cx + k * (0.3 * fw + (sw - 0.3 * fw) * math.sin(u)), top + 0.05 * fh + 0.45 * fh * (1 - math.cos(u)))
           for k in (1,) for u in np.linspace(0, math.pi / 2, 7)]
    right = arc + [(cx + sw * 1.05, bottom)]
    left = [(2 * cx - x, y) for x, y in reversed(right)]
    body = np.array([(cx, top + 0.12 * fh)] + right + left)
    neck = np.array([[cx - 0.24 * fw, chin[1] - 0.35 * fh], [cx + 0.24 * fw, chin[1] - 0.35 * fh],
                     [cx + 0.26 * fw, top + 0.1 * fh], [cx - 0.26 * fw, top + 0.1 * fh]])
    hc = apply(M, [[11.05, 8.5]])[0]
    hair_axes = (11.6 * s * rng.uniform(0.95, 1.1), 11.2 * s * rng.uniform(0.95, 1.15))
    x0 = max(0, int(min(body[:, 0].min(), hc[0] - hair_axes[0] * 1.2)) - 2)
    x1 = min(W, int(max(body[:, 0].max(), hc[0] + hair_axes[0] * 1.2)) + 3)
    y0 = max(0, int(hc[1] - max(hair_axes) * 1.2) - 2)
    y1 = min(H, int(bottom) + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    roi = canvas[y0:y1, x0:x1]
    shp = roi.shape[:2]
    o = np.array([x0, y0])
    yy = np.arange(shp[0], dtype=np.float32)[:, None, None]
    # grain: luminance texture of a photograph, low contrast, so fabrics and hair are not flat
    g = texture_fill(rng, grain_src, shp[1], shp[0], rng.uniform(0.5, 1.5)).mean(axis=2, keepdims=True)
    g = 1 + (cv2.GaussianBlur(g, (0, 0), 1.0)[:, :, None] - g.mean()) * rng.uniform(0.15, 0.35)
    cloth = CLOTHES[rng.integers(len(CLOTHES))] * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    xx = (np.arange(shp[1], dtype=np.float32)[None, :, None] + x0 - cx) / sw
    shade = (1.05 - 0.25 * np.clip((yy + y0 - top) / (4.0 * fh), 0, 1)) * (1 - 0.35 * np.minimum(xx * xx, 1.2))
    # arms: a fold line down each side of the torso
    arm = 1 - 0.25 * np.exp(-((np.abs(xx) - 0.8) / 0.05) ** 2) * (yy + y0 > top + 0.5 * fh)
    shade = shade * arm
    a = _soft_poly_alpha(shp, body - o, max(0.5, 0.01 * fh))
    if fade > 0:
        a = a * np.clip((bottom - (yy[:, :, 0] + y0)) / fade, 0, 1)   # soft fade-out of the chest
    roi[:] = roi * (1 - a[:, :, None]) + np.clip(cloth * g * shade, 0, 1) * a[:, :, None]
    owner[y0:y1, x0:x1][a > 0.5] = -3
    skin = (tone if tone is not None else np.full(3, 0.8, np.float32)) * rng.uniform(0.45, 0.6)
    a = _soft_poly_alpha(shp, neck - o, max(0.5, 0.03 * fh))
    under_chin = 0.65 + 0.35 * np.clip((yy + y0 - chin[1]) / (0.3 * fh), 0, 1)   # shadow under the jaw
    across = (np.arange(shp[1], dtype=np.float32)[None, :, None] + x0 - cx) / (0.26 * fw)
    neck_shade = under_chin * (1 - 0.5 * np.minimum(across * across, 1))
    roi[:] = roi * (1 - a[:, :, None]) + np.clip(skin * neck_shade * (0.9 + 0.1 * g), 0, 1) * a[:, :, None]
    owner[y0:y1, x0:x1][a > 0.5] = -3
    if rng.random() < 0.9:  # hair / head outline (some people are bald or wear nothing on the head)
        m = np.zeros((shp[0] * 2, shp[1] * 2), np.uint8)
        cv2.ellipse(m, (int(round((hc[0] - x0) * 2)), int(round((hc[1] - y0) * 2))),
                    (max(1, int(hair_axes[0] * 2)), max(1, int(hair_axes[1] * 2))), -face.angle, 0, 360, 255, -1)
        a = cv2.resize(m, (shp[1], shp[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        a = cv2.GaussianBlur(a, (0, 0), max(0.6, 0.04 * fh))
        hair = HAIR[rng.integers(len(HAIR))] * rng.uniform(0.8, 1.2)
        g2 = 1 + (g - 1) * 1.8
        roi[:] = roi * (1 - a[:, :, None]) + np.clip(hair * g2, 0, 1) * a[:, :, None]
        owner[y0:y1, x0:x1][a > 0.5] = -3


def camera_finish(rng, canvas, grayscale: bool):
    """Sensor noise, optional black-and-white film look; returns uint8 BGR for OpenCV writers."""
    H, W = canvas.shape[:2]
    t = rng.uniform(0, 2 * math.pi)
    lo, hi = rng.uniform(0.7, 0.95), rng.uniform(1.0, 1.2)
    xs = (np.arange(W, dtype=np.float32) / W - 0.5) * math.cos(t)
    ys = (np.arange(H, dtype=np.float32) / H - 0.5) * math.sin(t)
    gain = lo + (hi - lo) * (ys[:, None] + xs[None, :] + 0.71) / 1.42   # light falling off across the scene
    wb = rng.uniform(0.92, 1.08, 3).astype(np.float32)                  # white balance of the "camera"
    img = canvas * gain[:, :, None] * wb
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.35, 0.6))        # lens softness, hides paste seams
    if grayscale:
        g = img @ np.array([0.299, 0.587, 0.114], np.float32)
        img = np.repeat(g[:, :, None], 3, axis=2)
    sigma = rng.uniform(1.5, 4.5)
    img = img * 255.0 + 0.5
    # sensor noise: a 192 x 192 tile of Gaussian noise, tiled from a random offset (cheap, and its period is
    # invisible under the JPEG compression that follows)
    T = 192
    tile = rng.standard_normal((T, T, 3), dtype=np.float32) * np.float32(sigma)
    oy, ox = int(rng.integers(T)), int(rng.integers(T))
    reps = (-(-(H + oy) // T), -(-(W + ox) // T), 1)
    img += np.tile(tile, reps)[oy:oy + H, ox:ox + W]
    out = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out[:, :, ::-1])
