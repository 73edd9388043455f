"""Generation of the mini WIDER FACE: plan (names, layouts), rendering, and writing of every official file."""
from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import time

import cv2
import numpy as np

from . import assets, formats, scene

# (event folder, image stem prefix) in the style of the real WIDER FACE names
EVENTS = [("0--Parade", "0_Parade_marchingband_1_"), ("0--Parade", "0_Parade_Parade_0_"),
          ("1--Handshaking", "1_Handshaking_Handshaking_1_"), ("2--Demonstration", "2_Demonstration_Protesters_2_"),
          ("4--Dancing", "4_Dancing_Dancing_4_"), ("12--Group", "12_Group_Group_12_Group_Group_12_"),
          ("13--Interview", "13_Interview_Interview_On_Location_13_"),
          ("20--Family_Group", "20_Family_Group_Family_Group_20_")]

# WIDER FACE easy/medium/hard by face height, measured on the real val ground truth
# (../shared/data/widerface_val_gt): of the valid faces, 0 % below 10 px are kept in any setting, 94-100 %
# from 10 px on are kept in hard, 96-100 % from 30 px on in medium, 97-100 % from 50 px on in easy; invalid
# faces are kept in none.  We use the thresholds as exact rules.
SETTING_MIN_HEIGHT = {"hard": 10, "medium": 30, "easy": 50}
ZERO_FACE_IMAGES = 2          # per split, 1 per 10 images at most (the official files contain images without faces)
JPEG_QUALITY = (82, 95)
META_NAME = "mini_widerface_meta.json"


def _round(v, nd=3):
    return [round(float(x), nd) for x in v]


def settings_of(h_int, invalid):
    if invalid:
        return []
    return [s for s in formats.SETTINGS if h_int >= SETTING_MIN_HEIGHT[s]]


def int_box(box):
    """Continuous [x1, y1, x2, y2] -> WIDER integer x, y, w, h (corners rounded half up)."""
    r = [int(math.floor(v + 0.5)) for v in box]
    return [r[0], r[1], r[2] - r[0], r[3] - r[1]]


def quality_value(h, blur, occ_frac, illum):
    """The trailing value of a RetinaFace label line: a blur-like clarity score in (0, 1), rising with face
    size, falling with blur, occlusion and extreme light (the released labels show ~0.2 on tiny faces and
    ~0.9 on large clear ones).  Faces without attributes carry -1.0 there (insightface's loader counts them
    as "non attr" boxes and substitutes 0.3); we write -1.0 for the invalid faces."""
    size = min(1.0, max(0.05, math.log(max(h, 6.0) / 6.0) / math.log(200.0 / 6.0)))
    q = size * (1 - 0.3 * blur) * (1 - 0.5 * occ_frac) * (0.8 if illum else 1.0)
    return round(min(0.99, max(0.05, 0.1 + 0.85 * q)), 2)


# --------------------------------------------------------------------------------------------- layout
def _layout(rng, W, H):
    """(mode, [(face height, centre x, centre y), ...]) for one image, nearest (largest) first.  Crowds and
    groups stand in rows in perspective (farther rows higher and smaller), as in WIDER's event photos."""
    mode = str(rng.choice(["crowd", "group", "portrait", "mixed"], p=[0.3, 0.3, 0.15, 0.25]))
    slots = []

    def rows(y0, h_far, growth, gap, keep, cap, y_max=0.92):
        """Rows from far (top, small) to near (bottom, large), each about 1.1-1.8 face heights below the
        previous one so the nearer heads hide the shoulders of the row behind; the faces are spread over
        the rows and across the width."""
        lines, y, h = [], y0 * H, h_far
        while y < y_max * H:
            lines.append((y, h))
            y += h * rng.uniform(1.1, 1.8)
            h *= growth
        if not lines:
            return
        per_row = max(1, -(-cap // len(lines)))
        for y, h in lines:
            step = max(h * gap * rng.uniform(0.9, 1.2), W / (per_row / keep + 0.5))
            x, n = rng.uniform(0.1, 1.0) * step, 0
            while x < W and n < per_row:
                if rng.random() < keep:
                    hh = h * rng.uniform(0.85, 1.15)
                    slots.append((hh, x + rng.normal(0, 0.1 * step), y + rng.normal(0, 0.12 * hh)))
                    n += 1
                x += step * rng.uniform(0.85, 1.3)

    if mode == "crowd":
        rows(rng.uniform(0.05, 0.3), rng.uniform(7, 13), rng.uniform(1.2, 1.5), rng.uniform(1.3, 2.2),
             rng.uniform(0.6, 0.95), int(rng.integers(12, 32)))
    elif mode == "group":
        base = math.exp(rng.uniform(math.log(22), math.log(110)))
        rows(rng.uniform(0.15, 0.45), base, rng.uniform(1.05, 1.25), rng.uniform(1.5, 2.6), 0.9,
             int(rng.integers(3, 9)), 0.8)
    elif mode == "portrait":
        n = int(rng.integers(1, 4))
        for k in range(n):
            h = min(0.6 * H, math.exp(rng.uniform(math.log(90), math.log(310))))
            slots.append((h, (k + 0.5 + rng.normal(0, 0.15)) * W / n, rng.uniform(0.25, 0.5) * H))
    else:
        rows(rng.uniform(0.05, 0.2), rng.uniform(7, 12), rng.uniform(1.15, 1.4), rng.uniform(1.4, 2.4), 0.7,
             int(rng.integers(4, 14)), 0.5)
        for _ in range(int(rng.integers(1, 3))):
            h = min(0.55 * H, math.exp(rng.uniform(math.log(60), math.log(220))))
            slots.append((h, rng.uniform(0.15, 0.85) * W, rng.uniform(0.4, 0.65) * H))
    slots.sort(key=lambda s: -s[0])
    return mode, slots


def _head_box(box):
    """Face box grown by the hair around it (used to keep heads apart when placing faces)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    return [x1 - 0.15 * w, y1 - 0.2 * h, x2 + 0.15 * w, y2 + 0.05 * h]


def _overlaps(box, boxes):
    x1, y1, x2, y2 = box
    return any(x1 < b[2] and b[0] < x2 and y1 < b[3] and b[1] < y2 for b in boxes)


def _person_box(box, H):
    """Shoulders and body below a face box, down to the bottom of the image."""
    x1, y1, x2, y2 = box
    w = x2 - x1
    return [x1 - 1.1 * w, y2, x2 + 1.1 * w, H]


def _sample_face(rng, h, W, H, placed, cx=None, cy=None, bodies=None, upright=False):
    """A Face of box height ~h near (cx, cy) (anywhere if None) whose head does not overlap ``placed``
    heads; with ``bodies`` (a list, updated) nobody's head may overlap anybody's body either, so no face
    is hidden behind a person in front.  None if there is no room."""
    crop_h = assets.FACE_BOX[3] - assets.FACE_BOX[1]
    pose = 0 if upright else int(rng.random() < 0.08)
    angle = rng.normal(0, 5) if upright else (rng.choice([-1, 1]) * rng.uniform(28, 55)) if pose else rng.normal(0, 6)
    face = scene.Face(lfw_index=int(rng.integers(100)), flip=bool(rng.random() < 0.5),
                      angle=float(angle), scale=h / crop_h, center=np.zeros(2), pose=pose)
    for k in range(30):
        if cx is None:
            face.center = np.array([rng.uniform(0, W), rng.uniform(0, H)])
        else:
            j = 0.0 if k == 0 else 0.5 * h
            face.center = np.array([cx + rng.normal(0, j), cy + rng.normal(0, j)])
        box = scene.face_box_in_image(face)
        if box[0] < 1 or box[1] < 1 or box[2] > W - 1 or box[3] > H - 1:
            continue
        head = _head_box(box)
        if _overlaps(head, placed):
            continue
        if bodies is not None:
            body = _person_box(box, H)
            if _overlaps(head, bodies) or _overlaps(body, placed):
                continue
            bodies.append(body)
        return face
    return None


def _render_people(canvas, owner, faces, rng, grayscale, min_body=8, after_face=None):
    """People back to front (small = far first): shoulders, neck and hair, then the face on top (then
    ``after_face(i, face)``, e.g. its mask, before anybody in front is drawn)."""
    for i in sorted(range(len(faces)), key=lambda k: faces[k].scale):
        f = faces[i]
        tone = None if grayscale else scene.skin_tone(rng)
        if f.scale * (assets.FACE_BOX[3] - assets.FACE_BOX[1]) >= min_body:
            scene.draw_person(canvas, owner, f, rng, tone, assets.WALLS[rng.integers(len(assets.WALLS))])
        scene.render_face(canvas, owner, f, i, rng, tone)
        if after_face is not None:
            after_face(i, f)


def render_wider_image(seed_seq, spec):
    """Render one WIDER-style image; returns (bgr uint8, record)."""
    rng = np.random.default_rng(seed_seq)
    W = int(rng.choice([640, 800, 1024], p=[0.25, 0.25, 0.5]))
    H = int(round(W * rng.uniform(0.62, 1.33)))
    canvas = scene.make_background(rng, W, H, int(rng.integers(0, 5)))
    owner = np.full((H, W), -1, np.int32)
    grayscale = rng.random() < 0.15
    faces, mode = [], "empty"
    if not spec["zero_faces"]:
        mode, slots = _layout(rng, W, H)
        placed = []
        for h, cx, cy in slots:
            f = _sample_face(rng, h, W, H, placed, cx, cy)
            if f is None:
                continue
            f.blur = int(rng.choice([0, 1, 2], p=[0.7, 0.2, 0.1]))
            f.illumination = int(rng.random() < 0.08)
            f.force_invalid = bool(rng.random() < 0.04)
            if f.force_invalid:
                f.blur = 2
            f.landmarks_known = bool(rng.random() >= 0.08)
            placed.append(_head_box(scene.face_box_in_image(f)))
            faces.append(f)
        _render_people(canvas, owner, faces, rng, grayscale)
        # occluders: partial (1-30 %), heavy, and the near-total occlusion of the invalid faces
        for f in faces:
            r = rng.random()
            if f.force_invalid:
                frac = rng.uniform(0.75, 0.9)
            elif r < 0.12:
                frac = rng.uniform(0.12, 0.3)
            elif r < 0.18:
                frac = rng.uniform(0.4, 0.6)
            else:
                continue
            side = str(rng.choice(["left", "right", "bottom", "top"], p=[0.3, 0.3, 0.3, 0.1]))
            scene.paste_occluder(canvas, owner, rng, f.box, side, frac,
                                 assets.background(assets.PRINTS[rng.integers(len(assets.PRINTS))]))
        for i, f in enumerate(faces):
            scene.finish_face(f, owner, i)
    bgr = scene.camera_finish(rng, canvas, grayscale)
    recs = []
    for f in faces:
        box = int_box(f.box)
        occ = f.occlusion_fraction
        invalid = int(f.force_invalid or occ > scene.INVALID_OCCLUSION)
        occlusion = 0 if occ < scene.OCCLUSION_PARTIAL else 1 if occ <= scene.OCCLUSION_HEAVY else 2
        attrs = {"blur": f.blur, "expression": f.expression, "illumination": f.illumination, "invalid": invalid,
                 "occlusion": occlusion, "pose": f.pose}
        known = f.landmarks_known and not invalid and box[3] >= scene.MIN_LANDMARK_FACE
        lms = None
        if known:
            lms = [[round(float(x), 3), round(float(y), 3), 0.0 if v else 1.0]
                   for (x, y), v in zip(f.landmarks, f.landmark_visible)]
        recs.append({"box": box, "box_float": _round(f.box), "attrs": attrs, "landmarks": lms,
                     "landmarks_float": [_round(p) for p in f.landmarks], "occluded_fraction": round(occ, 4),
                     "quality": -1.0 if invalid else quality_value(box[3], f.blur, occ, f.illumination),
                     "settings": settings_of(box[3], invalid), "lfw_index": f.lfw_index, "flip": f.flip,
                     "angle": f.angle, "scale": f.scale, "center": [float(v) for v in f.center]})
    rec = {"name": spec["name"], "event": spec["event"], "width": W, "height": H, "layout": mode,
           "grayscale": bool(grayscale), "faces": recs}
    return bgr, rec


# --------------------------------------------------------------------------------------------- face masks
MASK_CLASSES = ["with_mask", "without_mask", "mask_weared_incorrect"]
MASK_COLORS = np.array([[0.62, 0.80, 0.93], [0.93, 0.94, 0.95], [0.12, 0.12, 0.14], [0.35, 0.55, 0.85],
                        [0.85, 0.55, 0.65]], np.float32)


def _mask_polygon(incorrect):
    """Surgical-mask outline in crop coordinates (the crop's face box is x 1.6..20.5, y 0..24.6)."""
    top = 15.2 if incorrect else 11.2   # worn correctly it covers the nose bridge; incorrectly, below the nose
    return np.array([[2.6, top + 1.6], [6.0, top - 0.4], [11.05, top - 0.9], [16.1, top - 0.4], [19.5, top + 1.6],
                     [19.2, 20.5], [16.5, 23.4], [11.05, 24.6], [5.6, 23.4], [2.9, 20.5]], np.float64)


def draw_mask(canvas, face, rng, incorrect):
    poly = _mask_polygon(incorrect)
    if face.flip:
        poly[:, 0] = assets.CROP - poly[:, 0]
    M = scene.face_transform(face)
    pts = scene.apply(M, poly)
    H, W = canvas.shape[:2]
    x0, y0 = max(0, int(pts[:, 0].min()) - 2), max(0, int(pts[:, 1].min()) - 2)
    x1, y1 = min(W, int(pts[:, 0].max()) + 3), min(H, int(pts[:, 1].max()) + 3)
    SUB = 4  # anti-aliased fill: draw at 4x and area-average
    m = np.zeros(((y1 - y0) * SUB, (x1 - x0) * SUB), np.uint8)
    cv2.fillPoly(m, [np.round((pts - [x0, y0]) * SUB - 0.5).astype(np.int32)], 255, lineType=cv2.LINE_8)
    a = cv2.resize(m, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    roi = canvas[y0:y1, x0:x1]
    # the face's broad shading (not its features) shows on the fabric
    shade = cv2.GaussianBlur(roi.mean(axis=2), (0, 0), max(1.0, 2.5 * face.scale))[:, :, None]
    color = MASK_COLORS[rng.integers(len(MASK_COLORS))]
    record = {"polygon": [_round(p) for p in pts], "color": _round(color)}
    fabric = color * (0.7 + 0.45 * shade)
    # horizontal pleats of a surgical mask
    yy = (np.arange(y1 - y0, dtype=np.float32)[:, None, None] + y0 - pts[:, 1].min()) / max(1.0, face.scale)
    fabric = fabric * (1 - 0.08 * (np.sin(yy * 2.2) > 0.6))
    roi[:] = roi * (1 - a[:, :, None]) + np.clip(fabric, 0, 1) * a[:, :, None]
    # ear loops
    for side in (0, 4):
        p = pts[side]
        q = scene.apply(M, [[0.3 if side == 0 else 24.7, 9.0]])[0]
        if face.flip:
            q = scene.apply(M, [[24.7 if side == 0 else 0.3, 9.0]])[0]
        cv2.line(canvas, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), tuple(float(c) for c in color * 0.9),
                 max(1, int(face.scale * 0.25)), cv2.LINE_AA)
    return record


def render_facemask_image(seed_seq, index):
    rng = np.random.default_rng(seed_seq)
    W = int(rng.choice([400, 512]))
    H = int(round(W * rng.uniform(0.55, 1.0)))
    canvas = scene.make_background(rng, W, H, int(rng.integers(0, 3)))
    owner = np.full((H, W), -1, np.int32)
    n = int(rng.integers(1, 5))
    heights = sorted([math.exp(rng.uniform(math.log(24), math.log(min(160, 0.8 * H)))) for _ in range(n)],
                     reverse=True)
    faces, placed, bodies = [], [], []
    for h in heights:   # like the Kaggle photographs: every annotated face is fully visible
        f = _sample_face(rng, h, W, H, placed, bodies=bodies, upright=True)
        if f is None:
            continue
        placed.append(_head_box(scene.face_box_in_image(f)))
        faces.append(f)
    classes = [str(rng.choice(MASK_CLASSES, p=[0.6, 0.25, 0.15])) for _ in faces]
    masks = [None] * len(faces)

    def mask(i, f):
        if classes[i] != "without_mask":
            masks[i] = draw_mask(canvas, f, rng, incorrect=(classes[i] == "mask_weared_incorrect"))

    _render_people(canvas, owner, faces, rng, False, after_face=mask)
    objects = []
    for f, cls, m in zip(faces, classes, masks):
        b = [int(math.floor(v + 0.5)) for v in f.box]
        objects.append({"name": cls, "bndbox": b, "box_float": _round(f.box), "lfw_index": f.lfw_index,
                        "flip": f.flip, "angle": f.angle, "scale": f.scale, "center": [float(v) for v in f.center],
                        "landmarks_float": [_round(p) for p in f.landmarks], "mask": m})
    bgr = scene.camera_finish(rng, canvas, False)
    name = f"maksssksksss{index}"
    return bgr, {"filename": name + ".png", "width": W, "height": H, "objects": objects}


# --------------------------------------------------------------------------------------------- driver
def plan(seed, num_train, num_val):
    """Deterministic image names: each split spreads its images over the events round-robin; unique numbers."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    used, specs = set(), {"train": [], "val": []}
    for split, n in (("train", num_train), ("val", num_val)):
        n_zero = min(ZERO_FACE_IMAGES, n // 10)
        zero_at = set(rng.choice(n, size=n_zero, replace=False).tolist()) if n_zero else set()
        for i in range(n):
            event, prefix = EVENTS[(i + (0 if split == "train" else 3)) % len(EVENTS)]
            while True:
                num = int(rng.integers(1, 1200))
                if (prefix, num) not in used:
                    used.add((prefix, num))
                    break
            specs[split].append({"name": f"{event}/{prefix}{num}.jpg", "event": event, "zero_faces": i in zero_at,
                                 "seed": [seed, 1 if split == "train" else 2, i]})
    return specs


def _write_image(path, bgr, jpeg_quality=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    else:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise RuntimeError(f"{path}: image encoding failed")
    with open(path, "wb") as fh:
        fh.write(buf.tobytes())


def _call(task):
    fn, args = task
    return fn(args)


def _wider_task(args):
    out, folder, spec = args
    cv2.setNumThreads(1)
    bgr, rec = render_wider_image(np.random.SeedSequence(spec["seed"]), spec)
    q = int(np.random.default_rng(np.random.SeedSequence(spec["seed"] + [1])).integers(*JPEG_QUALITY))
    _write_image(os.path.join(out, folder, "images", spec["name"]), bgr, q)
    rec["jpeg_quality"] = q
    return rec


def _facemask_task(args):
    out, seed, i = args
    cv2.setNumThreads(1)
    bgr, rec = render_facemask_image(np.random.SeedSequence([seed, 3, i]), i)
    _write_image(os.path.join(out, "facemask", "images", rec["filename"]), bgr)
    with open(os.path.join(out, "facemask", "annotations", rec["filename"][:-4] + ".xml"), "w", newline="\n") as fh:
        fh.write(formats.voc_xml(rec["filename"], rec["width"], rec["height"], rec["objects"]))
    return rec


def generate(out, num_train=64, num_val=32, num_facemask=16, seed=0, progress=True, jobs=None, overfit=None):
    """Write the whole dataset under ``out`` (replacing generated parts of an earlier run).  Returns the
    metadata record that is also written to ``out/mini_widerface_meta.json``.  Every image has its own seed
    (derived from ``seed``, the split and its index), so the output does not depend on ``jobs``.

    With ``overfit=N`` the train and val splits are the same N images (``overfit_images``; ``num_train`` and
    ``num_val`` are not used), for the overfit runs of the models' ``test/train_overfit.sh``."""
    t0 = time.time()
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    # One generator at a time per folder (test suites may start it concurrently); the metadata file is
    # removed first and written last, so its presence marks a complete data set.
    lock = open(os.path.join(out, ".generate.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        return _generate_locked(out, num_train, num_val, num_facemask, seed, progress, jobs, t0, overfit)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _run_tasks(tasks, jobs, bar):
    """Results of ``tasks`` ([(fn, args)]) in order, on up to ``jobs`` worker processes."""
    from concurrent.futures import ProcessPoolExecutor

    jobs = max(1, min(jobs or os.cpu_count() or 1, 4, len(tasks) or 1))
    results = []
    if jobs == 1:
        for fn, a in tasks:
            results.append(fn(a))
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            for r in ex.map(_call, tasks):
                results.append(r)
                bar.update(1)
    return results


# --------------------------------------------------------------------------------------------- overfit subset
OVERFIT_MIN_FACE = SETTING_MIN_HEIGHT["medium"]
OVERFIT_MIN_CANDIDATES = 64     # the default train split: for small N the overfit images are images of the mini set


def overfit_eligible(rec):
    """An image an overfit run can learn completely: at least one face of the easy setting, and every valid face at
    least ``OVERFIT_MIN_FACE`` (30 px, the medium setting's height) tall, so no tiny crowd face that a detector
    trained at a reduced input size cannot match; images without faces are not eligible."""
    valid = [f for f in rec["faces"] if not f["attrs"]["invalid"]]
    return (any("easy" in f["settings"] for f in valid)
            and all(f["box"][3] >= OVERFIT_MIN_FACE for f in valid))


def overfit_candidates(seed, n):
    """The train specs the overfit images are chosen from, in plan order: those of ``--num-train
    max(64, 4 n)`` with this seed (for n <= 16 the default mini set's train split)."""
    return plan(seed, max(OVERFIT_MIN_CANDIDATES, 4 * n), 0)["train"]


def overfit_images(out, n, seed, jobs, bar):
    """Render the candidates in plan order into ``out/WIDER_train/images`` until ``n`` are ``overfit_eligible``;
    keep those (removing the others) and copy them to ``out/WIDER_val/images``.  Returns their records."""
    specs = overfit_candidates(seed, n)
    chosen, batch = [], max(1, min(jobs or os.cpu_count() or 1, 4)) * 2
    train_dir, val_dir = os.path.join(out, "WIDER_train", "images"), os.path.join(out, "WIDER_val", "images")
    for start in range(0, len(specs), batch):
        recs = _run_tasks([(_wider_task, (out, "WIDER_train", sp)) for sp in specs[start:start + batch]], jobs, bar)
        for rec in recs:
            if len(chosen) < n and overfit_eligible(rec):
                chosen.append(rec)
            else:
                os.remove(os.path.join(train_dir, rec["name"]))
        if len(chosen) == n:
            break
    if len(chosen) < n:
        raise ValueError(f"--overfit {n}: only {len(chosen)} of the {len(specs)} candidate images have an easy face "
                         f"and no valid face under {OVERFIT_MIN_FACE} px")
    for event in os.listdir(train_dir):
        if not os.listdir(os.path.join(train_dir, event)):
            os.rmdir(os.path.join(train_dir, event))
    for rec in chosen:
        os.makedirs(os.path.join(val_dir, rec["event"]), exist_ok=True)
        shutil.copyfile(os.path.join(train_dir, rec["name"]), os.path.join(val_dir, rec["name"]))
    return chosen


def _generate_locked(out, num_train, num_val, num_facemask, seed, progress, jobs, t0, overfit):
    from tqdm import tqdm

    if os.path.exists(os.path.join(out, META_NAME)):
        os.remove(os.path.join(out, META_NAME))
    for sub in ("WIDER_train", "WIDER_val", "wider_face_split", "ground_truth", "train", "val", "facemask"):
        p = os.path.join(out, sub)
        if os.path.islink(p) or os.path.isfile(p):
            os.remove(p)
        elif os.path.isdir(p):
            shutil.rmtree(p)
    os.makedirs(os.path.join(out, "facemask", "annotations"))
    mask_tasks = [(_facemask_task, (out, seed, i)) for i in range(num_facemask)]
    if overfit:
        bar = tqdm(desc="mini WIDER FACE (overfit)", unit="img", disable=not progress)
        chosen = formats.ordered(overfit_images(out, overfit, seed, jobs, bar))
        records = {"train": chosen, "val": chosen}
        num_train = num_val = overfit
    else:
        specs = plan(seed, num_train, num_val)
        tasks = [(_wider_task, (out, "WIDER_" + split, spec)) for split in ("train", "val") for spec in specs[split]]
        bar = tqdm(total=len(tasks) + len(mask_tasks), desc="mini WIDER FACE", unit="img", disable=not progress)
        results = _run_tasks(tasks, jobs, bar)
        records = {"train": formats.ordered(results[:num_train]),
                   "val": formats.ordered(results[num_train:num_train + num_val])}
    masks = _run_tasks(mask_tasks, jobs, bar)
    bar.close()

    header = f"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by: ci/make_mini_widerface.py (seed {seed})"
    split_dir = os.path.join(out, "wider_face_split")
    gt_dir = os.path.join(out, "ground_truth")
    os.makedirs(split_dir)
    os.makedirs(gt_dir)
    for split in ("train", "val"):
        formats.write_split_txt(os.path.join(split_dir, f"wider_face_{split}_bbx_gt.txt"), records[split])
        formats.write_mat(os.path.join(split_dir, f"wider_face_{split}.mat"), records[split], None, header)
        os.makedirs(os.path.join(out, split))
        formats.write_label_txt(os.path.join(out, split, "label.txt"), records[split],
                                with_landmarks=(split == "train"))
        os.symlink(os.path.join("..", "WIDER_" + split, "images"), os.path.join(out, split, "images"))
    formats.write_wider_val_list(os.path.join(out, "val", "wider_val.txt"), records["val"])
    formats.write_mat(os.path.join(gt_dir, "wider_face_val.mat"), records["val"], None, header)
    for s in formats.SETTINGS:
        formats.write_mat(os.path.join(gt_dir, f"wider_{s}_val.mat"), records["val"], s, header)

    meta = {"generator": "ci/make_mini_widerface.py", "format_version": 1, "seed": seed,
            "num_train": num_train, "num_val": num_val, "num_facemask": num_facemask,
            "landmark_template": {"crop_size": assets.CROP, "landmarks": assets.LANDMARKS.tolist(),
                                  "face_box": assets.FACE_BOX.tolist()},
            "setting_min_height": SETTING_MIN_HEIGHT, "train": records["train"], "val": records["val"],
            "facemask": masks}
    if overfit:
        meta["overfit"] = {"images": overfit, "candidates": len(overfit_candidates(seed, overfit)),
                           "rule": f"the first {overfit} train images in plan order with an easy face and no valid "
                                   f"face under {OVERFIT_MIN_FACE} px; train and val are these images"}
    tmp = os.path.join(out, META_NAME + ".tmp")
    with open(tmp, "w", newline="\n") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, os.path.join(out, META_NAME))
    meta["elapsed_s"] = time.time() - t0
    return meta


def summary(meta):
    lines = []
    if meta.get("overfit"):
        lines.append(f"overfit: train and val are the same {meta['overfit']['images']} images")
    for split in ("train", "val"):
        ims = meta[split]
        faces = [f for im in ims for f in im["faces"]]
        hs = [f["box"][3] for f in faces]
        lines.append(f"{split}: {len(ims)} images ({sum(1 for im in ims if not im['faces'])} without faces), "
                     f"{len(faces)} faces, heights {min(hs) if hs else 0}-{max(hs) if hs else 0} px, "
                     f"{sum(f['attrs']['invalid'] for f in faces)} invalid, "
                     f"{sum(f['landmarks'] is None for f in faces)} without landmarks")
    val = [f for im in meta["val"] for f in im["faces"]]
    lines.append("val settings: " + ", ".join(f"{s} {sum(s in f['settings'] for f in val)}"
                                              for s in formats.SETTINGS))
    cls = [o["name"] for im in meta["facemask"] for o in im["objects"]]
    lines.append(f"facemask: {len(meta['facemask'])} images, " +
                 ", ".join(f"{c} {cls.count(c)}" for c in MASK_CLASSES))
    return lines
