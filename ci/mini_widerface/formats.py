"""Writers for the official file formats (and the readers the tests use to parse them back).

* ``wider_face_split/wider_face_{split}_bbx_gt.txt``: image name, face count, one ``x y w h blur expression
  illumination invalid occlusion pose `` line per face (the official files end every face line with a space);
  an image without faces is written as count ``0`` followed by one line of ten zeros (the official quirk).
* ``wider_face_split/wider_face_{split}.mat`` and ``ground_truth/wider_{face,easy,medium,hard}_val.mat``: the
  MATLAB cell structure of the real files (see ``matv5``): per variable an E x 1 cell over the events (sorted
  by name, as in the real files), per event an n x 1 cell over its images; ``face_bbx_list`` entries are k x 4
  ``int32``, the six label lists k x 1 ``uint8``, names ``char`` row vectors, ``gt_list`` k x 1 ``double``
  1-based indices (stored compactly as ``uint8``/``uint16`` like MATLAB does).  An image without faces has a
  1 x 4 zero box, 1 x 1 zero labels and a 0 x 0 ``gt_list``; an image whose faces are all ignored in a
  setting has a 0 x 1 ``gt_list`` - both exactly like the real val files.
* ``{train,val}/label.txt`` (RetinaFace, retinaface_gt_v1.1): ``# event/name.jpg`` then, for train, one line
  per face ``x y w h  lx ly f  (x5)  q`` - landmark flag 0.0 visible, 1.0 occluded, all 15 values -1.0
  when the landmarks are unknown (insightface's loader asserts the flag is -1 whenever x and y are), ``q``
  the trailing blur-like quality value (-1.0 for faces without attributes); for val one ``x y w h`` line per
  face (the released val labels carry no landmarks; insightface reads landmarks for the train split only).
  Images without faces have a header line and no face lines (insightface skips such train images).
* ``val/wider_val.txt``: the image list of biubug6/Pytorch_Retinaface (``/event/name.jpg`` per line).
* ``facemask/annotations/*.xml``: Pascal VOC exactly as in the Kaggle face-mask dataset (4-space indent).
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np

from . import matv5

LABELS = ["blur", "expression", "illumination", "invalid", "occlusion", "pose"]
SETTINGS = ["easy", "medium", "hard"]
MAT_LABEL_VARS = [f"{k}_label_list" for k in LABELS]


def _events(images):
    """[(event, [image, ...]), ...] with events sorted by name and images in record order."""
    by_event = {}
    for im in images:
        by_event.setdefault(im["event"], []).append(im)
    return [(e, by_event[e]) for e in sorted(by_event)]


def ordered(images):
    return [im for _, ims in _events(images) for im in ims]


# --------------------------------------------------------------------------------------------- split txt
def write_split_txt(path, images):
    lines = []
    for im in ordered(images):
        lines.append(im["name"])
        lines.append(str(len(im["faces"])))
        if not im["faces"]:
            lines.append("0 0 0 0 0 0 0 0 0 0 ")
        for f in im["faces"]:
            vals = list(f["box"]) + [f["attrs"][k] for k in LABELS]
            lines.append(" ".join(str(int(v)) for v in vals) + " ")
    with open(path, "w", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def read_split_txt(path):
    """Strict reader: [(name, boxes (k,4) int, attrs (k,6) int)] with the zero-face quirk undone."""
    with open(path) as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out, i = [], 0
    while i < len(lines):
        name = lines[i]
        if not name.endswith(".jpg") or "/" not in name:
            raise ValueError(f"{path}:{i + 1}: expected 'event/name.jpg', got {name!r}")
        n = int(lines[i + 1])
        rows = []
        for k in range(max(n, 1)):
            parts = lines[i + 2 + k].split(" ")
            if parts[-1] != "" or len(parts) != 11:
                raise ValueError(f"{path}:{i + 3 + k}: expected 10 integers and a trailing space")
            rows.append([int(p) for p in parts[:-1]])
        arr = np.array(rows, np.int64).reshape(-1, 10)
        if n == 0:
            if arr.shape[0] != 1 or arr.any():
                raise ValueError(f"{path}:{i + 3}: a 0-face image must be followed by one line of zeros")
            arr = arr[:0]
        out.append((name, arr[:, :4], arr[:, 4:]))
        i += 2 + max(n, 1)
    return out


# --------------------------------------------------------------------------------------------- mat files
def _image_arrays(im):
    faces = im["faces"]
    if not faces:
        return np.zeros((1, 4), np.int32), {k: np.zeros((1, 1), np.uint8) for k in LABELS}
    boxes = np.array([f["box"] for f in faces], np.int32).reshape(-1, 4)
    labels = {k: np.array([[f["attrs"][k]] for f in faces], np.uint8) for k in LABELS}
    return boxes, labels


def mat_variables(images, setting=None):
    """The variables of wider_face_*.mat (setting None) or wider_<setting>_val.mat, sorted by name."""
    events = _events(images)
    cells = {"event_list": matv5.Cell([matv5.Char(e) for e, _ in events]),
             "file_list": matv5.Cell([matv5.Cell([matv5.Char(os.path.splitext(im["name"].split("/", 1)[1])[0])
                                                   for im in ims]) for _, ims in events])}
    per = [[_image_arrays(im) for im in ims] for _, ims in events]
    cells["face_bbx_list"] = matv5.Cell([matv5.Cell([matv5.Numeric(b, matv5.MX_INT32, matv5.MI_INT32)
                                                     for b, _ in row]) for row in per])
    for k, var in zip(LABELS, MAT_LABEL_VARS):
        cells[var] = matv5.Cell([matv5.Cell([matv5.Numeric(lab[k], matv5.MX_UINT8, matv5.MI_UINT8)
                                             for _, lab in row]) for row in per])
    if setting is not None:
        gts = []
        for _, ims in events:
            row = []
            for im in ims:
                if not im["faces"]:
                    row.append(matv5.double_compact(np.zeros((0, 0))))
                else:
                    keep = [j + 1 for j, f in enumerate(im["faces"]) if setting in f["settings"]]
                    row.append(matv5.double_compact(np.array(keep, np.float64).reshape(-1, 1)))
            gts.append(matv5.Cell(row))
        cells["gt_list"] = matv5.Cell(gts)
    return [(k, cells[k]) for k in sorted(cells)]


def write_mat(path, images, setting=None, header=matv5.HEADER_TEXT):
    matv5.save(path, mat_variables(images, setting), header)


# --------------------------------------------------------------------------------------------- label.txt
def _num(v, nd):
    return repr(float(round(float(v), nd)))


def write_label_txt(path, images, with_landmarks: bool):
    lines = []
    for im in ordered(images):
        lines.append("# " + im["name"])
        for f in im["faces"]:
            box = " ".join(str(int(v)) for v in f["box"])
            if not with_landmarks:
                lines.append(box)
                continue
            if f["landmarks"] is None:
                lm = " ".join(["-1.0"] * 15)
            else:
                lm = " ".join(f"{_num(x, 3)} {_num(y, 3)} {_num(fl, 1)}" for x, y, fl in f["landmarks"])
            lines.append(f"{box} {lm} {_num(f['quality'], 2)}")
    with open(path, "w", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def read_label_txt(path):
    """[(name, [[x, y, w, h, 15 landmark values, q] or [x, y, w, h]]), ...]"""
    out = []
    with open(path) as fh:
        for ln, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if line.startswith("# "):
                out.append((line[2:], []))
            else:
                if not out:
                    raise ValueError(f"{path}:{ln}: face line before the first '# image' line")
                out[-1][1].append([float(v) for v in line.split(" ")])
    return out


def write_wider_val_list(path, images):
    with open(path, "w", newline="\n") as fh:
        fh.write("".join("/" + im["name"] + "\n" for im in ordered(images)))


# --------------------------------------------------------------------------------------------- VOC xml
def voc_xml(filename, width, height, objects):
    """Pascal VOC annotation text laid out like the Kaggle face-mask dataset's files."""
    ind = "    "
    out = ["<annotation>", f"{ind}<folder>images</folder>", f"{ind}<filename>{filename}</filename>",
           f"{ind}<size>", f"{ind * 2}<width>{width}</width>", f"{ind * 2}<height>{height}</height>",
           f"{ind * 2}<depth>3</depth>", f"{ind}</size>", f"{ind}<segmented>0</segmented>"]
    for o in objects:
        x1, y1, x2, y2 = o["bndbox"]
        out += [f"{ind}<object>", f"{ind * 2}<name>{o['name']}</name>", f"{ind * 2}<pose>Unspecified</pose>",
                f"{ind * 2}<truncated>0</truncated>", f"{ind * 2}<occluded>0</occluded>",
                f"{ind * 2}<difficult>0</difficult>", f"{ind * 2}<bndbox>", f"{ind * 3}<xmin>{x1}</xmin>",
                f"{ind * 3}<ymin>{y1}</ymin>", f"{ind * 3}<xmax>{x2}</xmax>", f"{ind * 3}<ymax>{y2}</ymax>",
                f"{ind * 2}</bndbox>", f"{ind}</object>"]
    out.append("</annotation>")
    return "\n".join(out) + "\n"


def read_voc_xml(path):
    root = ET.parse(path).getroot()
    size = root.find("size")
    objs = []
    for o in root.findall("object"):
        bb = o.find("bndbox")
        objs.append({"name": o.findtext("name"),
                     "bndbox": [int(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]})
    return {"filename": root.findtext("filename"), "folder": root.findtext("folder"),
            "width": int(size.findtext("width")), "height": int(size.findtext("height")),
            "depth": int(size.findtext("depth")), "objects": objs}
