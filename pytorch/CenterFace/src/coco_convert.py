"""WIDER FACE + RetinaFace ``label.txt`` landmarks -> the COCO-keypoints json the reference trains from
(``annotations/{train,val}_wider_face.json``).

label.txt (insightface RetinaFace format): ``# <event>/<name>.jpg`` starts an image; each following line is one face
``x y w h [lx0 ly0 f0 ... lx4 ly4 f4 [extra]]``. Coordinates of -1 mark missing landmarks; lines with only 4
numbers (the RetinaFace val labels) have none.

Output per face: ``bbox [x, y, w, h]``, ``keypoints [x, y, v] x 5`` with v = 2 (labelled, flag 0), 1 (labelled,
flag 1 = occluded) or 0 (missing: x = y = 0), ``num_keypoints``, ``area``, ``iscrowd 0``, ``category_id 1``.
Faces with w <= 0 or h <= 0 are dropped (counted in the returned stats). Images without faces are kept in
``images`` (the training dataset skips them; evaluation needs them).
"""
import os

from .errors import DataError
from .fileio import write_json_atomic
from .image_io import read_image


def parse_label_txt(path):
    """Returns [(relpath, [(line_no, [floats])...])] in file order."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: landmark label file not found (RetinaFace-format label.txt is required)")
    entries = []
    with open(path) as f:
        for no, line in enumerate(f, 1):
            s = line.strip()
            if not s:
                continue
            if s.startswith("#"):
                name = s[1:].strip()
                if not name:
                    raise DataError(f"{path}:{no}: image line '#' without a file name")
                entries.append((name, []))
                continue
            if not entries:
                raise DataError(f"{path}:{no}: face line before the first '# <image>' line")
            try:
                vals = [float(v) for v in s.split()]
            except ValueError:
                raise DataError(f"{path}:{no}: non-numeric value in face line {s[:60]!r}") from None
            if len(vals) < 4 or (4 < len(vals) < 19):
                raise DataError(f"{path}:{no}: expected 4 or >= 19 numbers (x y w h [5 x (x y flag)]), "
                                f"got {len(vals)}")
            entries[-1][1].append((no, vals))
    return entries


def face_to_annotation(vals):
    x, y, w, h = vals[:4]
    kps = [0.0] * 15
    nk = 0
    if len(vals) >= 19:
        for j in range(5):
            lx, ly, fl = vals[4 + 3 * j: 7 + 3 * j]
            if lx < 0 or ly < 0:
                continue
            kps[3 * j: 3 * j + 3] = [lx, ly, 1.0 if fl == 1 else 2.0]
            nk += 1
    return {"bbox": [x, y, w, h], "keypoints": kps, "num_keypoints": nk, "area": w * h, "iscrowd": 0,
            "category_id": 1}


def convert(label_txt, image_dir, out_json):
    """Writes ``out_json`` (atomically). Returns stats dict."""
    entries = parse_label_txt(label_txt)
    images, anns = [], []
    stats = {"images": 0, "faces": 0, "dropped_invalid": 0, "without_landmarks": 0, "empty_images": 0}
    for img_id, (name, faces) in enumerate(entries, 1):
        path = os.path.join(image_dir, name)
        if not os.path.isfile(path):
            raise DataError(f"{label_txt}: image {name} listed but not found at {path}")
        h, w = read_image(path).shape[:2]  # also rejects an image that does not decode completely
        im = {"id": img_id, "file_name": name, "height": h, "width": w}
        images.append(im)
        n_here = 0
        for no, vals in faces:
            if vals[2] <= 0 or vals[3] <= 0:
                stats["dropped_invalid"] += 1
                continue
            a = face_to_annotation(vals)
            a["id"] = len(anns) + 1
            a["image_id"] = img_id
            anns.append(a)
            n_here += 1
            stats["without_landmarks"] += a["num_keypoints"] == 0
        stats["empty_images"] += n_here == 0
    stats["images"] = len(images)
    stats["faces"] = len(anns)
    coco = {"info": {"description": "WIDER FACE with RetinaFace landmarks (CenterFace COCO-keypoints format)"},
            "images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "face", "supercategory": "person",
                            "keypoints": ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"],
                            "skeleton": []}]}
    write_json_atomic(out_json, coco)
    return stats


def wider_paths(data_path, split):
    """(label.txt, image dir) of a split in the official WIDER FACE + RetinaFace layout."""
    return (os.path.join(data_path, split, "label.txt"),
            os.path.join(data_path, "WIDER_train" if split == "train" else "WIDER_val", "images"))


def resolve_annotations(data_path, split, cache_dir):
    """Returns (json path, image dir) for ``split``: uses ``DATA/annotations/<split>_wider_face.json`` (+ the
    reference's ``DATA/image`` or the WIDER images) when present, else converts the WIDER + label.txt layout into
    ``cache_dir/annotations``."""
    if not os.path.isdir(data_path):
        raise DataError(f"{data_path}: data directory not found")
    label, img_dir = wider_paths(data_path, split)
    pre = os.path.join(data_path, "annotations", f"{split}_wider_face.json")
    if os.path.isfile(pre):
        for d in (img_dir, os.path.join(data_path, "image")):
            if os.path.isdir(d):
                return pre, d
        raise DataError(f"{data_path}: found {pre} but no image folder ({img_dir} or {data_path}/image)")
    if not os.path.isdir(img_dir):
        raise DataError(f"{data_path}: neither annotations/{split}_wider_face.json nor {img_dir} exists "
                        "(expected the official WIDER FACE layout, see README)")
    out = os.path.join(cache_dir, "annotations", f"{split}_wider_face.json")
    if not os.path.isfile(out) or os.path.getmtime(out) < os.path.getmtime(label):
        convert(label, img_dir, out)
    return out, img_dir
