import json
import math
import os

import cv2
import numpy as np
import pytest

from src import augment
from src.coco_convert import convert, parse_label_txt
from src.config import Config
from src.dataset import WiderFaceCOCO
from src.errors import DataError
from src.decode import decode_chenjun2hao, decode_official, nms_plus1
from src.transforms import get_affine_transform, preprocess, to_image_coords
from tinydata import build


def maps(h=8, w=10):
    return (np.zeros((1, h, w), np.float32), np.zeros((2, h, w), np.float32), np.zeros((2, h, w), np.float32),
            np.zeros((10, h, w), np.float32))


def test_decode_chenjun2hao_hand_made():
    hm, wh, off, lm = maps()
    hm[0, 3, 4] = 0.9
    hm[0, 3, 5] = 0.8  # not a 3x3 peak: suppressed
    hm[0, 6, 1] = 0.4
    wh[:, 3, 4] = [math.log(2.0), math.log(1.0)]  # w = 4·2 = 8, h = 4 output px
    off[:, 3, 4] = [0.25, 0.5]  # (x, y)
    lm[:, 3, 4] = [-1, -1, 1, -1, 0, 0, -1, 1, 1, 1]  # (x, y) from the integer cell
    d = decode_chenjun2hao(hm, wh, off, lm, top_k=3)
    assert d.shape == (3, 15)
    np.testing.assert_allclose(d[:2, 4], [0.9, 0.4])
    cx, cy = 4.25, 3.5
    np.testing.assert_allclose(d[0, :4], np.array([cx - 4, cy - 2, cx + 4, cy + 2]) * 4, rtol=1e-6)
    np.testing.assert_allclose(d[0, 5:7], [(4 - 1) * 4, (3 - 1) * 4])
    np.testing.assert_allclose(d[0, 13:15], [(4 + 1) * 4, (3 + 1) * 4])
    d2 = decode_chenjun2hao(hm, wh, off, lm, top_k=3, threshold=0.5)
    assert len(d2) == 1


def test_decode_official_hand_made():
    hm, sc, off, lm = maps()
    hm[0, 3, 4] = 0.9
    hm[0, 3, 5] = 0.8  # overlaps the first: removed by NMS (no peak extraction)
    hm[0, 0, 0] = 0.6
    sc[:, 3, 4] = [math.log(4.0), math.log(2.0)]  # h = 16, w = 8 input px
    sc[:, 3, 5] = [math.log(4.0), math.log(2.0)]
    off[:, 3, 4] = [0.25, 0.5]  # (y, x)
    lm[:, 3, 4] = [0.5, 0.25] * 5  # (y, x) normalised from the top-left
    sc[:, 0, 0] = [math.log(4.0), math.log(4.0)]  # 16 x 16 at the corner: clamped to x1 = y1 = 0
    d = decode_official(hm, sc, off, lm, (32, 40), threshold=0.5, nms_thresh=0.3)
    assert d.shape == (2, 15)
    cx, cy = (4 + 0.5 + 0.5) * 4, (3 + 0.25 + 0.5) * 4
    np.testing.assert_allclose(d[0, :5], [cx - 4, cy - 8, cx + 4, cy + 8, 0.9], rtol=1e-6)
    np.testing.assert_allclose(d[0, 5:7], [cx - 4 + 0.25 * 8, cy - 8 + 0.5 * 16], rtol=1e-6)
    np.testing.assert_allclose(d[1, :4], [0, 0, 16, 16])  # x2 = min(x1 + w, W) with the clamped x1


def test_nms_plus1_threshold_is_inclusive():
    a = np.array([[0, 0, 9, 9, 0.9], [0, 0, 9, 9, 0.8], [20, 20, 29, 29, 0.7]], np.float32)
    assert nms_plus1(a, 0.3).tolist() == [0, 2]
    b = np.array([[0, 0, 9, 9, 0.9], [5, 0, 14, 9, 0.8]], np.float32)  # IoU (+1) = 50 / 150 = 1/3
    assert nms_plus1(b, 1 / 3 - 1e-6).tolist() == [0]
    assert nms_plus1(b, 0.34).tolist() == [0, 1]


def plain_greedy_nms(dets, thresh):
    """The reference's NMS loop as written (Star-Clouds centerface.py): every kept box against all later ones."""
    x1, y1, x2, y2, s = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = s.argsort()[::-1]
    suppressed = np.zeros(len(dets), bool)
    keep = []
    with np.errstate(all="ignore"):
        for k, i in enumerate(order):
            if suppressed[i]:
                continue
            keep.append(i)
            j = order[k + 1:]
            j = j[~suppressed[j]]
            xx1, yy1 = np.maximum(x1[i], x1[j]), np.maximum(y1[i], y1[j])
            xx2, yy2 = np.minimum(x2[i], x2[j]), np.minimum(y2[i], y2[j])
            inter = np.maximum(0, xx2 - xx1 + 1) * np.maximum(0, yy2 - yy1 + 1)
            suppressed[j[inter / (areas[i] + areas[j] - inter) >= thresh]] = True
    return np.array(keep, np.int64)


def test_nms_is_the_plain_greedy_nms_on_large_random_cases():
    """nms_plus1 (grid-accelerated, for the ~10^5 boxes of an untrained network) keeps exactly the boxes of the plain
    greedy loop: 10^5 boxes in 300 clusters, then random sets with tied scores, boxes larger than the grid, boxes
    with inf / NaN coordinates, negative sizes, and thresholds 0 and below (every later box suppressed)."""
    rng = np.random.RandomState(0)
    n = 100000
    centres = (rng.rand(300, 2) * 1000)[rng.randint(0, 300, n)] + rng.randn(n, 2) * 6
    wh = rng.uniform(8, 60, (n, 2))
    dets = np.concatenate([centres - wh / 2, centres + wh / 2, rng.rand(n, 1)], 1).astype(np.float32)
    keep = nms_plus1(dets, 0.3)
    assert 1000 < len(keep) < n and np.array_equal(keep, plain_greedy_nms(dets, 0.3))
    for trial in range(12):
        n = rng.randint(1, 1500)
        xy = rng.rand(n, 2) * (50, 300, 2000)[trial % 3]
        dets = np.concatenate([xy, xy + rng.rand(n, 2) * (5, 40, 400)[trial % 4 % 3], rng.rand(n, 1)], 1)
        dets = dets.astype(np.float32)
        if trial % 2:
            dets[:, 4] = np.round(dets[:, 4], 1)  # ties: the order of argsort()[::-1]
        if trial % 3 == 0:
            dets[rng.rand(n) < 0.05, 2] = np.inf
            dets[rng.rand(n) < 0.05, 0] = np.nan
        if trial % 4 == 0:
            dets[rng.rand(n) < 0.1, 2] -= 500
            dets[:3, :4] = [[0, 0, 5000, 5000], [-10, -10, 3000, 10], [5, 5, 6, 6]]
        for thresh in (0.3, 0.5, 0.01, 1.0, 0.0, -1.0):
            assert np.array_equal(nms_plus1(dets, thresh), plain_greedy_nms(dets, thresh)), (trial, thresh)
    # coordinates of 10^19 grid cells (1-px cells: zero-size boxes) that still have finite float32 areas: the second
    # big box is suppressed by the first (the cell ids once overflowed int64 and the pair was never compared)
    xy = rng.rand(50, 2) * 300
    dets = np.concatenate([np.concatenate([xy, xy, rng.rand(50, 1) * 0.5], 1),
                           [[0, 0, 1.3e19, 1.2e19, 0.9], [1e17, 0, 1.3e19, 1.2e19, 0.8]]]).astype(np.float32)
    keep = nms_plus1(dets, 0.3)
    assert 50 in keep and 51 not in keep and np.array_equal(keep, plain_greedy_nms(dets, 0.3))


def test_letterbox_round_trip():
    img = np.zeros((300, 500, 3), np.uint8)
    x, meta = preprocess(img, "bgr_norm", "letterbox", 800)
    assert x.shape == (3, 800, 800)
    d = np.zeros((1, 15), np.float32)
    d[0, :4] = [0, 160, 800, 640]  # the letterboxed image occupies rows 160..640
    back = to_image_coords(d, meta)
    np.testing.assert_allclose(back[0, :4], [0, 0, 500, 300], atol=1e-3)


def _marker_image():
    img = np.full((120, 160, 3), 50, np.uint8)
    pts = np.array([[50, 40], [100, 40], [75, 60], [55, 85], [95, 85]], np.float32)
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    for (x, y), c in zip(pts, colors):
        cv2.rectangle(img, (int(x) - 4, int(y) - 4), (int(x) + 4, int(y) + 4), c, -1)
    return img, pts, colors


def test_flip_and_affine_keep_landmarks_on_their_pixels():
    img, pts, colors = _marker_image()
    boxes = np.array([[30, 20, 120, 100]], np.float32)
    lms = np.concatenate([pts, np.full((5, 1), 2, np.float32)], 1)[None]
    rng = np.random.RandomState(3)
    img2, boxes2, lms2 = augment.data_anchor_sample(img, boxes, lms, rng)
    c, s = augment.random_crop_center(*img2.shape[:2], rng)
    f_img, f_boxes, f_lms, f_c = augment.hflip(img2, boxes2, lms2, c)
    t = get_affine_transform(f_c, s, (256, 256))
    warped = cv2.warpAffine(f_img, t, (256, 256), flags=cv2.INTER_NEAREST)
    wb, wl = augment.warp_annotations(f_boxes, f_lms, t)
    # after the flip the labels are swapped: point 0 (image-left eye) lies on what was the right eye's marker
    expect = [colors[1], colors[0], colors[2], colors[4], colors[3]]
    for j in range(5):
        x, y = wl[0, j, :2]
        assert tuple(int(v) for v in warped[int(round(y)), int(round(x))]) == expect[j], j
    assert wl[0, 0, 0] < wl[0, 1, 0]  # still left of the right eye in the image
    # box corners follow the pixels: the flipped box contains all landmarks
    assert (wl[0, :, 0] > wb[0, 0]).all() and (wl[0, :, 0] < wb[0, 2]).all()


def test_dataset_item_alignment_without_colour(tmp_path):
    root = build(str(tmp_path / "d"))
    js = str(tmp_path / "train.json")
    convert(os.path.join(root, "train", "label.txt"), os.path.join(root, "WIDER_train", "images"), js)
    ds = WiderFaceCOCO(js, os.path.join(root, "WIDER_train", "images"),
                       Config.preset().replace(input_size=128, color_aug=False, seed=1), train=True)
    for i in range(len(ds)):
        inp, boxes, lms, ok = ds.load(i, np.random.RandomState(i))
        assert inp.shape == (128, 128, 3)
        x, t = ds[i]
        assert x.shape == (3, 128, 128) and t["hm"].shape == (1, 32, 32)
        assert t["reg_mask"].sum() >= 1 and t["hm"].max() == 1.0
    # same seed, epoch and index: the same sample (exact resume relies on it)
    a, b = ds[0], ds[0]
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1]["hm"], b[1]["hm"])


def test_json_converter_round_trip(tmp_path):
    root = build(str(tmp_path / "d"))
    label = os.path.join(root, "val", "label.txt")
    js = str(tmp_path / "val.json")
    st = convert(label, os.path.join(root, "WIDER_val", "images"), js)
    coco = json.load(open(js))
    entries = parse_label_txt(label)
    assert st["images"] == len(entries) == len(coco["images"]) and st["empty_images"] == 1
    by_img = {}
    for a in coco["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a)
    for im, (name, faces) in zip(coco["images"], entries):
        assert im["file_name"] == name and im["height"] == 192 and im["width"] == 256
        anns = by_img.get(im["id"], [])
        assert len(anns) == len(faces)
        for a, (_, vals) in zip(anns, faces):
            assert a["bbox"] == vals[:4]
            if vals[4] < 0:
                assert a["num_keypoints"] == 0 and a["keypoints"] == [0.0] * 15
            else:
                assert [a["keypoints"][3 * j + k] for j in range(5) for k in range(2)] == \
                       [vals[4 + 3 * j + k] for j in range(5) for k in range(2)]
                assert a["keypoints"][2::3] == [2.0] * 5
    # val dataset keeps the image without faces, train drops it
    cfg = Config.preset().replace(input_size=128)
    assert len(WiderFaceCOCO(js, os.path.join(root, "WIDER_val", "images"), cfg, train=False)) == 3
    assert len(WiderFaceCOCO(js, os.path.join(root, "WIDER_val", "images"), cfg, train=True)) == 2
    # without augmentation too (--no_augment): the training set has the images with faces only
    assert len(WiderFaceCOCO(js, os.path.join(root, "WIDER_val", "images"), cfg.replace(augment=False))) == 2


def test_converter_errors(tmp_path):
    root = build(str(tmp_path / "d"))
    with pytest.raises(DataError, match="label file not found"):
        convert(str(tmp_path / "nope.txt"), root, str(tmp_path / "o.json"))
    bad = tmp_path / "bad.txt"
    bad.write_text("# 0--Parade/a.jpg\n1 2 3\n")
    with pytest.raises(DataError, match=r"bad.txt:2: expected 4 or >= 19"):
        convert(str(bad), root, str(tmp_path / "o.json"))
    img = os.path.join(root, "WIDER_train", "images", "0--Parade", "Parade_train_0.jpg")
    open(img, "wb").write(b"not a jpeg")
    with pytest.raises(DataError, match="Parade_train_0.jpg: not a complete image"):
        convert(os.path.join(root, "train", "label.txt"), os.path.join(root, "WIDER_train", "images"),
                str(tmp_path / "o.json"))


def test_malformed_coco_json_is_one_line(tmp_path):
    """A user's annotations/*_wider_face.json with a bad entry: the file and the entry named, not a KeyError."""
    cfg = Config.preset()
    for coco, what in [({"images": [{"file_name": "a.jpg"}], "annotations": []}, "image #0 is malformed (no 'id')"),
                       ({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1}]},
                        "annotation #0 is malformed (no 'bbox')"),
                       ({"images": [[1, "a.jpg"]], "annotations": []}, "image #0 is malformed (list indices")]:
        js = tmp_path / "a.json"
        js.write_text(json.dumps(coco))
        with pytest.raises(DataError) as e:
            WiderFaceCOCO(str(js), str(tmp_path), cfg, train=False)
        assert str(e.value).startswith(f"{js}: {what}"), str(e.value)


def test_more_than_32_faces_sampled_without_replacement(tmp_path):
    img = np.full((400, 400, 3), 80, np.uint8)
    os.makedirs(tmp_path / "img" / "0--Parade")
    cv2.imwrite(str(tmp_path / "img" / "0--Parade" / "a.jpg"), img)
    anns = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [10 + (i % 8) * 45, 10 + (i // 8) * 45, 30, 30],
             "keypoints": [0] * 15} for i in range(40)]
    js = tmp_path / "a.json"
    js.write_text(json.dumps({"images": [{"id": 1, "file_name": "0--Parade/a.jpg"}], "annotations": anns}))
    ds = WiderFaceCOCO(str(js), str(tmp_path / "img"), Config.preset().replace(input_size=128), train=False)
    for seed in range(5):
        _, boxes, _, _ = ds.load(0, np.random.RandomState(seed))
        assert len(boxes) == 32
        assert len({tuple(np.round(b, 3)) for b in boxes}) == 32  # no face twice
    # with a seed (as train.py builds the val set) the same 32 faces are kept every time
    ds = WiderFaceCOCO(str(js), str(tmp_path / "img"), Config.preset().replace(input_size=128, seed=317), train=False)
    a, b = ds[0][1], ds[0][1]
    assert a["reg_mask"].sum() == 32 and np.array_equal(a["ind"], b["ind"])


def test_colour_aug_pca_lighting_uses_the_reference_eigen_values():
    # with var = 0 brightness / contrast / saturation are identities; what is left is the PCA lighting
    # image += V · (λ ∘ α), α ~ N(0, 0.1²), with the reference's (CenterNet) eigen values and vectors
    lam = np.array([0.2141788, 0.01817699, 0.00341571])
    vec = np.array([[-0.58752847, -0.69563484, 0.41340352],
                    [-0.5832747, 0.00994535, -0.81221408],
                    [-0.56089297, 0.71832671, 0.41158938]])
    img = np.random.RandomState(0).rand(6, 7, 3).astype(np.float32)
    out = augment.color_aug(np.random.RandomState(5), img.copy(), var=0.0)
    r = np.random.RandomState(5)
    r.shuffle([0, 1, 2])
    for _ in range(3):
        r.uniform(low=-0.0, high=0.0)
    alpha = r.normal(scale=0.1, size=(3,))
    np.testing.assert_allclose(out - img, np.broadcast_to(vec @ (lam * alpha), img.shape), atol=1e-6)
    # the three jitters in the shuffled order on a grey image (grey = 0.5 everywhere, so gs = gs_mean = 0.5):
    # brightness v·a, contrast a·v + (1 − a)·gs_mean, saturation a·v + (1 − a)·gs, a = 1 + U(−0.4, 0.4)
    grey = np.full((4, 4, 3), 0.5, np.float32)
    out = augment.color_aug(np.random.RandomState(1), grey.copy(), alphastd=0.0)
    r = np.random.RandomState(1)
    order = [0, 1, 2]
    r.shuffle(order)
    v = 0.5
    for f in order:
        a = 1 + r.uniform(-0.4, 0.4)
        v = v * a if f == 0 else a * v + (1 - a) * 0.5
    np.testing.assert_allclose(out, v, atol=1e-6)


@pytest.mark.parametrize("side,nearest_idx", [(20, 0), (50, 3), (200, 6), (400, 7)])
def test_data_anchor_sampling_scales_a_face_to_an_anchor_up_to_96(side, nearest_idx):
    """DAS: side s = sqrt((w+1)(h+1)); target = one of anchors[0 : min(nearest+1, 5)] (<= 96 px); the face ends at
    target · 2^U(-1, 1), i.e. within [target/2, 2·target]; boxes and landmarks scale with the image."""
    anchors = [16, 32, 48, 64, 96, 128, 256, 512]
    img = np.zeros((600, 800, 3), np.uint8)
    w = h = side - 1.0  # so that sqrt((w+1)(h+1)) = side
    boxes = np.array([[10, 20, 10 + w, 20 + h]], np.float32)
    lms = np.array([[[15, 25, 2]] * 5], np.float32)
    allowed = anchors[:min(nearest_idx + 1, 5)]
    seen = set()
    for seed in range(40):
        out, b, lm = augment.data_anchor_sample(img, boxes, lms, np.random.RandomState(seed))
        sx, sy = out.shape[1] / 800, out.shape[0] / 600
        np.testing.assert_allclose(b[0], boxes[0] * [sx, sy, sx, sy], rtol=1e-5)
        np.testing.assert_allclose(lm[0, :, :2], lms[0, :, :2] * [sx, sy], rtol=1e-5)
        ratio = out.shape[1] / 800
        t = [a for a in allowed if a / 2 - 1 <= side * ratio <= 2 * a + 1]
        assert t, (side * ratio, allowed)
        seen.add(min(t))
    assert max(allowed) <= 96
    if len(allowed) > 1:
        assert len(seen) > 1  # the target anchor is random


def test_random_crop_centre_keeps_the_border():
    for seed in range(50):
        rng = np.random.RandomState(seed)
        c, s = augment.random_crop_center(300, 500, rng)
        assert s == 500
        # border = s·{0.1, 0.2, 0.25} = 50 / 100 / 125 fits both sides here: c in [border, size - border)
        assert 50 <= c[0] < 450 and 50 <= c[1] < 250
