"""Data: annotation readers, preprocessing / augmentation, the MindRecord and the training pipeline.

Annotation readers (each returns ``image_files, image_anno_dict`` with rows ``[x1, y1, x2, y2, class, iscrowd]``;
an image without boxes gets the reference's dummy row ``[0, 0, 0, 0, 0, 1]``, a crowd box, i.e. invalid):

* ``create_coco_label``: a COCO json through pycocotools (``x2 = x + w``), classes by name through
  ``coco_classes``;
* ``create_train_data_from_txt``: the 'other' list, one image per line, ``relpath x1,y1,x2,y2,class[,iscrowd]
  ...`` (the reference's README shows five fields, its parser needed six; both are read, iscrowd 0 by default);
* ``create_wider_label``: WIDER FACE's official ``wider_face_split/wider_face_{train,val}_bbx_gt.txt`` with the
  images under ``WIDER_{train,val}/images``; faces flagged invalid or without area are skipped, class 1 (face).

Preprocessing (``preprocess_fn``, spec section 4.5), on the BGR image, boxes in pixels:

* training: ``expand`` with probability ``expand_ratio`` then a fair coin (zoom-out onto a black canvas up to 4x,
  boxes shifted), keep-ratio rescale ``s = min(W / max(h, w), H / min(h, w))`` (``cv2.INTER_LINEAR`` to
  ``int(w s + 0.5) x int(h s + 0.5)``; a portrait result taller than H is rescaled again to fit ``H x H``), boxes
  scaled and clipped to the image, zero padding to ``H x W`` (bottom / right) *before* normalisation, normalisation
  (RGB, ImageNet mean / std, OpenCV's arithmetic as the reference), then a horizontal flip of the canvas with
  probability ``flip_ratio`` (``x' = W - 1 - x``), CHW;
* evaluation: the same rescale, padding and normalisation; ``img_meta = (h, w, s, s)``.

The training pipeline reads the MindRecord in an order fixed by ``(seed, epoch, device_num, rank)`` and gives every
sample its own random generator (flip, expansion, the samplers' priorities), so that a run resumed at any step
sees exactly the data of the uninterrupted run.
"""
import hashlib
import json
import math
import os
import shutil
import time

import cv2
import numpy as np

from .errors import DataError
from .fileio import write_json_atomic
from .image_io import check_complete

MEAN = np.asarray([123.675, 116.28, 103.53])
STD = np.asarray([58.395, 57.12, 57.375])
DUMMY_ROW = [0, 0, 0, 0, 0, 1]
MINDRECORD_SCHEMA = {"image": {"type": "bytes"}, "annotation": {"type": "int32", "shape": [-1, 6]}}
MINDRECORD_FORMAT = 1           # bumped when what is written changes (invalidates older MindRecords)
PART_IMAGES = 2048          # images per MindRecord part (and worker process) at least
TRAIN_COLUMNS = ["image", "image_shape", "box", "label", "valid_num", "rpn_priority", "rcnn_priority"]


# ----------------------------------------------------------------------------------------------------------------
# preprocessing


def rescale_with_tuple(img, scale):
    """Keep-ratio resize into ``scale`` = (long side, short side): ``(image, factor)``."""
    h, w = img.shape[:2]
    scale_factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    new_size = int(w * float(scale_factor) + 0.5), int(h * float(scale_factor) + 0.5)
    return cv2.resize(img, new_size, interpolation=cv2.INTER_LINEAR), scale_factor


def keep_ratio_rescale(img, config):
    """The reference's rescale with the portrait rule: ``(image, factor)``, image at most ``H x W``."""
    img_data, scale_factor = rescale_with_tuple(img, (config.img_width, config.img_height))
    if img_data.shape[0] > config.img_height:
        img_data, scale_factor2 = rescale_with_tuple(img_data, (config.img_height, config.img_height))
        scale_factor = scale_factor * scale_factor2
    return img_data, scale_factor


def pad_to_canvas(img, config):
    """Zero-pad (bottom / right) to ``H x W``, uint8 kept."""
    pad_h = config.img_height - img.shape[0]
    pad_w = config.img_width - img.shape[1]
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"image {img.shape[:2]} larger than the {config.img_height}x{config.img_width} canvas")
    canvas = np.zeros((config.img_height, config.img_width, 3), dtype=img.dtype)
    canvas[:img.shape[0], :img.shape[1], :] = img
    return canvas


def imnormalize(img):
    """BGR uint8 -> normalised RGB float32, with OpenCV's float arithmetic as the reference (bit for bit)."""
    data = img.copy().astype(np.float32)
    cv2.cvtColor(data, cv2.COLOR_BGR2RGB, data)
    cv2.subtract(data, np.float64(MEAN.reshape(1, -1)), data)
    cv2.multiply(data, 1 / np.float64(STD.reshape(1, -1)), data)
    return data.astype(np.float32)


def expand(img, boxes, rng, ratio_range=(1, 4)):
    """Zoom out (SSD-style) with probability 0.5: the image placed at a random offset of a black canvas
    ``ratio`` ~ U(1, 4) times its size; boxes shifted with it."""
    if rng.integers(2):
        return img, boxes
    h, w, c = img.shape
    ratio = rng.uniform(*ratio_range)
    canvas = np.zeros((int(h * ratio), int(w * ratio), c), dtype=img.dtype)
    left = int(rng.uniform(0, w * ratio - w))
    top = int(rng.uniform(0, h * ratio - h))
    canvas[top:top + h, left:left + w] = img
    return canvas, boxes + np.tile((left, top), 2).astype(boxes.dtype)


def flip_boxes(boxes, width):
    """Horizontal flip of ``[x1, y1, x2, y2]`` boxes on a canvas ``width`` wide (inclusive pixel convention)."""
    flipped = boxes.copy()
    flipped[..., 0::4] = width - boxes[..., 2::4] - 1
    flipped[..., 2::4] = width - boxes[..., 0::4] - 1
    return flipped


def preprocess_train(image_bgr, box, config, rng):
    """One training sample: ``(image CHW float32, image_shape (3,), box (num_gts, 4), label (num_gts,) int32,
    valid_num (num_gts,) bool)``; ``box`` rows ``[x1, y1, x2, y2, class, iscrowd]``."""
    gt_box, gt_label, gt_valid = pad_annotations(box, config.num_gts)
    do_flip = rng.random() < config.flip_ratio
    do_expand = rng.random() < config.expand_ratio
    img = image_bgr
    if do_expand:
        img, gt_box = expand(img, gt_box, rng)
    if config.keep_ratio:
        img, scale = keep_ratio_rescale(img, config)
        gt_box = gt_box * scale
        gt_box[:, 0::2] = np.clip(gt_box[:, 0::2], 0, img.shape[1] - 1)
        gt_box[:, 1::2] = np.clip(gt_box[:, 1::2], 0, img.shape[0] - 1)
        img = pad_to_canvas(img, config)
    else:
        h, w = img.shape[:2]
        img = cv2.resize(img, (config.img_width, config.img_height), interpolation=cv2.INTER_LINEAR)
        gt_box = gt_box * np.array([config.img_width / w, config.img_height / h] * 2, dtype=np.float32)
        gt_box[:, 0::2] = np.clip(gt_box[:, 0::2], 0, config.img_width - 1)
        gt_box[:, 1::2] = np.clip(gt_box[:, 1::2], 0, config.img_height - 1)
    img = imnormalize(img)
    if do_flip:
        img = np.flip(img, axis=1)
        gt_box = flip_boxes(gt_box, img.shape[1])
    image_shape = np.asarray((config.img_height, config.img_width, 1.0), dtype=np.float32)
    return (np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32), image_shape,
            gt_box.astype(np.float32), gt_label.astype(np.int32), gt_valid.astype(np.bool_))


def preprocess_eval(image_bgr, config):
    """The evaluation input of one image: ``(image CHW float32, img_meta (4,) = (h, w, scale_h, scale_w))``."""
    h, w = image_bgr.shape[:2]
    if config.keep_ratio:
        img, scale = keep_ratio_rescale(image_bgr, config)
        img = pad_to_canvas(img, config)
        scales = (scale, scale)
    else:
        img = cv2.resize(image_bgr, (config.img_width, config.img_height), interpolation=cv2.INTER_LINEAR)
        scales = (config.img_height / h, config.img_width / w)
    meta = np.asarray((h, w) + scales, dtype=np.float32)
    return np.ascontiguousarray(imnormalize(img).transpose(2, 0, 1)), meta


def pad_annotations(box, num_gts):
    """Rows ``[x1, y1, x2, y2, class, iscrowd]`` -> boxes, labels, valid flags padded to ``num_gts`` (the first
    ``num_gts`` rows are kept; padding: box 0, label -1, invalid)."""
    box = np.asarray(box).reshape(-1, 6)[:num_gts]
    n = box.shape[0]
    gt_box = np.zeros((num_gts, 4), np.float32)
    gt_box[:n] = box[:, :4]
    gt_label = np.full((num_gts,), -1, np.int32)
    gt_label[:n] = box[:, 4]
    gt_valid = np.zeros((num_gts,), np.bool_)
    gt_valid[:n] = box[:, 5] == 0
    return gt_box, gt_label, gt_valid


def sample_priorities(rng, config):
    """The samplers' uniform draws of one image (see ``FasterRcnn/bbox_assign_sample.py``)."""
    rpn = rng.random(config.num_bboxes, dtype=np.float32)
    rcnn = rng.random(config.num_gts + config.num_bboxes_stage2, dtype=np.float32)
    return rpn, rcnn


def preprocess_fn(image, box, is_training, config, seed=0):
    """The reference's entry point: ``image`` BGR uint8 (decoded), ``box`` the annotation rows; training adds the
    samplers' priorities to the outputs."""
    if not is_training:
        return preprocess_eval(image, config)
    rng = np.random.default_rng(seed)
    out = preprocess_train(image, box, config, rng)
    return out + sample_priorities(rng, config)


# ----------------------------------------------------------------------------------------------------------------
# annotation readers


def _json_error(path, err):
    return DataError(f"{path}:{err.lineno}: not valid JSON ({err.msg})")


def load_coco(anno_json):
    """pycocotools' ``COCO`` of ``anno_json``, its errors as one line naming the file."""
    from pycocotools.coco import COCO
    import contextlib
    import io
    if not os.path.isfile(anno_json):
        raise DataError(f"{anno_json}: COCO annotation file not found")
    try:
        with open(anno_json, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise _json_error(anno_json, e) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{anno_json}: cannot read ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError(f"{anno_json}: not a COCO annotation file (no 'images' list)")
    for key in ("annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise DataError(f"{anno_json}: '{key}' must be a list")
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise DataError(f"{anno_json}: images[{i}] needs 'id' and 'file_name'")
    cat_ids = {c.get("id") for c in data.get("categories", []) if isinstance(c, dict)}
    for i, ann in enumerate(data.get("annotations", [])):
        bbox = ann.get("bbox") if isinstance(ann, dict) else None
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise DataError(f"{anno_json}: annotations[{i}] (id {ann.get('id') if isinstance(ann, dict) else '?'})"
                            f": 'bbox' must be [x, y, w, h], got {bbox!r}")
        if ann.get("category_id") not in cat_ids or "image_id" not in ann:
            raise DataError(f"{anno_json}: annotations[{i}] (id {ann.get('id')}): category_id "
                            f"{ann.get('category_id')!r} is not in 'categories' or image_id is missing")
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_annotation_file(config, is_training):
    data_type = config.train_data_type if is_training else config.val_data_type
    return os.path.join(config.coco_root, config.instance_set.format(data_type)), data_type


def create_coco_label(is_training, config, anno_json=None):
    """COCO images and rows ``[x1, y1, x1 + w, y1 + h, class index, iscrowd]`` for the classes of
    ``coco_classes`` (others dropped); images from ``coco_root/<data type>/``."""
    default_json, data_type = coco_annotation_file(config, is_training)
    anno_json = anno_json or default_json
    coco = load_coco(anno_json)
    train_cls = {name: i for i, name in enumerate(config.coco_classes)}
    names = {cat["id"]: cat["name"] for cat in coco.loadCats(coco.getCatIds())}
    image_files, image_anno_dict = [], {}
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        path = os.path.join(config.coco_root, data_type, info["file_name"])
        annos = []
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=None)):
            name = names[ann["category_id"]]
            if name in train_cls:
                x, y, w, h = ann["bbox"]
                annos.append([x, y, x + w, y + h, train_cls[name], int(ann.get("iscrowd", 0))])
        image_files.append(path)
        image_anno_dict[path] = np.array(annos) if annos else np.array([DUMMY_ROW])
    return image_files, image_anno_dict


def parse_txt_line(line, anno_path, lineno):
    """``relpath x1,y1,x2,y2,class[,iscrowd] ...`` -> ``(relpath, rows)``; a malformed box is a ``DataError``
    naming ``file:line``."""
    parts = line.strip().split()
    rows = []
    for token in parts[1:]:
        fields = token.split(",")
        if len(fields) not in (5, 6):
            raise DataError(f"{anno_path}:{lineno}: box {token!r} needs 5 or 6 comma-separated fields "
                            f"x1,y1,x2,y2,class[,iscrowd]")
        try:
            x1, y1, x2, y2 = (float(v) for v in fields[:4])
            cls_id = int(fields[4])
            iscrowd = int(fields[5]) if len(fields) == 6 else 0
        except ValueError:
            raise DataError(f"{anno_path}:{lineno}: box {token!r}: coordinates must be numbers and class / "
                            f"iscrowd integers") from None
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise DataError(f"{anno_path}:{lineno}: box {token!r} has a non-finite coordinate")
        if x2 < x1 or y2 < y1:
            raise DataError(f"{anno_path}:{lineno}: box {token!r} has x2 < x1 or y2 < y1")
        if cls_id < 0 or iscrowd not in (0, 1):
            raise DataError(f"{anno_path}:{lineno}: box {token!r}: class must be >= 0 and iscrowd 0 or 1")
        rows.append([x1, y1, x2, y2, cls_id, iscrowd])
    return parts[0], rows


def _read_txt(anno_path):
    if not os.path.isfile(anno_path):
        raise DataError(f"{anno_path}: annotation list not found")
    try:
        with open(anno_path, "rb") as f:
            lines = f.read().decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{anno_path}: not UTF-8 text ({e.reason})") from None
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            yield lineno, line


def create_train_data_from_txt(image_dir, anno_path):
    """Images of the 'other' list that exist under ``image_dir`` and their rows (missing images are skipped, as
    the reference does, and counted in one warning)."""
    if not os.path.isdir(image_dir):
        raise DataError(f"{image_dir}: image folder (--image_dir) not found")
    image_files, image_anno_dict, missing = [], {}, []
    for lineno, line in _read_txt(anno_path):
        rel, rows = parse_txt_line(line, anno_path, lineno)
        path = os.path.join(image_dir, rel)
        if not os.path.isfile(path):
            missing.append(rel)
            continue
        image_files.append(path)
        image_anno_dict[path] = np.array(rows) if rows else np.array([DUMMY_ROW])
    if missing:
        print(f"warning: {len(missing)} images listed in {anno_path} are not under {image_dir} and were skipped "
              f"(first: {missing[0]})", flush=True)
    return image_files, image_anno_dict


def parse_json_annos_from_txt(anno_file, config):
    """The COCO dict of an 'other' list (for evaluation): category ids = index in ``coco_classes``, image ids
    from 1, ``bbox = [x1, y1, x2 - x1, y2 - y1]``."""
    annos = {"images": [], "annotations": [],
             "categories": [{"id": i, "name": name} for i, name in enumerate(config.coco_classes)]}
    anno_id = 1
    for img_id, (lineno, line) in enumerate(_read_txt(anno_file), 1):
        rel, rows = parse_txt_line(line, anno_file, lineno)
        annos["images"].append({"file_name": rel, "id": img_id})
        for x1, y1, x2, y2, cls_id, iscrowd in rows:
            w, h = x2 - x1, y2 - y1
            annos["annotations"].append({"bbox": [x1, y1, w, h], "area": w * h, "category_id": cls_id,
                                         "iscrowd": iscrowd, "image_id": img_id, "id": anno_id})
            anno_id += 1
    return annos


def wider_split_file(wider_root, is_training):
    split = "train" if is_training else "val"
    return os.path.join(wider_root, "wider_face_split", f"wider_face_{split}_bbx_gt.txt"), split


def read_wider_split(wider_root, is_training):
    """The entries of WIDER FACE's ``wider_face_{train,val}_bbx_gt.txt`` (``widerface_eval.SplitEntry``)."""
    from widerface_eval import WiderFormatError, read_split_file
    path, _ = wider_split_file(wider_root, is_training)
    if not os.path.isfile(path):
        raise DataError(f"{path}: not found (--wider_root must be a WIDER FACE root with wider_face_split/, "
                        f"WIDER_train/ and WIDER_val/)")
    try:
        return read_split_file(path)
    except WiderFormatError as e:
        raise DataError(str(e)) from None


def create_wider_label(is_training, config):
    """WIDER FACE images and rows ``[x, y, x + w, y + h, 1, 0]`` (faces flagged invalid or without area skipped;
    images without a valid face get the dummy row)."""
    entries = read_wider_split(config.wider_root, is_training)
    _, split = wider_split_file(config.wider_root, is_training)
    image_files, image_anno_dict = [], {}
    for e in entries:
        path = os.path.join(config.wider_root, f"WIDER_{split}", "images", e.name)
        keep = (e.attrs[:, 3] == 0) & (e.boxes[:, 2] > 0) & (e.boxes[:, 3] > 0) if len(e.boxes) else []
        rows = [[x, y, x + w, y + h, 1, 0] for (x, y, w, h) in e.boxes[keep]] if len(e.boxes) else []
        image_files.append(path)
        image_anno_dict[path] = np.array(rows) if rows else np.array([DUMMY_ROW])
    return image_files, image_anno_dict


def training_annotations(config):
    """``(image_files, image_anno_dict)`` of the configured training set."""
    if config.dataset == "coco":
        return create_coco_label(True, config)
    if config.dataset == "widerface":
        return create_wider_label(True, config)
    return create_train_data_from_txt(config.image_dir, config.anno_path)


# ----------------------------------------------------------------------------------------------------------------
# MindRecord


def _fingerprint(image_files, image_anno_dict, prefix):
    """What the MindRecord was built from: every image's path, size and mtime and its annotation rows."""
    h = hashlib.sha256(f"{MINDRECORD_FORMAT}|{prefix}".encode())
    for path in image_files:
        try:
            st = os.stat(path)
            h.update(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode())
        except OSError:
            h.update(f"{path}|missing".encode())
        h.update(np.asarray(image_anno_dict[path], dtype=np.int32).tobytes())
    return h.hexdigest()


def marker_path(mindrecord_dir, prefix):
    return os.path.join(mindrecord_dir, prefix + ".done.json")


def read_marker(mindrecord_dir, prefix, fingerprint):
    """The files of a finished, current MindRecord (all present with their recorded sizes), else None."""
    try:
        with open(marker_path(mindrecord_dir, prefix), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    if marker.get("fingerprint") != fingerprint:
        return None
    files = []
    for name, size in marker.get("files", {}).items():
        path = os.path.join(mindrecord_dir, name)
        if not os.path.isfile(path) or os.path.getsize(path) != size:
            return None
        if not name.endswith(".db"):
            files.append(path)
    return sorted(files, key=lambda p: int(p[len(os.path.join(mindrecord_dir, prefix)):])) or None


def _read_rows(paths, image_anno_dict):
    rows = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise DataError(f"{path}: cannot read the image ({e.strerror or e})") from None
        check_complete(path, data)
        rows.append({"image": data, "annotation": np.asarray(image_anno_dict[path], dtype=np.int32).reshape(-1, 6)})
    return rows


def _write_part(args):
    """Worker: write ``paths`` (in order) into the one-file MindRecord ``out``; returns its row count."""
    out, paths, image_anno_dict, chunk, counter = args
    from mindspore.mindrecord import FileWriter
    writer = FileWriter(out, 1, overwrite=True)
    writer.add_schema(MINDRECORD_SCHEMA, "fasterrcnn_json")
    for k in range(0, len(paths), chunk):
        writer.write_raw_data(_read_rows(paths[k:k + chunk], image_anno_dict))
        if counter is not None:
            with counter.get_lock():
                counter.value += len(paths[k:k + chunk])
    writer.commit()
    return len(paths)


def write_mindrecord(image_files, image_anno_dict, mindrecord_dir, prefix, workers=0, progress=True, chunk=32):
    """Write the images and their rows (the reference's schema: ``image`` bytes, ``annotation`` int32 [-1, 6]) as
    ``prefix0 .. prefix<K-1>``, one part per worker process (``K`` = one per ``PART_IMAGES`` images, at most
    ``workers``; rows written ``chunk`` at a time), each a contiguous run of ``image_files`` (reading them
    in that order gives ``image_files``' order). Every image is checked to decode completely first (a truncated
    file is a ``DataError`` naming it). The parts are written in a scratch folder and moved in only when all are
    complete; ``<prefix>.done.json`` (the fingerprint of the inputs and the file sizes) is written last, so a
    partial or stale MindRecord is never mistaken for a finished one. Returns the part files."""
    import multiprocessing as mp
    if not image_files:
        raise DataError(f"no training images: the annotations list none (MindRecord {prefix} not written)")
    fingerprint = _fingerprint(image_files, image_anno_dict, prefix)
    os.makedirs(mindrecord_dir, exist_ok=True)
    marker = marker_path(mindrecord_dir, prefix)
    if os.path.exists(marker):
        os.remove(marker)
    max_workers = workers or min(os.cpu_count() or 1, 8)
    # a worker process costs a MindSpore import (seconds): one part per PART_IMAGES images, at most the workers
    nparts = max(1, min(max_workers, 8, len(image_files) // PART_IMAGES))
    bounds = np.linspace(0, len(image_files), nparts + 1).astype(int)
    scratch = os.path.join(mindrecord_dir, f".{prefix}.partial.{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
        jobs = [(os.path.join(scratch, f"{prefix}{k}"), image_files[bounds[k]:bounds[k + 1]], image_anno_dict,
                 chunk) for k in range(nparts)]
        bar = _progress(len(image_files), f"MindRecord {prefix}", progress)
        if nparts == 1:
            counter = None
            _write_part(jobs[0] + (None,))
            bar.update(len(image_files))
        else:
            ctx = mp.get_context("spawn")
            counter = ctx.Value("l", 0)
            with ctx.Pool(nparts, initializer=_init_counter, initargs=(counter,)) as pool:
                pending = pool.map_async(_write_part_shared, jobs)
                done = 0
                while not pending.ready():
                    pending.wait(0.5)
                    bar.update(counter.value - done)
                    done = counter.value
                pending.get()
                bar.update(len(image_files) - done)
        bar.close()
        files = {}
        for name in sorted(os.listdir(mindrecord_dir)):
            tail = name[len(prefix):]
            if name.startswith(prefix) and (tail.isdigit() or (tail.endswith(".db") and tail[:-3].isdigit())):
                os.remove(os.path.join(mindrecord_dir, name))     # parts of an older build
        for name in os.listdir(scratch):
            os.replace(os.path.join(scratch, name), os.path.join(mindrecord_dir, name))
            files[name] = os.path.getsize(os.path.join(mindrecord_dir, name))
        write_json_atomic(marker, {"fingerprint": fingerprint, "files": files, "rows": len(image_files),
                                   "format": MINDRECORD_FORMAT})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [os.path.join(mindrecord_dir, f"{prefix}{k}") for k in range(nparts)]


_COUNTER = None


def _init_counter(counter):
    global _COUNTER
    _COUNTER = counter


def _write_part_shared(job):
    return _write_part(job + (_COUNTER,))


def _progress(total, desc, enabled):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, mininterval=1.0)


def prepare_mindrecord(config, rank=0, prefix="FasterRcnn.mindrecord", log=print):
    """The training MindRecord of ``config`` (under ``mindrecord_dir``): reused when its marker matches the current
    annotations and images, else rebuilt by rank 0 while the other ranks wait for the marker (at most
    ``mindrecord_wait_timeout`` seconds). Returns ``(part files, number of rows)``."""
    from .model_utils.config import mindrecord_dir as mr_dir
    image_files, image_anno_dict = training_annotations(config)
    if not image_files:
        raise DataError(f"the {config.dataset} training annotations list no image")
    folder = mr_dir(config)
    fingerprint = _fingerprint(image_files, image_anno_dict, prefix)
    files = read_marker(folder, prefix, fingerprint)
    if files:
        log(f"MindRecord {os.path.join(folder, prefix)}* is current ({len(image_files)} images), reused")
        return files, len(image_files)
    if rank == 0:
        log(f"Create Mindrecord ({len(image_files)} images) at {folder}. It may take some time.")
        t0 = time.time()
        files = write_mindrecord(image_files, image_anno_dict, folder, prefix, workers=config.mindrecord_workers)
        log(f"Create Mindrecord Done, at {folder} ({time.time() - t0:.1f} s)")
        return files, len(image_files)
    deadline = time.time() + config.mindrecord_wait_timeout
    while time.time() < deadline:
        files = read_marker(folder, prefix, fingerprint)
        if files:
            return files, len(image_files)
        time.sleep(2)
    raise DataError(f"{marker_path(folder, prefix)}: rank {rank} waited {config.mindrecord_wait_timeout} s for "
                    f"rank 0 to finish the MindRecord; see rank 0's log or raise --mindrecord_wait_timeout")


# ----------------------------------------------------------------------------------------------------------------
# training pipeline


class TrainOrder:
    """The data order of a training run: per epoch a permutation of the ``num_rows`` images drawn from
    ``(seed, epoch)``, padded to a multiple of ``device_num`` by wrapping, rank ``r`` taking every
    ``device_num``-th image from ``r``; ``steps_per_epoch = ceil(num_rows / device_num) // batch_size`` (full batches
    only, as the reference's sharded MindDataset). Each sample also gets its own seed."""

    def __init__(self, num_rows, batch_size, seed=1, device_num=1, rank=0):
        self.num_rows, self.batch_size, self.seed = num_rows, batch_size, seed
        self.device_num, self.rank = device_num, rank
        self.per_rank = -(-num_rows // device_num)
        self.steps_per_epoch = self.per_rank // batch_size
        if self.steps_per_epoch < 1:
            raise DataError(f"{num_rows} training images cannot fill one batch of {batch_size} on each of "
                            f"{device_num} devices")

    def epoch(self, epoch):
        """``(row indices, sample seeds)`` of rank ``rank`` in epoch ``epoch`` (0-based)."""
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.num_rows)
        total = self.per_rank * self.device_num
        perm = np.resize(perm, total)                      # wraps around to pad
        mine = perm[self.rank::self.device_num][:self.steps_per_epoch * self.batch_size]
        seeds = np.random.default_rng([self.seed, epoch, self.rank, 7919]).integers(0, 2 ** 63 - 1, len(mine))
        return mine.astype(np.int64), seeds.astype(np.int64)

    def segments(self, start_step, end_step):
        """``[(row indices, sample seeds), ...]``, one per epoch touched, of the global steps ``start_step + 1 ..
        end_step``."""
        out = []
        if end_step <= start_step:
            return out
        for e in range(start_step // self.steps_per_epoch, (end_step - 1) // self.steps_per_epoch + 1):
            rows, s = self.epoch(e)
            lo = max(start_step - e * self.steps_per_epoch, 0) * self.batch_size
            hi = min(end_step - e * self.steps_per_epoch, self.steps_per_epoch) * self.batch_size
            out.append((rows[lo:hi], s[lo:hi]))
        return out

    def steps(self, start_step, end_step):
        """Row indices and seeds of the global steps ``start_step + 1 .. end_step``, concatenated."""
        segs = self.segments(start_step, end_step)
        if not segs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate([r for r, _ in segs]), np.concatenate([s for _, s in segs])


class _SeedSource:
    """Random-access source of the per-sample seeds (zipped row by row with the MindRecord)."""

    def __init__(self, seeds):
        self.seeds = np.asarray(seeds, np.int64)

    def __getitem__(self, i):
        return (np.array(self.seeds[i], dtype=np.int64),)

    def __len__(self):
        return len(self.seeds)


def _decode_and_preprocess(config):
    def fn(image, annotation, seed):
        img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise DataError("an image of the MindRecord does not decode (rebuild it: delete its .done.json)")
        return preprocess_fn(img, annotation, True, config, seed=int(seed))
    return fn


def create_fasterrcnn_dataset(config, mindrecord_files, order, start_step, end_step, batch_size=2,
                              num_parallel_workers=8, python_multiprocessing=False):
    """The training batches of the global steps ``start_step + 1 .. end_step`` (see ``TrainOrder``): columns
    ``TRAIN_COLUMNS``, ``batch_size`` images each. ``num_parallel_workers`` is capped at the machine's CPU count
    (MindSpore refuses more; the configs keep the reference's 8)."""
    import multiprocessing

    import mindspore.dataset as de
    cpus = multiprocessing.cpu_count()
    num_parallel_workers = max(1, min(num_parallel_workers, cpus))
    cv2.setNumThreads(0)
    de.config.set_prefetch_size(8)
    parts = []
    for rows, seeds in order.segments(start_step, end_step):     # one epoch each: a sampler holds <= the rows
        records = de.MindDataset(list(mindrecord_files), columns_list=["image", "annotation"],
                                 sampler=de.SubsetSampler(rows.tolist()), num_parallel_workers=min(2, cpus))
        seed_ds = de.GeneratorDataset(_SeedSource(seeds), column_names=["seed"], shuffle=False)
        parts.append(de.zip((records, seed_ds)))
    ds = parts[0] if len(parts) == 1 else parts[0].concat(parts[1:])
    ds = ds.map(operations=_decode_and_preprocess(config), input_columns=["image", "annotation", "seed"],
                output_columns=TRAIN_COLUMNS, num_parallel_workers=num_parallel_workers,
                python_multiprocessing=python_multiprocessing)
    ds = ds.project(TRAIN_COLUMNS)
    return ds.batch(batch_size, drop_remainder=True)
