"""Data: the three annotation readers and the 'other' txt, preprocessing keeping boxes on their pixels, the MindRecord
(round trip, stale and partial detection, the waiting rank), the resumable data order, the FaceMask helpers."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from helpers import FACE_YAML, FACEMASK_YAML, config
from src import dataset as D
from src.errors import DataError


# ---------------------------------------------------------------------------------------------- readers

def test_wider_reader_skips_invalid_faces(mini_data):
    cfg = config(FACE_YAML, f"--wider_root={mini_data}")
    files, annos = D.create_wider_label(True, cfg)
    from widerface_eval import read_split_file
    entries = read_split_file(os.path.join(mini_data, "wider_face_split", "wider_face_train_bbx_gt.txt"))
    assert len(files) == len(entries) == 64
    for path, e in zip(files, entries):
        assert path == os.path.join(mini_data, "WIDER_train", "images", e.name) and os.path.isfile(path)
        keep = (e.attrs[:, 3] == 0) & (e.boxes[:, 2] > 0) & (e.boxes[:, 3] > 0) if len(e.boxes) else np.zeros(0, bool)
        rows = annos[path]
        if keep.sum():
            x, y, w, h = e.boxes[keep].T
            np.testing.assert_array_equal(rows, np.stack([x, y, x + w, y + h, np.ones_like(x), 0 * x], 1))
        else:
            np.testing.assert_array_equal(rows, [D.DUMMY_ROW])
    assert sum(1 for e in entries if len(e.boxes) and (e.attrs[:, 3] == 1).any()) > 0   # some faces were invalid


def _facemask_coco(mini_data, tmp_path):
    from src.xml2coco import xml2coco
    ann = tmp_path / "ann"
    shutil.copytree(os.path.join(mini_data, "facemask", "annotations"), ann / "annotations")
    # an edge box (xmin 0) the reference's converter dropped
    p = ann / "annotations" / "maksssksksss0.xml"
    p.write_text(p.read_text().replace("<xmin>26</xmin>", "<xmin>0</xmin>"))
    coco = xml2coco(str(ann), str(tmp_path / "root" / "annotations" / "instances_train2017.json"), progress=False)
    os.symlink(os.path.join(mini_data, "facemask", "images"), tmp_path / "root" / "train2017")
    return coco


def test_xml2coco_keeps_edge_boxes_and_kaggle_names(mini_data, tmp_path):
    coco = _facemask_coco(mini_data, tmp_path)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert names == {1: "with_mask", 2: "without_mask", 3: "mask_worn_incorrectly"}
    counts = {n: sum(a["category_id"] == i for a in coco["annotations"]) for i, n in names.items()}
    assert counts == {"with_mask": 17, "without_mask": 11, "mask_worn_incorrectly": 8}   # the 36 objects
    first = [a for a in coco["annotations"] if a["image_id"] == 0]
    assert [0, 109, 49, 30] in [a["bbox"] for a in first]                              # xmin 0 kept


def test_coco_reader(mini_data, tmp_path):
    _facemask_coco(mini_data, tmp_path)
    cfg = config(FACEMASK_YAML, f"--coco_root={tmp_path / 'root'}")
    files, annos = D.create_coco_label(True, cfg)
    assert len(files) == 16 and all(os.path.isfile(f) for f in files)
    rows = np.concatenate([annos[f] for f in files])
    assert rows.shape == (36, 6) and set(rows[:, 4]) == {1, 2, 3} and (rows[:, 5] == 0).all()
    assert (rows[:, 2] > rows[:, 0]).all() and (rows[:, 3] > rows[:, 1]).all()


def test_other_txt_reader_five_and_six_fields(tmp_path, mini_data):
    imgs = os.path.join(mini_data, "facemask", "images")
    lst = tmp_path / "train.txt"
    lst.write_text("maksssksksss0.png 0,259,401,459,2 35,28,324,201,1,1\n\nmaksssksksss1.png\nmissing.png 1,2,3,4,1\n")
    files, annos = D.create_train_data_from_txt(imgs, str(lst))
    assert [os.path.basename(f) for f in files] == ["maksssksksss0.png", "maksssksksss1.png"]
    np.testing.assert_array_equal(annos[files[0]], [[0, 259, 401, 459, 2, 0], [35, 28, 324, 201, 1, 1]])
    np.testing.assert_array_equal(annos[files[1]], [D.DUMMY_ROW])
    cfg = config(FACEMASK_YAML)
    coco = D.parse_json_annos_from_txt(str(lst), cfg)
    assert [i["id"] for i in coco["images"]] == [1, 2, 3]
    assert coco["annotations"][0]["bbox"] == [0.0, 259.0, 401.0, 200.0] and coco["annotations"][1]["iscrowd"] == 1


@pytest.mark.parametrize("line, message", [
    ("a.png 1,2,3", "needs 5 or 6 comma-separated fields"),
    ("a.png 1,2,x,4,1", "coordinates must be numbers"),
    ("a.png 10,2,3,4,1", "x2 < x1"),
    ("a.png 1,2,3,4,1,2", "iscrowd 0 or 1"),
])
def test_malformed_txt_line_names_file_and_line(tmp_path, line, message):
    lst = tmp_path / "bad.txt"
    lst.write_text("a.png 1,2,3,4,1\n" + line + "\n")
    with pytest.raises(DataError, match=rf"bad.txt:2: .*{message}"):
        D.create_train_data_from_txt(str(tmp_path), str(lst))


def test_malformed_json_and_xml(tmp_path):
    bad = tmp_path / "instances.json"
    bad.write_text('{"images": [\n {"id": 1, "file_name": "a.jpg"},\n oops]}')
    with pytest.raises(DataError, match=r"instances.json:3: not valid JSON"):
        D.load_coco(str(bad))
    bad.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "f"}],
                               "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]}))
    with pytest.raises(DataError, match=r"annotations\[0\] \(id 5\): 'bbox' must be \[x, y, w, h\]"):
        D.load_coco(str(bad))
    from src.xml2coco import read_voc
    x = tmp_path / "a.xml"
    x.write_text("<annotation>\n<filename>a.png</filename>\n<size><width>4</width>\n</annotation>")
    with pytest.raises(DataError, match=r"a.xml:4: not valid XML"):
        read_voc(str(x))
    x.write_text("<annotation><filename>a.png</filename><size><width>4</width><height>x</height></size></annotation>")
    with pytest.raises(DataError, match=r"a.xml: <size/height> is not a number"):
        read_voc(str(x))


def test_split_data_keeps_every_image(mini_data, tmp_path):
    from src.split_data import split
    train, val = split(os.path.join(mini_data, "facemask"), str(tmp_path / "out"), progress=False)
    assert len(train) == 12 and len(val) == 4 and not set(train) & set(val)
    assert len(os.listdir(tmp_path / "out" / "val" / "images")) == 4
    assert split(os.path.join(mini_data, "facemask"), str(tmp_path / "out2"), progress=False) == (train, val)


# ---------------------------------------------------------------------------------------------- preprocessing

def _bright_box(chw, config_):
    """The bounding box (inclusive pixels) of the bright region of a normalised CHW canvas."""
    rgb = chw.transpose(1, 2, 0) * D.STD + D.MEAN
    ys, xs = np.nonzero(rgb.mean(2) > 128)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float64)


@pytest.mark.parametrize("hw, flags", [((300, 400), ()), ((1000, 400), ()), ((300, 400), ("--keep_ratio=False",))])
def test_train_preprocessing_keeps_boxes_on_their_pixels(hw, flags):
    cfg = config(FACE_YAML, "--img_height=384", "--img_width=640", "--flip_ratio=0.5", "--expand_ratio=1.0", *flags)
    h, w = hw
    img = np.zeros((h, w, 3), np.uint8)
    img[60:200, 50:150] = 255                                    # pixels x 50..149, y 60..199
    box = np.array([[50, 60, 149, 199, 1, 0]])
    seen = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        flip, expand = rng.random() < 0.5, rng.random() < 1.0 and not rng.integers(2)
        seen.add((flip, expand))
        x, shape, gt, label, valid = D.preprocess_train(img, box, cfg, np.random.default_rng(seed))
        assert x.shape == (3, 384, 640) and shape.tolist() == [384, 640, 1.0]
        assert label[0] == 1 and valid[0] and not valid[1:].any() and (label[1:] == -1).all()
        np.testing.assert_allclose(gt[0], _bright_box(x, cfg), atol=1.5)
        if cfg.keep_ratio and not expand:
            s = min(640 / max(h, w), 384 / min(h, w))
            if int(h * s + 0.5) > 384:                              # the portrait rule: fit 384 x 384 again
                s *= min(384 / int(h * s + 0.5), 384 / int(w * s + 0.5))
            assert gt[0, 3] - gt[0, 1] == pytest.approx(139 * s, abs=1e-3)
        # the padding (zeros before normalisation) reads -mean / std in RGB, opposite the content's corner
        corner = x[:, -1, 0] if flip else x[:, -1, -1]
        if cfg.keep_ratio:
            np.testing.assert_allclose(corner, -D.MEAN / D.STD, rtol=1e-6)
    assert len(seen) == 4                                           # flip and expansion, each on and off


def test_eval_preprocessing_portrait_rule_and_meta():
    cfg = config(FACE_YAML)
    img = np.full((600, 512, 3), 77, np.uint8)                      # grace_hopper's size
    x, meta = D.preprocess_eval(img, cfg)
    assert meta.tolist() == pytest.approx([600, 512, 1.28, 1.28])   # 1.5 then 768 / 900 -> 1.28
    rows = np.nonzero(np.abs(x[0, :, 0] - (77 - D.MEAN[0]) / D.STD[0]) < 1e-4)[0]
    cols = np.nonzero(np.abs(x[0, 0, :] - (77 - D.MEAN[0]) / D.STD[0]) < 1e-4)[0]
    assert (rows.max() + 1, cols.max() + 1) == (768, 655)


# ---------------------------------------------------------------------------------------------- MindRecord

def _rows(mini_data, n):
    cfg = config(FACE_YAML, f"--wider_root={mini_data}")
    files, annos = D.create_wider_label(True, cfg)
    return files[:n], {f: annos[f] for f in files[:n]}


def test_mindrecord_round_trip_reuse_stale_partial(mini_data, tmp_path):
    import mindspore.dataset as de
    files, annos = _rows(mini_data, 20)
    out = str(tmp_path / "mr")
    parts = D.write_mindrecord(files, annos, out, "X.mindrecord", workers=1, progress=False)
    ds = de.MindDataset(parts, columns_list=["image", "annotation"], shuffle=False)
    rows = list(ds.create_dict_iterator(output_numpy=True))
    assert len(rows) == 20
    for f, r in zip(files, rows):
        with open(f, "rb") as fh:
            assert bytes(r["image"]) == fh.read()
        np.testing.assert_array_equal(r["annotation"], np.asarray(annos[f], np.int32).reshape(-1, 6))
    fp = D._fingerprint(files, annos, "X.mindrecord")
    assert D.read_marker(out, "X.mindrecord", fp) == parts                        # finished and current: reused
    changed = dict(annos)
    changed[files[3]] = np.array([[1, 2, 30, 40, 1, 0]])
    assert D.read_marker(out, "X.mindrecord", D._fingerprint(files, changed, "X.mindrecord")) is None   # stale
    with open(parts[0], "r+b") as f:                                               # a damaged / partial file
        f.truncate(1000)
    assert D.read_marker(out, "X.mindrecord", fp) is None
    os.remove(D.marker_path(out, "X.mindrecord"))                                  # no marker: unfinished
    assert D.read_marker(out, "X.mindrecord", fp) is None


def test_mindrecord_parallel_parts_keep_the_order(mini_data, tmp_path, monkeypatch):
    import mindspore.dataset as de
    files, annos = _rows(mini_data, 64)
    files = files * 9                                                              # 576 rows -> 3 parts
    monkeypatch.setattr(D, "PART_IMAGES", 192)
    parts = D.write_mindrecord(files, annos, str(tmp_path / "mr"), "P.mindrecord", workers=3, progress=False)
    assert len(parts) == 3
    ds = de.MindDataset(parts, columns_list=["annotation"], shuffle=False)
    got = [r["annotation"] for r in ds.create_dict_iterator(output_numpy=True)]
    assert len(got) == len(files)
    for f, a in zip(files, got):
        np.testing.assert_array_equal(a, np.asarray(annos[f], np.int32).reshape(-1, 6))


def test_truncated_image_is_refused_before_anything_is_written(mini_data, tmp_path):
    files, annos = _rows(mini_data, 5)
    bad = tmp_path / "cut.jpg"
    with open(files[2], "rb") as f:
        bad.write_bytes(f.read()[:3000])
    files = files[:2] + [str(bad)] + files[3:]
    annos[str(bad)] = annos.pop(_rows(mini_data, 5)[0][2])
    out = tmp_path / "mr"
    with pytest.raises(DataError, match=r"cut.jpg: truncated JPEG"):
        D.write_mindrecord(files, annos, str(out), "X.mindrecord", workers=1, progress=False)
    assert sorted(os.listdir(out)) == []


def test_waiting_rank_times_out_with_a_clear_message(mini_data, tmp_path):
    cfg = config(FACE_YAML, f"--wider_root={mini_data}", f"--mindrecord_dir={tmp_path}", "--mindrecord_wait_timeout=1")
    with pytest.raises(DataError, match=r"rank 1 waited 1 s for rank 0 to finish the MindRecord"):
        D.prepare_mindrecord(cfg, rank=1, log=lambda *_: None)
    files, n = D.prepare_mindrecord(cfg, rank=0, log=lambda *_: None)
    assert n == 64 and D.prepare_mindrecord(cfg, rank=1, log=lambda *_: None) == (files, 64)


# ---------------------------------------------------------------------------------------------- data order

def test_train_order_shards_and_resumes():
    order = D.TrainOrder(num_rows=23, batch_size=2, seed=5, device_num=2, rank=0)
    other = D.TrainOrder(num_rows=23, batch_size=2, seed=5, device_num=2, rank=1)
    assert order.steps_per_epoch == 6                                      # ceil(23 / 2) // 2
    rows0, seeds0 = order.epoch(0)
    rows1, _ = other.epoch(0)
    assert len(rows0) == len(rows1) == 12 and set(rows0) | set(rows1) == set(range(23))
    assert len(set(rows0) & set(rows1)) == 1                             # 23 rows + 1 wrapped around
    full_rows, full_seeds = order.steps(0, 15)
    a_rows, a_seeds = order.steps(0, 4)
    b_rows, b_seeds = order.steps(4, 15)
    np.testing.assert_array_equal(np.concatenate([a_rows, b_rows]), full_rows)
    np.testing.assert_array_equal(np.concatenate([a_seeds, b_seeds]), full_seeds)
    assert len(full_rows) == 15 * 2 and not np.array_equal(order.epoch(1)[0], rows0)
    np.testing.assert_array_equal(D.TrainOrder(23, 2, seed=5, device_num=2).epoch(0)[0], rows0)   # deterministic
