"""label.txt parsing, augmentation geometry, the resumable/sharded sampler and the pipeline."""
import os

import cv2
import numpy as np
import pytest

from src.augmentation import (AugmentationError, Preproc, choose_candidates, matrix_iof, photometric_distortion,
                              transform_targets)
from src.dataset import EpochSampler, LabelFormatError, parse_label_entries, parse_label_file
from src.errors import DataError, user_message
from src.image_io import read_image

LABEL = """# ev/a.jpg
10 20 30 40 15.5 30.5 0.0 35.5 30.5 0.0 25.0 40.0 1.0 17.0 50.0 0.0 33.0 50.0 0.0 0.82
5 5 0 10 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 0.1
50 60 8 9 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 0.3
# ev/b.jpg
1 2 3 4
# ev/empty.jpg
"""


def _write(tmp_path, text, name="label.txt"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_parse_label_rows_and_flags(tmp_path):
    path = _write(tmp_path, LABEL)
    entries = parse_label_entries(path)
    assert [os.path.relpath(p, tmp_path / "images") for p, _ in entries] == ["ev/a.jpg", "ev/b.jpg", "ev/empty.jpg"]
    a = entries[0][1]
    assert a.shape == (2, 15)                                       # the w = 0 face is dropped
    np.testing.assert_allclose(a[0], [10, 20, 40, 60, 15.5, 30.5, 35.5, 30.5, 25, 40, 17, 50, 33, 50, 1])
    np.testing.assert_allclose(a[1, :4], [50, 60, 58, 69])
    assert a[1, 14] == -1 and (a[1, 4:14] == -1).all()              # no landmarks -> flag -1
    np.testing.assert_allclose(entries[1][1], [[1, 2, 4, 6] + [-1] * 11])   # "x y w h" only (val/label.txt)
    assert entries[2][1].shape == (0, 15)
    assert [os.path.basename(p) for p, _ in parse_label_file(path)] == ["a.jpg", "b.jpg"]   # training drops empty


@pytest.mark.parametrize("text,line,what", [
    ("# ev/a.jpg\n1 2 3\n", 2, "expected 4 or 20 numbers"),
    ("# ev/a.jpg\n1 2 3 x\n", 2, "non-numeric"),
    ("1 2 3 4\n", 1, "before the first"),
    ("# ev/a.jpg\n1 2 3 4\n#\n", 3, "without an image path"),
])
def test_malformed_label_lines(tmp_path, text, line, what):
    path = _write(tmp_path, text)
    with pytest.raises(LabelFormatError, match=f"label.txt:{line}: .*{what}"):
        parse_label_entries(path)


def test_read_image_errors(tmp_path, shared_dir):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(DataError, match="bad.jpg: not a complete image"):
        read_image(str(bad))
    with pytest.raises(DataError, match="missing.jpg: cannot read the image"):
        read_image(str(tmp_path / "missing.jpg"))
    # issue 13 #1: a real photo cut short decodes with grey rows and only a libjpeg warning; it is an error here
    photo = os.path.join(shared_dir, "data", "real_photos", "obama.jpg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(open(photo, "rb").read()[:100000])
    assert cv2.imread(str(cut)) is not None                        # what OpenCV alone accepts
    with pytest.raises(DataError, match="cut.jpg: truncated JPEG"):
        read_image(str(cut))
    png = tmp_path / "cut.png"
    cv2.imwrite(str(png), cv2.imread(photo))
    png.write_bytes(png.read_bytes()[:-200])
    with pytest.raises(DataError, match="cut.png: truncated PNG"):
        read_image(str(png))
    assert read_image(photo).shape == (1137, 910, 3)


def test_iof_and_candidates():
    boxes = np.array([[10, 10, 20, 20]], float)
    np.testing.assert_allclose(matrix_iof(boxes, np.array([[0, 0, 15, 30]], float)), [[0.5]])
    rng = np.random.default_rng(0)
    cands = choose_candidates(rng, 200, 100, np.array([[10, 10, 30, 30], [150, 50, 190, 90]], float))
    assert cands[0] == (0, 0, 200, 100) and 1 <= len(cands) <= 3
    for dx, dy, w, h in cands[1:]:
        assert w == h and 30 <= w <= 100 and 0 <= dx <= 200 - w and 0 <= dy <= 100 - h
        iof = matrix_iof(np.array([[10, 10, 30, 30], [150, 50, 190, 90]], float),
                         np.array([[dx, dy, dx + w, dy + h]], float))
        assert (iof >= 1).any()                                     # at least one face fully inside
    with pytest.raises(AugmentationError):
        choose_candidates(rng, 200, 100, np.zeros((0, 4)))


def test_transform_targets_hand_computed_flip_and_clip():
    boxes = np.array([[20, 10, 60, 50], [0, 0, 4, 100]], float)     # 2nd: centre outside the crop -> dropped
    lm = np.array([[30, 20, 50, 20, 40, 30, 32, 40, 48, 40], [-1] * 10], float)
    labels = np.array([1.0, 1.0])
    out = transform_targets((10, 0, 100, 100), 200, True, boxes, lm, labels)    # crop x 10..110, scale 2, flip
    b, l, lab = out
    # x: (x - 10) * 2, then 200 - x with x1/x2 swapped; y: y * 2
    np.testing.assert_allclose(b, [[200 - 100, 20, 200 - 20, 100]])
    # left eye (30,20) -> 40 -> mirrored 160; right eye (50,20) -> 80 -> 120; pairs 0<->1 and 3<->4 swapped
    np.testing.assert_allclose(l[0], [[120, 40], [160, 40], [140, 60], [124, 80], [156, 80]])
    # boxes are clipped, landmarks are not
    out = transform_targets((0, 0, 50, 50), 100, False, np.array([[40, 40, 58, 58]], float),
                            np.array([[80.0, 80.0] * 5]), np.array([1.0]))
    np.testing.assert_allclose(out[0], [[80, 80, 100, 100]])
    np.testing.assert_allclose(out[1][0, 0], [160, 160])
    # width <= 1 px after scaling -> dropped -> None
    assert transform_targets((0, 0, 100, 100), 100, False, np.array([[10, 10, 10.9, 30]], float),
                             np.zeros((1, 10)), np.array([1.0])) is None


def _marker_image():
    """400x300 grey image, one face box drawn white with 5 coloured landmark squares."""
    img = np.full((300, 400, 3), 128, np.uint8)
    box = [100, 80, 220, 230]
    cv2.rectangle(img, (box[0], box[1]), (box[2], box[3]), (255, 255, 255), -1)
    lms = [(130, 130), (190, 130), (160, 160), (135, 200), (185, 200)]
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    for (x, y), c in zip(lms, colors):
        img[y - 4:y + 5, x - 4:x + 5] = c
    target = np.array([box + [v for p in lms for v in p] + [1.0]], np.float32)
    return img, target, colors


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_boxes_and_landmarks_aligned(seed):
    img, target, colors = _marker_image()
    size = 160
    out, t = Preproc(size)(img, target, np.random.default_rng(seed))
    assert out.shape == (3, size, size) and out.dtype == np.float32
    assert t.shape == (1, 15) and t[0, 14] == 1
    pix = out.transpose(1, 2, 0) + np.array([104, 117, 123], np.float32)     # back to BGR
    x1, y1, x2, y2 = (t[0, :4] * size)
    assert 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size
    inner = pix[int(y1) + 3:int(y2) - 3, int(x1) + 3:int(x2) - 3]
    assert inner.mean() > 150                                                # the white face box is inside
    flipped = t[0, 4] > t[0, 6]                                              # "left eye" right of "right eye"?
    assert not flipped                                                       # pair swap keeps image-left first
    for k in range(5):
        x, y = t[0, 4 + 2 * k] * size, t[0, 5 + 2 * k] * size
        c = pix[int(round(y)), int(round(x))]
        expected = np.array(colors[k], np.float32)
        mirrored = {0: 1, 1: 0, 3: 4, 4: 3}.get(k, k)                        # after a flip the colours swap
        ok = [np.abs(c - expected).max() < 60, np.abs(c - np.array(colors[mirrored], np.float32)).max() < 60]
        assert any(ok), (k, c)


def test_augmentation_pads_when_no_crop_fits():
    img = np.full((50, 300, 3), 200, np.uint8)                 # crop side <= 50 but the face is 60 px wide
    target = np.array([[100, 0, 160, 50] + [-1] * 10 + [-1]], np.float32)
    out, t = Preproc(100)(img, target, np.random.default_rng(0))
    pix = out.transpose(1, 2, 0) + np.array([104, 117, 123], np.float32)
    # full image padded to 300x300 at the bottom, scaled by 1/3: rows below 50/3 hold the mean (zeros after mean)
    assert np.abs(out[:, 20:, :]).max() < 1e-3
    assert pix[:15].mean() > 190
    xs = t[0, [0, 2]]
    assert np.allclose(xs, [100 / 300, 160 / 300], atol=1e-6) or np.allclose(xs, [140 / 300, 200 / 300], atol=1e-6)
    np.testing.assert_allclose(t[0, [1, 3]], [0, 50 / 300], atol=1e-6)


def test_photometric_distortion_changes_colours_only():
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = photometric_distortion(img, np.random.default_rng(3))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert photometric_distortion(img, np.random.default_rng(3)).tolist() == out.tolist()   # seeded


def test_sampler_resume_and_shards():
    s = EpochSampler(10, 3, shuffle=True, seed=5)
    assert s.steps_per_epoch == 3 and len(s) == 9
    full = list(iter(s)) + list(iter(s)) + list(iter(s))
    assert sorted(k % 10 for k in full[:9]) == sorted(set(k % 10 for k in full[:9]))        # no repeats per epoch
    assert [k // 10 for k in full] == [0] * 9 + [1] * 9 + [2] * 9
    r = EpochSampler(10, 3, shuffle=True, seed=5, start_step=4, pass_steps=2)    # resume mid-epoch 1
    assert list(iter(r)) == full[12:18]
    r.pass_steps = 3
    assert list(iter(r)) == full[18:27]
    a = EpochSampler(10, 2, seed=5, num_shards=2, shard_id=0)
    b = EpochSampler(10, 2, seed=5, num_shards=2, shard_id=1)
    ka, kb = list(iter(a)), list(iter(b))
    assert len(ka) == len(kb) == 4 and not set(ka) & set(kb)
    assert sorted(a.epoch_indices(0).tolist() + b.epoch_indices(0).tolist()) == list(range(10))


def test_pipeline_columns_and_determinism(mini_data):
    from src.config import get_config
    from src.dataset import create_dataset, training_entries
    cfg = get_config("resnet50")
    kw = dict(batch_size=2, image_size=160, num_workers=1, python_multiprocessing=False)
    entries = training_entries(os.path.join(mini_data, "train"), 2)
    ds, sampler = create_dataset(entries, cfg, **kw)
    assert ds.get_dataset_size() == sampler.steps_per_epoch
    # images listed in label.txt without a face line are skipped for training (the mini set has some)
    all_entries = parse_label_entries(os.path.join(mini_data, "train", "label.txt"))
    with_faces = [p for p, a in all_entries if a.shape[0] > 0]
    assert len(with_faces) < len(all_entries)
    assert sampler.n == len(with_faces) and sampler.steps_per_epoch == len(with_faces) // 2
    first = next(ds.create_dict_iterator(num_epochs=1, output_numpy=True))
    assert first["image"].shape == (2, 3, 160, 160)
    assert first["truths"].shape == (2, 1050, 4) and first["landm"].shape == (2, 1050, 10)
    assert first["conf"].dtype == np.int32 and set(np.unique(first["conf"])) <= {-1, 0, 1}
    again = next(create_dataset(entries, cfg, **kw)[0].create_dict_iterator(num_epochs=1, output_numpy=True))
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])


def test_pipeline_truncated_image_is_one_line(tmp_path, shared_dir):
    """A truncated training image raises our DataError inside a MindSpore map worker; MindSpore re-raises it as a
    RuntimeError with a traceback, from which ``run_cli`` recovers the one line."""
    from src.config import get_config
    from src.dataset import create_dataset, training_entries
    d = tmp_path / "train"
    (d / "images" / "ev").mkdir(parents=True)
    data = open(os.path.join(shared_dir, "data", "real_photos", "obama.jpg"), "rb").read()
    (d / "images" / "ev" / "a.jpg").write_bytes(data[:len(data) // 2])
    (d / "label.txt").write_text("# ev/a.jpg\n300 50 350 400\n")
    ds, _ = create_dataset(training_entries(str(d), 1), get_config("mobilenet0.25"), batch_size=1, image_size=64,
                           num_workers=1, python_multiprocessing=False)
    with pytest.raises(RuntimeError) as info:
        next(ds.create_dict_iterator(num_epochs=1, output_numpy=True))
    assert "\n" in str(info.value)                                   # MindSpore's multi-line wrapper
    assert user_message(info.value) == (f"{d / 'images' / 'ev' / 'a.jpg'}: truncated JPEG (no end-of-image marker "
                                        f"after the last scan): the file does not decode completely")


def test_too_few_images_for_a_batch(tmp_path):
    from src.dataset import training_entries
    d = tmp_path / "train"
    (d / "images").mkdir(parents=True)
    cv2.imwrite(str(d / "images" / "a.jpg"), np.zeros((8, 8, 3), np.uint8))
    (d / "label.txt").write_text("# a.jpg\n1 1 4 4\n")
    with pytest.raises(DataError, match="label.txt: 1 image.* less than one batch of 2 per device on 1 device"):
        training_entries(str(d), 2)
