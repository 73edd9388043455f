"""Tests of the mini WIDER FACE generator (ci/make_mini_widerface.py).

Every written file is parsed back with independent readers and compared with what the generator recorded in
mini_widerface_meta.json; the .mat files are compared with the real WIDER FACE val ground truth
(``$ZOO_SHARED/data/widerface_val_gt``) node by node; the pixels are checked to hold the recorded faces.
Run: ``cd ci && python -m pytest tests -q`` or ``python -m pytest ci/tests`` from the repository root.
"""
from __future__ import annotations

import filecmp
import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import scipy.io as sio

CI_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(CI_DIR)
if CI_DIR not in sys.path:
    sys.path.insert(0, CI_DIR)

from mini_widerface import assets, formats, matv5, scene  # noqa: E402
from mini_widerface.generate import META_NAME, SETTING_MIN_HEIGHT, plan  # noqa: E402

SCRIPT = os.path.join(CI_DIR, "make_mini_widerface.py")
SHARED = os.environ.get("ZOO_SHARED") or os.path.join(REPO, "..", "shared")
REAL_GT = os.path.join(SHARED, "data", "widerface_val_gt")
GT_FILES = ["wider_face_val.mat", "wider_easy_val.mat", "wider_medium_val.mat", "wider_hard_val.mat"]

# Run the generator with every way of reaching the network disabled (nothing may be downloaded).
OFFLINE_RUNNER = """
import socket, runpy, sys
def _blocked(*a, **k):
    raise OSError("network access attempted by the mini WIDER FACE generator")
socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_cli(out, *args, offline=False):
    cmd = [sys.executable] + (["-c", OFFLINE_RUNNER] if offline else []) + [SCRIPT, "--out", str(out), "--quiet",
                                                                            *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """The default data set, generated fresh (offline) by the CLI with its default arguments."""
    out = tmp_path_factory.mktemp("mini") / "mini_widerface"
    res = run_cli(out, offline=True)
    assert "val settings:" in res.stdout
    with open(out / META_NAME) as fh:
        meta = json.load(fh)
    return out, meta


def _tree(root):
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                files[rel] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                files[rel] = ("file", p)
    return files


# --------------------------------------------------------------------------------------------- CLI
def test_deterministic_same_seed_byte_identical_other_seed_differs(tmp_path):
    """Same seed -> byte-identical files, whatever the number of worker processes; the second run has the
    network disabled (nothing is downloaded)."""
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    args = ["--num-train", 6, "--num-val", 5, "--num-facemask", 3, "--seed", 11]
    run_cli(a, *args, "--jobs", 1)
    run_cli(b, *args, "--jobs", 2, offline=True)
    run_cli(c, *args[:-1], 12)
    ta, tb, tc = _tree(a), _tree(b), _tree(c)
    assert sorted(ta) == sorted(tb)
    for rel, (kind, v) in ta.items():
        if kind == "link":
            assert tb[rel] == (kind, v), rel
        else:
            assert filecmp.cmp(v, tb[rel][1], shallow=False), f"{rel} differs between two runs with the same seed"
    differing = [rel for rel, (kind, v) in ta.items() if kind == "file" and rel.endswith(".jpg")
                 and rel in tc and not filecmp.cmp(v, tc[rel][1], shallow=False)]
    names_a = {r for r in ta if r.endswith(".jpg")}
    assert names_a != {r for r in tc if r.endswith(".jpg")} or differing, "another seed must give other data"


def test_rerun_replaces_previous_output(tmp_path):
    out = tmp_path / "d"
    run_cli(out, "--num-train", 4, "--num-val", 3, "--num-facemask", 1)
    run_cli(out, "--num-train", 3, "--num-val", 3, "--num-facemask", 1, "--seed", 1)
    meta = json.loads((out / META_NAME).read_text())
    jpgs = [r for r in _tree(out / "WIDER_train") if r.endswith(".jpg")]
    assert len(jpgs) == len(meta["train"]) == 3


def test_cli_rejects_bad_arguments(tmp_path):
    res = subprocess.run([sys.executable, SCRIPT, "--out", str(tmp_path / "x"), "--num-val", "-1"],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "--num-val" in res.stderr and "Traceback" not in res.stderr


# --------------------------------------------------------------------------------------------- layout
def test_layout_and_symlinks(data):
    out, meta = data
    assert len(meta["train"]) == 64 and len(meta["val"]) == 32 and len(meta["facemask"]) == 16
    for split in ("train", "val"):
        link = out / split / "images"
        assert os.path.islink(link) and os.readlink(link) == f"../WIDER_{split}/images"
        for im in meta[split]:
            event, name = im["name"].split("/")
            assert event == im["event"] and "--" in event and name.endswith(".jpg")
            assert name.startswith(event.split("--")[0] + "_" + event.split("--")[1].split("_")[0])
            p = out / split / "images" / im["name"]
            img = cv2.imread(str(p))
            assert img is not None and img.shape == (im["height"], im["width"], 3), p
            assert 400 <= im["width"] <= 1024
    for sub in ["wider_face_split/wider_face_train_bbx_gt.txt", "wider_face_split/wider_face_val_bbx_gt.txt",
                "wider_face_split/wider_face_train.mat", "wider_face_split/wider_face_val.mat",
                "val/wider_val.txt"] + [f"ground_truth/{f}" for f in GT_FILES]:
        assert (out / sub).is_file(), sub
    events = {im["event"] for im in meta["val"]}
    assert len(events) >= 5


def test_variety_of_faces(data):
    _, meta = data
    for split in ("train", "val"):
        faces = [f for im in meta[split] for f in im["faces"]]
        hs = np.array([f["box"][3] for f in faces])
        assert hs.min() < 10 and hs.max() >= 200, "faces from below 10 px to ~300 px"
        assert (hs < 30).sum() > 20 and ((hs >= 30) & (hs < 100)).sum() > 10 and (hs >= 100).sum() > 5
        assert sum(not im["faces"] for im in meta[split]) >= 1, "images with 0 faces"
        assert max(len(im["faces"]) for im in meta[split]) >= 10, "crowded images"
        n_scales = [np.ptp(np.log([f["box"][3] for f in im["faces"]])) for im in meta[split] if len(im["faces"]) > 2]
        assert max(n_scales) > math.log(4), "several scales within one image"
        for key in ("blur", "illumination", "invalid", "occlusion", "pose"):
            assert any(f["attrs"][key] for f in faces), f"no face with {key} != 0"
        assert any(f["attrs"]["occlusion"] == 2 for f in faces)
        assert sum(f["landmarks"] is None for f in faces) > 5
        assert any(f["landmarks"] and any(p[2] == 1.0 for p in f["landmarks"]) for f in faces), "occluded landmarks"
        assert len({f["lfw_index"] for f in faces}) > 50


# --------------------------------------------------------------------------------------------- split txt
@pytest.mark.parametrize("split", ["train", "val"])
def test_split_txt_matches_record(data, split):
    out, meta = data
    path = out / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt"
    parsed = formats.read_split_txt(path)
    assert [p[0] for p in parsed] == [im["name"] for im in meta[split]]
    for (name, boxes, attrs), im in zip(parsed, meta[split]):
        assert boxes.tolist() == [f["box"] for f in im["faces"]], name
        assert attrs.tolist() == [[f["attrs"][k] for k in formats.LABELS] for f in im["faces"]], name
    text = path.read_text()
    for im in meta[split]:
        if not im["faces"]:   # the official quirk: count 0 then one line of ten zeros
            assert f"{im['name']}\n0\n0 0 0 0 0 0 0 0 0 0 \n" in text
    lines = text.split("\n")
    assert lines[-1] == "" and all(ln.endswith(" ") for ln in lines if ln.count(" ") == 10)


def test_split_txt_with_widerface_eval_reader(data):
    wfe = pytest.importorskip("widerface_eval")
    out, meta = data
    entries = wfe.read_split_file(str(out / "wider_face_split" / "wider_face_val_bbx_gt.txt"))
    assert [e.name for e in entries] == [im["name"] for im in meta["val"]]
    for e, im in zip(entries, meta["val"]):
        assert np.asarray(e.boxes).reshape(-1, 4).tolist() == [f["box"] for f in im["faces"]]


def evaluate_ground_truth_as_predictions(out, meta, pred_dir):
    """widerface_eval's result for the val faces of ``meta`` written as predictions against ``out/ground_truth``."""
    wfe = pytest.importorskip("widerface_eval")
    for im in meta["val"]:
        dets = np.array([[x, y, x + w, y + h, 1.0 - 0.001 * j] for j, f in enumerate(im["faces"])
                         for x, y, w, h in [f["box"]]], np.float64).reshape(-1, 5)
        wfe.write_prediction(str(pred_dir), im["name"], dets)
    res = wfe.evaluate(str(pred_dir), str(out / "ground_truth"))
    for s in formats.SETTINGS:
        assert res.aps[s] == pytest.approx(1.0, abs=1e-6), (s, res.aps)
    return res


def test_widerface_eval_gt_as_predictions_gives_ap_1(data, tmp_path):
    evaluate_ground_truth_as_predictions(*data, tmp_path)


# --------------------------------------------------------------------------------------------- label.txt
def test_train_label_txt_matches_record(data):
    out, meta = data
    parsed = formats.read_label_txt(out / "train" / "label.txt")
    assert [p[0] for p in parsed] == [im["name"] for im in meta["train"]]
    n_unknown = 0
    for (name, rows), im in zip(parsed, meta["train"]):
        assert len(rows) == len(im["faces"]), name
        for row, f in zip(rows, im["faces"]):
            assert len(row) == 20
            assert row[:4] == f["box"]
            if f["landmarks"] is None:
                assert row[4:19] == [-1.0] * 15
                n_unknown += 1
            else:
                lm = np.array(row[4:19]).reshape(5, 3)
                assert lm.tolist() == f["landmarks"]
                assert set(lm[:, 2]) <= {0.0, 1.0}
            assert row[19] == f["quality"]
            assert (row[19] == -1.0) if f["attrs"]["invalid"] else (0 < row[19] < 1)
    assert n_unknown > 0
    text = (out / "train" / "label.txt").read_text()
    assert text.startswith("# ") and "-1.0 -1.0 -1.0" in text


def test_val_label_txt_and_list(data):
    out, meta = data
    parsed = formats.read_label_txt(out / "val" / "label.txt")
    assert [p[0] for p in parsed] == [im["name"] for im in meta["val"]]
    for (name, rows), im in zip(parsed, meta["val"]):
        assert rows == [[float(v) for v in f["box"]] for f in im["faces"]], name
    lst = (out / "val" / "wider_val.txt").read_text().split()
    assert lst == ["/" + im["name"] for im in meta["val"]]
    for rel in lst:
        assert (out / "val" / "images" / rel.lstrip("/")).is_file()


# --------------------------------------------------------------------------------------------- mat files
def _mat_images(m):
    """(event, stem, boxes, labels dict, gt_list or None) per image, in file order, via scipy.io.loadmat."""
    out = []
    for i in range(m["event_list"].shape[0]):
        event = str(m["event_list"][i, 0][0])
        files = m["file_list"][i, 0]
        for j in range(files.shape[0]):
            labels = {k: m[f"{k}_label_list"][i, 0][j, 0] for k in formats.LABELS}
            gt = m["gt_list"][i, 0][j, 0] if "gt_list" in m else None
            out.append((event, str(files[j, 0][0]), m["face_bbx_list"][i, 0][j, 0], labels, gt))
    return out


@pytest.mark.parametrize("rel", ["wider_face_split/wider_face_train.mat", "wider_face_split/wider_face_val.mat"]
                         + [f"ground_truth/{f}" for f in GT_FILES])
def test_mat_matches_record(data, rel):
    out, meta = data
    split = "train" if "train" in rel else "val"
    setting = next((s for s in formats.SETTINGS if f"wider_{s}_val" in rel), None)
    m = sio.loadmat(str(out / rel))
    ims = _mat_images(m)
    assert [f"{e}/{s}.jpg" for e, s, *_ in ims] == [im["name"] for im in meta[split]]
    assert ("gt_list" in m) == (setting is not None)
    for (event, stem, boxes, labels, gt), im in zip(ims, meta[split]):
        faces = im["faces"]
        if not faces:
            assert boxes.tolist() == [[0, 0, 0, 0]] and all(v.tolist() == [[0]] for v in labels.values())
            if setting:
                assert gt.shape == (0, 0)
            continue
        assert boxes.dtype == np.int32 and boxes.tolist() == [f["box"] for f in faces]
        for k in formats.LABELS:
            assert labels[k].dtype == np.uint8 and labels[k].shape == (len(faces), 1)
            assert labels[k][:, 0].tolist() == [f["attrs"][k] for f in faces]
        if setting:
            keep = [j + 1 for j, f in enumerate(faces) if setting in f["settings"]]
            assert gt.shape == (len(keep), 1) and gt[:, 0].tolist() == keep
            # the indices must load as integers: the evaluators index with them
            assert np.issubdtype(gt.dtype, np.unsignedinteger)
            ignore = np.zeros(len(faces))
            ignore[gt[:, 0] - 1] = 1   # what the official Python evaluator does with gt_list
            assert ignore.sum() == len(keep)


def _structure(path):
    """Variable names (file order) and, per variable, the set of node encodings by depth (MATLAB class,
    storage type, number of dims, orientation, flags, name) and the scipy dtypes."""
    _, variables = matv5.read_structure(path)
    names = [v["name"] for v in variables]
    sig = {}
    for v in variables:
        kinds = set()

        def walk(node, depth):
            dims = node["dims"]
            if node["class"] == "char":
                orient = "row" if dims[0] == 1 else "other"
            elif dims == (0, 0):
                orient = "empty0x0"
            elif len(dims) == 2 and dims[1] == 1:
                orient = "column"
            elif len(dims) == 2 and dims[1] == 4:
                orient = "nx4"
            else:
                orient = "other"
            storage = node.get("type")
            if node["class"] == "double" and storage in ("uint8", "uint16"):
                storage = "compact-uint"
            kinds.add((depth, node["class"], storage, len(dims), orient, node["flags"], node["name"] != "",
                       node.get("complex", False)))
            for it in node.get("items", []):
                walk(it, depth + 1)

        walk(v, 0)
        sig[v["name"]] = kinds
    m = sio.loadmat(path)
    dtypes = {}
    for k in names:
        leaf = m[k][0, 0]
        while leaf.dtype == object and leaf.size:
            leaf = leaf.flat[0]
        dtypes[k] = (m[k].dtype.kind, m[k].shape[1], leaf.dtype.kind)
    return names, sig, dtypes


@pytest.mark.parametrize("fname", GT_FILES)
def test_mat_structure_identical_to_real_wider(data, fname):
    real = os.path.join(REAL_GT, fname)
    if not os.path.isfile(real):
        pytest.skip(f"real WIDER val ground truth not found at {REAL_GT}")
    out, _ = data
    ours = str(out / "ground_truth" / fname)
    names_r, sig_r, dt_r = _structure(real)
    names_o, sig_o, dt_o = _structure(ours)
    assert names_o == names_r
    assert dt_o == dt_r
    for k in names_r:
        # every kind of node we write exists in the real file; the real file's kinds all appear in ours
        # (the real file additionally has uint16-packed gt_lists only because it has > 255 faces per image)
        assert sig_o[k] == sig_r[k], (k, sig_o[k] ^ sig_r[k])
    # the split copy of the val file has the same structure as ground_truth/wider_face_val.mat
    if fname == "wider_face_val.mat":
        assert _structure(str(out / "wider_face_split" / fname))[:2] == (names_r, sig_r)


def test_mat_writer_reproduces_real_file_bytes():
    """Re-encoding the real wider_hard_val.mat with our writer gives MATLAB's bytes (before zlib)."""
    real = os.path.join(REAL_GT, "wider_hard_val.mat")
    if not os.path.isfile(real):
        pytest.skip(f"real WIDER val ground truth not found at {REAL_GT}")
    import struct
    import zlib

    _, variables = matv5.read_structure(real)
    cls = {"double": matv5.MX_DOUBLE, "uint8": matv5.MX_UINT8, "int32": matv5.MX_INT32}
    mi = {v: k for k, v in matv5.MI_NAMES.items()}

    def conv(n):
        if n["class"] == "cell":
            return matv5.Cell([conv(i) for i in n["items"]], n["dims"])
        if n["class"] == "char":
            return matv5.Char(n["value"])
        if n["class"] == "double":
            compact = matv5.double_compact(n["value"])
            assert compact.mi_type == mi[n["type"]]   # our packing rule picks MATLAB's storage type
        return matv5.Numeric(n["value"], cls[n["class"]], mi[n["type"]])

    ours = matv5.dumps([(v["name"], conv(v)) for v in variables])

    def payloads(buf):
        pos, out = 128, []
        while pos < len(buf):
            t, n = struct.unpack_from("<II", buf, pos)
            out.append(zlib.decompress(buf[pos + 8:pos + 8 + n]))
            pos += 8 + n
        return out

    with open(real, "rb") as fh:
        assert payloads(ours) == payloads(fh.read())


# --------------------------------------------------------------------------------------------- settings
def test_settings_by_face_size_nested(data):
    _, meta = data
    counts = {s: 0 for s in formats.SETTINGS}
    for im in meta["val"] + meta["train"]:
        for f in im["faces"]:
            h, inv = f["box"][3], f["attrs"]["invalid"]
            s = set(f["settings"])
            if inv:
                assert not s
            else:
                assert s == {k for k, t in SETTING_MIN_HEIGHT.items() if h >= t}
            assert ("easy" not in s or "medium" in s) and ("medium" not in s or "hard" in s)
            if h < 30:
                assert s <= {"hard"}, "tiny faces only in hard"
            for k in s:
                counts[k] += 1
    assert 0 < counts["easy"] < counts["medium"] < counts["hard"]
    val = [f for im in meta["val"] for f in im["faces"]]
    assert any(not f["settings"] and not f["attrs"]["invalid"] for f in val), "faces below 10 px are ignored"
    assert any(f["attrs"]["invalid"] for f in val)


# --------------------------------------------------------------------------------------------- geometry
def test_boxes_and_landmarks_geometry(data):
    _, meta = data
    for split in ("train", "val"):
        for im in meta[split]:
            for f in im["faces"]:
                x, y, w, h = f["box"]
                assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= im["width"] and y + h <= im["height"]
                bf = f["box_float"]
                assert abs(x - bf[0]) <= 0.5 and abs(x + w - bf[2]) <= 0.5 and abs(y + h - bf[3]) <= 0.5
                if abs(f["angle"]) < 15:
                    assert 1.2 < (bf[3] - bf[1]) / (bf[2] - bf[0]) < 1.4, "WIDER-like face aspect"
                lm = np.array(f["landmarks_float"])
                assert (lm[:, 0] >= x - 1).all() and (lm[:, 0] <= x + w + 1).all()
                assert (lm[:, 1] >= y - 1).all() and (lm[:, 1] <= y + h + 1).all()
                # in the face's own frame (undo the in-plane rotation): eyes above nose above mouth,
                # left before right
                t = math.radians(f["angle"])
                R = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
                p = (lm - lm.mean(axis=0)) @ R.T
                assert p[0, 1] < p[2, 1] < p[3, 1] and p[1, 1] < p[2, 1] < p[4, 1], f
                assert p[0, 0] < p[2, 0] < p[1, 0] and p[3, 0] < p[4, 0], f
                iod = np.linalg.norm(lm[1] - lm[0])
                assert 0.4 < iod / (f["box_float"][2] - f["box_float"][0]) < 0.55 or f["attrs"]["pose"]
                if f["landmarks"] is not None:
                    assert np.allclose(np.array(f["landmarks"])[:, :2], lm, atol=5e-4)


def test_landmarks_follow_recorded_transform(data):
    """Landmarks = canonical LFW landmarks mapped by the recorded paste transform (flip, angle, scale)."""
    _, meta = data
    for im in meta["val"]:
        for f in im["faces"]:
            face = scene.Face(f["lfw_index"], f["flip"], f["angle"], f["scale"], np.array(f["center"]))
            lm = scene.apply(scene.face_transform(face), scene.crop_geometry(f["flip"])[0])
            assert np.allclose(lm, f["landmarks_float"], atol=2e-3)
            assert np.allclose(scene.face_box_in_image(face), f["box_float"], atol=2e-3)


def test_pixels_contain_the_recorded_faces(data):
    """For clean faces (no blur/occlusion/extreme light, >= 40 px) the image inside the recorded face ellipse
    correlates strongly with the LFW crop warped by the recorded transform - the boxes are where the faces are.
    A shifted box (by 15 % of the face) correlates clearly worse, and on large faces already a 1 px shift
    correlates worse (no half-pixel bias between the recorded geometry and the pixels)."""
    out, meta = data
    checked = fine = 0
    for split, ims in (("val", meta["val"]), ("train", meta["train"][:20])):
        for im in ims:
            img = None
            for f in im["faces"]:
                a = f["attrs"]
                if a["blur"] or a["occlusion"] or a["illumination"] or f["box"][3] < 40 or f["occluded_fraction"] > 0:
                    continue
                if img is None:
                    img = cv2.imread(str(out / split / "images" / im["name"]), cv2.IMREAD_GRAYSCALE)
                    img = img.astype(np.float32)
                c0 = _ncc_with_source(img, f)
                d = 0.15 * f["box"][3]
                c1 = max(_ncc_with_source(img, f, shift=(d, 0)), _ncc_with_source(img, f, shift=(0, d)))
                assert c0 > 0.85 and c0 > c1 + 0.1, (im["name"], f["box"], c0, c1)
                if f["box"][3] >= 80 and fine < 15:
                    # sub-pixel exactness: the correlation peaks at the recorded position, not 1 px off
                    for sh in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                        assert c0 > _ncc_with_source(img, f, shift=sh), (im["name"], f["box"], sh)
                    fine += 1
                checked += 1
    assert checked >= 10 and fine >= 5


# --------------------------------------------------------------------------------------------- facemask
def test_facemask_voc_matches_record(data):
    out, meta = data
    classes = set()
    for rec in meta["facemask"]:
        stem = rec["filename"][:-4]
        assert stem.startswith("maksssksksss")
        xml_path = out / "facemask" / "annotations" / (stem + ".xml")
        ann = formats.read_voc_xml(xml_path)
        img = cv2.imread(str(out / "facemask" / "images" / rec["filename"]))
        assert img is not None and (ann["height"], ann["width"], ann["depth"]) == img.shape
        assert ann["filename"] == rec["filename"] and ann["folder"] == "images"
        assert [(o["name"], o["bndbox"]) for o in ann["objects"]] == \
               [(o["name"], o["bndbox"]) for o in rec["objects"]]
        for o in ann["objects"]:
            x1, y1, x2, y2 = o["bndbox"]
            assert 0 <= x1 < x2 <= ann["width"] and 0 <= y1 < y2 <= ann["height"]
            classes.add(o["name"])
        text = xml_path.read_text()
        assert text.startswith("<annotation>\n    <folder>images</folder>\n")
        assert "<pose>Unspecified</pose>" in text and "<segmented>0</segmented>" in text
    assert classes == {"with_mask", "without_mask", "mask_weared_incorrect"}


def _ncc_with_source(img, rec, y0=0, y1=25, x0=0, x1=25, shift=(0.0, 0.0)):
    """Normalised cross-correlation between the grey image and the recorded LFW crop warped by the recorded
    paste transform, over the crop rows y0:y1 and columns x0:x1 (crop coordinates, of the unflipped crop)."""
    faces_lfw, _ = assets.lfw_faces()
    face = scene.Face(rec["lfw_index"], rec["flip"], rec["angle"], rec["scale"], np.array(rec["center"]))
    crop = faces_lfw[rec["lfw_index"]]
    region = np.zeros((assets.CROP, assets.CROP), np.float32)
    region[y0:y1, x0:x1] = 1
    region *= scene.face_alpha(assets.CROP, False) > 0.9
    if rec["flip"]:
        crop, region = crop[:, ::-1], region[:, ::-1]
    M = scene.face_transform(face)
    M[:, 2] += shift
    Mi = np.hstack([M[:, :2], (M[:, :2] @ [0.5, 0.5] + M[:, 2] - 0.5)[:, None]])
    H, W = img.shape
    ref = cv2.warpAffine(np.ascontiguousarray(crop), Mi, (W, H), flags=cv2.INTER_LINEAR)
    msk = cv2.warpAffine(np.ascontiguousarray(region), Mi, (W, H)) > 0.9
    u, v = ref[msk], img[msk]
    u, v = u - u.mean(), v - v.mean()
    return float((u * v).sum() / math.sqrt((u * u).sum() * (v * v).sum() + 1e-9))


def test_masks_cover_the_lower_face(data):
    """Geometry: a ``with_mask`` mask covers nose and mouth, a ``mask_weared_incorrect`` one the mouth but not
    the nose, never the eyes.  Pixels: the fabric colour is inside the recorded outline, and the source face's
    features are gone where the mask is (correlation with the source photograph, averaged per class)."""
    out, meta = data
    ncc = {c: {"nose": [], "mouth": []} for c in ("with_mask", "without_mask", "mask_weared_incorrect")}
    for rec in meta["facemask"]:
        rgb = cv2.imread(str(out / "facemask" / "images" / rec["filename"]))[:, :, ::-1].astype(np.float32)
        grey = cv2.imread(str(out / "facemask" / "images" / rec["filename"]), cv2.IMREAD_GRAYSCALE).astype(np.float32)
        for o in rec["objects"]:
            lm, m = np.array(o["landmarks_float"]), o["mask"]
            assert (m is None) == (o["name"] == "without_mask")
            if m is not None:
                poly = np.array(m["polygon"], np.float32)
                inside = [cv2.pointPolygonTest(poly, (float(x), float(y)), False) > 0 for x, y in lm]
                assert not inside[0] and not inside[1], "the eyes stay free"
                assert inside[3] and inside[4], "the mouth is covered"
                assert inside[2] == (o["name"] == "with_mask"), "the nose is covered only when worn correctly"
                if o["bndbox"][3] - o["bndbox"][1] >= 30:
                    fill = np.zeros(grey.shape, np.uint8)
                    cv2.fillPoly(fill, [np.round(poly).astype(np.int32)], 1)
                    fill = cv2.erode(fill, np.ones((5, 5), np.uint8))
                    med = np.median(rgb[fill > 0], axis=0)
                    col = np.array(m["color"]) * 255
                    cos = float(med @ col / (np.linalg.norm(med) * np.linalg.norm(col) + 1e-9))
                    assert cos > 0.97, (rec["filename"], o["bndbox"], med, col)
            if o["bndbox"][3] - o["bndbox"][1] >= 36 and _ncc_with_source(grey, o, 5, 11) > 0.8:
                ncc[o["name"]]["nose"].append(_ncc_with_source(grey, o, 11, 14, 7, 15))
                ncc[o["name"]]["mouth"].append(_ncc_with_source(grey, o, 16, 22, 5, 17))
    mean = {c: {k: float(np.mean(v)) for k, v in d.items()} for c, d in ncc.items()}
    assert all(len(d["nose"]) >= 2 for d in ncc.values()), ncc
    assert mean["without_mask"]["nose"] > 0.9 and mean["without_mask"]["mouth"] > 0.75, mean
    assert mean["mask_weared_incorrect"]["nose"] > 0.9 and mean["mask_weared_incorrect"]["mouth"] < 0.5, mean
    assert mean["with_mask"]["nose"] < 0.6 and mean["with_mask"]["mouth"] < 0.5, mean


# --------------------------------------------------------------------------------------------- assets
def test_landmark_template_from_mean_face():
    eyes = assets.locate_mean_face_eyes()
    assert np.allclose(eyes, assets.LANDMARKS[:2], atol=0.06)
    m = assets.mean_face()

    def at(p):
        return float(cv2.getRectSubPix(m, (1, 1), (float(p[0]) - 0.5, float(p[1]) - 0.5))[0, 0])

    cheek_l, cheek_r = at([5.5, 12.5]), at([16.5, 12.5])
    for k in (0, 1, 3, 4):   # eyes and mouth corners are darker than the cheeks
        assert at(assets.LANDMARKS[k]) < min(cheek_l, cheek_r)
    x0, y0, x1, y1 = assets.FACE_BOX
    assert x0 < assets.LANDMARKS[:, 0].min() and assets.LANDMARKS[:, 0].max() < x1
    assert y0 < assets.LANDMARKS[:, 1].min() and assets.LANDMARKS[:, 1].max() < y1
    # the face axis: eye mid-point and nose share x; mouth corners symmetric about it
    axis = assets.LANDMARKS[:2, 0].mean()
    assert abs(assets.LANDMARKS[2, 0] - axis) < 1e-9
    assert abs(assets.LANDMARKS[3:, 0].mean() - axis) < 0.11


def test_backgrounds_are_bundled_and_face_free():
    assert "astronaut.png" not in assets.BACKGROUNDS and "camera.png" not in assets.BACKGROUNDS
    for name in assets.BACKGROUNDS:
        img = assets.background(name)
        assert img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 150
    faces, non_faces = assets.lfw_faces()
    assert faces.shape == non_faces.shape == (100, 25, 25)


def test_a_real_face_detector_finds_the_faces(data):
    """Realism check: OpenCV's LBP frontal-face cascade (trained on real photographs, bundled with
    scikit-image) finds most clean, upright faces of >= 40 px in the generated val images."""
    from skimage.feature import Cascade

    out, meta = data
    cascade = Cascade(os.path.join(assets.skimage_data_dir(), "lbpcascade_frontalface_opencv.xml"))
    hit = total = 0
    for im in meta["val"]:
        clean = [f for f in im["faces"] if f["box"][3] >= 40 and not f["attrs"]["occlusion"]
                 and not f["attrs"]["invalid"] and not f["attrs"]["blur"] and abs(f["angle"]) <= 12]
        if not clean:
            continue
        img = cv2.imread(str(out / "val" / "images" / im["name"]), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        dets = cascade.detect_multi_scale(img=img, scale_factor=1.25, step_ratio=1, min_size=(36, 36),
                                          max_size=(400, 400))
        for f in clean:
            x, y, w, h = f["box"]
            for d in dets:
                ix = max(0, min(x + w, d["c"] + d["width"]) - max(x, d["c"]))
                iy = max(0, min(y + h, d["r"] + d["height"]) - max(y, d["r"]))
                if ix * iy / (w * h + d["width"] * d["height"] - ix * iy) > 0.25:
                    hit += 1
                    break
            total += 1
        if total >= 30:
            break
    assert total >= 15 and hit / total >= 0.6, (hit, total)


# --------------------------------------------------------------------------------------------- --overfit
@pytest.fixture(scope="session")
def overfit(tmp_path_factory):
    """``--overfit 8`` with the default seed, generated fresh (offline)."""
    out = tmp_path_factory.mktemp("overfit") / "overfit8"
    res = run_cli(out, "--overfit", 8, offline=True)
    assert "overfit: train and val are the same 8 images" in res.stdout
    with open(out / META_NAME) as fh:
        return out, json.load(fh)


def test_overfit_train_and_val_are_the_same_images(overfit):
    """Both splits hold the same 8 images, byte for byte, in every layout (split txt and mat, label.txt, the val
    ground truth, the RetinaFace lists); the Face-Mask set has 8 images too."""
    out, meta = overfit
    assert meta["overfit"]["images"] == 8 and meta["num_train"] == meta["num_val"] == 8
    assert meta["train"] == meta["val"] and len(meta["train"]) == 8 and len(meta["facemask"]) == 8
    names = [im["name"] for im in meta["train"]]
    for split in ("train", "val"):
        jpgs = sorted(r for r, (kind, _) in _tree(out / f"WIDER_{split}" / "images").items()
                      if kind == "file" and r.endswith(".jpg"))
        assert jpgs == sorted(names), split
        assert os.readlink(out / split / "images") == f"../WIDER_{split}/images"
    for name in names:
        assert filecmp.cmp(out / "WIDER_train" / "images" / name, out / "WIDER_val" / "images" / name, shallow=False)
    split_dir = out / "wider_face_split"
    train_txt, val_txt = split_dir / "wider_face_train_bbx_gt.txt", split_dir / "wider_face_val_bbx_gt.txt"
    assert train_txt.read_bytes() == val_txt.read_bytes()
    assert [p[0] for p in formats.read_split_txt(split_dir / "wider_face_val_bbx_gt.txt")] == names
    assert [p[0] for p in formats.read_label_txt(out / "train" / "label.txt")] == names
    assert [p[0] for p in formats.read_label_txt(out / "val" / "label.txt")] == names
    for rows, im in zip([p[1] for p in formats.read_label_txt(out / "train" / "label.txt")], meta["train"]):
        assert [r[:4] for r in rows] == [f["box"] for f in im["faces"]]
    assert (out / "val" / "wider_val.txt").read_text().split() == ["/" + n for n in names]


def test_overfit_images_are_the_first_trainable_ones_of_the_default_set(overfit, data):
    """For N <= 16 the overfit images are the first N train images of the default set (seed 0), in generation
    order, that have an easy face (>= 50 px, valid) and no valid face under 30 px: same names, same bytes, same
    records."""
    out, meta = overfit
    d_out, d_meta = data
    by_name = {im["name"]: im for im in d_meta["train"]}
    order = [sp["name"] for sp in plan(0, 64, 32)["train"]]

    def trainable(im):
        hs = [f["box"][3] for f in im["faces"] if not f["attrs"]["invalid"]]
        return bool(hs) and max(hs) >= 50 and min(hs) >= 30
    want = [n for n in order if trainable(by_name[n])][:8]
    assert sorted(im["name"] for im in meta["train"]) == sorted(want)
    assert meta["train"] == formats.ordered([by_name[n] for n in want])
    for n in want:
        assert filecmp.cmp(out / "WIDER_train" / "images" / n, d_out / "WIDER_train" / "images" / n, shallow=False)
    faces = [f for im in meta["train"] for f in im["faces"] if not f["attrs"]["invalid"]]
    assert min(f["box"][3] for f in faces) >= 30 and all(any("easy" in f["settings"] for f in im["faces"])
                                                         for im in meta["train"])


def test_overfit_ground_truth_scores_its_faces_at_ap_1(overfit, tmp_path):
    assert evaluate_ground_truth_as_predictions(*overfit, tmp_path).num_images == 8


@pytest.mark.parametrize("args, message", [
    (["--overfit", "0"], "--overfit must be between 1 and 64"),
    (["--overfit", "65"], "--overfit must be between 1 and 64"),
    (["--overfit", "4", "--num-train", "5"], "leave out --num-train / --num-val"),
])
def test_overfit_rejects_bad_options(tmp_path, args, message):
    res = subprocess.run([sys.executable, SCRIPT, "--out", str(tmp_path / "x"), *args], capture_output=True,
                         text=True)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists()
