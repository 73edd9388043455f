"""The list-file parser, prepare_wider_data.py, corrupt images, and augmentation keeping boxes on their pixels."""
import os

import numpy as np
import pytest
from PIL import Image

import prepare_wider_data as prep
from data.config import make_config
from data.widerface import WIDERDetection, parse_list_file
from src.errors import DataError
from utils.augmentations import preprocess, to_input


def write(path, text):
    path.write_text(text)
    return str(path)


def test_list_file_parser(tmp_path):
    f = write(tmp_path / "list.txt",
              "a/1.jpg 2 10 20 30 40 1 5 5 0 10 1\n"        # the second box has w = 0: skipped
              "\n"
              "/abs/2.jpg 1 1 2 3 4 1\n"
              "a/3.jpg 1 1 1 -2 4 1\n"                        # no box left: the image is skipped
              "a/4.jpg 0\n")
    fnames, boxes, labels, skipped = parse_list_file(f)
    assert fnames == [os.path.join(str(tmp_path), "a/1.jpg"), "/abs/2.jpg"]
    assert boxes[0].tolist() == [[10, 20, 40, 60]] and boxes[1].tolist() == [[1, 2, 4, 6]]
    assert labels[0].tolist() == [1] and skipped == 2


@pytest.mark.parametrize("line, what", [
    ("x.jpg 2 1 2 3 4 1", "2 faces need 12 fields"),
    ("x.jpg 1 1 a 3 4 1", "'a' is not a number"),
    ("x.jpg two 1 2 3 4 1", "face count 'two' is not a whole number"),
    ("x.jpg", "expected '<image path> <N>"),
    ("x.jpg 1 1 2 3 4 1.5", "label is not a whole number"),
])
def test_malformed_list_line_names_file_and_line(tmp_path, line, what):
    f = write(tmp_path / "face_train.txt", "ok.jpg 1 1 2 3 4 1\n" + line + "\n")
    with pytest.raises(DataError) as e:
        parse_list_file(f)
    assert str(e.value).startswith(f"{f}:2: ") and what in str(e.value)


def test_prepare_wider_data_writes_the_reference_format(mini_data, tmp_path):
    import widerface_eval as we
    train, val = prep.write_lists(mini_data, str(tmp_path))
    entries = we.read_split_file(os.path.join(mini_data, "wider_face_split", "wider_face_val_bbx_gt.txt"))
    lines = open(val).read().splitlines()
    assert len(lines) == len(entries)
    tok = lines[0].split()
    assert tok[0] == os.path.join(os.path.abspath(mini_data), "WIDER_val", "images", entries[0].name)
    assert int(tok[1]) == len(entries[0].boxes) and len(tok) == 2 + 5 * len(entries[0].boxes)
    assert [int(v) for v in tok[2:7]] == entries[0].boxes[0].tolist() + [1]
    fnames, _, _, skipped = parse_list_file(train)
    n_train = len(we.read_split_file(os.path.join(mini_data, "wider_face_split", "wider_face_train_bbx_gt.txt")))
    assert len(fnames) + skipped == n_train


def test_prepare_wider_data_names_a_missing_image(mini_data, tmp_path):
    split = tmp_path / "wider_face_split"
    split.mkdir()
    (tmp_path / "WIDER_val" / "images").mkdir(parents=True)
    (split / "wider_face_val_bbx_gt.txt").write_text("0--Parade/missing.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n")
    with pytest.raises(DataError, match=r"wider_face_val_bbx_gt.txt:1: image .*missing.jpg not found"):
        prep.list_lines(str(tmp_path), "val")


def test_corrupt_training_image_is_a_data_error_naming_it(tmp_path, shared_dir):
    with open(os.path.join(shared_dir, "data", "real_photos", "obama.jpg"), "rb") as f:
        (tmp_path / "cut.jpg").write_bytes(f.read(100000))
    lst = write(tmp_path / "face_train.txt", f"{tmp_path / 'cut.jpg'} 1 10 10 50 50 1\n")
    ds = WIDERDetection(lst, "train", make_config(resize_width=64, resize_height=64))
    with pytest.raises(DataError, match="cut.jpg: truncated JPEG"):
        ds[0]


# ----------------------------------------------------------------------------------------------- augmentation
SQUARES = [(40, 40, 120, 120), (200, 100, 260, 160), (300, 200, 340, 240), (150, 230, 170, 250)]


def squares_image():
    img = np.full((300, 400, 3), 20, np.uint8)
    for x1, y1, x2, y2 in SQUARES:
        img[y1:y2, x1:x2] = 255
    return img


def test_augmentation_keeps_boxes_on_their_faces():
    """White squares on a dark image, photometric distortion off: after data-anchor-sampling or the SSD crops, the
    random-filter resize and the flip, the inner half of every surviving box is white and a ring around it is not."""
    cfg = make_config(resize_width=128, resize_height=128, apply_distort=False)
    img = squares_image()
    h, w = img.shape[:2]
    rows = [[1.0, x1 / w, y1 / h, x2 / w, y2 / h] for x1, y1, x2, y2 in SQUARES]
    mean_rgb = np.asarray(cfg.img_mean, np.float32)[::-1, None, None]
    checked = 0
    for seed in range(24):
        x, out = preprocess(Image.fromarray(img), rows, "train", cfg, np.random.default_rng(seed))
        assert x.shape == (3, 128, 128) and x.dtype == np.float32
        rgb = (x + mean_rgb).mean(0)                                  # back to 0-255, grey
        for r in out:
            x1, y1, x2, y2 = (np.array(r[1:5]) * 128).tolist()
            bw, bh = x2 - x1, y2 - y1
            ix1, iy1 = max(0, int(round(x1 + bw / 4))), max(0, int(round(y1 + bh / 4)))
            ix2, iy2 = min(128, int(round(x2 - bw / 4))), min(128, int(round(y2 - bh / 4)))
            if ix2 - ix1 < 2 or iy2 - iy1 < 2:
                continue
            assert rgb[iy1:iy2, ix1:ix2].mean() > 200, (seed, r)
            ox1, oy1 = max(0, int(x1 - bw * 0.3)), max(0, int(y1 - bh * 0.3))
            ox2, oy2 = min(128, int(np.ceil(x2 + bw * 0.3))), min(128, int(np.ceil(y2 + bh * 0.3)))
            ring = np.zeros((128, 128), bool)
            ring[oy1:oy2, ox1:ox2] = True
            ring[max(0, int(np.floor(y1)) - 1):int(np.ceil(y2)) + 1,
                 max(0, int(np.floor(x1)) - 1):int(np.ceil(x2)) + 1] = False
            if ring.sum() > 8:
                assert rgb[ring].mean() < 180, (seed, r)
            checked += 1
    assert checked > 30


def test_val_mode_only_resizes():
    cfg = make_config(resize_width=160, resize_height=96)
    img = squares_image()
    rows = [[1.0, 0.1, 0.2, 0.3, 0.4]]
    x, out = preprocess(Image.fromarray(img), rows, "val", cfg, np.random.default_rng(0))
    assert x.shape == (3, 96, 160) and out == rows


def test_input_normalisation_of_both_architectures():
    bgr = np.array([[[10, 20, 30]]], np.uint8)
    yx = to_input(bgr, "bgr", make_config("yxlijun"))
    sfd = to_input(bgr, "bgr", make_config("sfd"))
    assert yx[:, 0, 0].tolist() == [30 - 123, 20 - 117, 10 - 104]       # RGB minus (123, 117, 104)
    assert sfd[:, 0, 0].tolist() == [10 - 104, 20 - 117, 30 - 123]      # BGR minus (104, 117, 123)
    assert to_input(bgr[:, :, ::-1], "rgb", make_config()).tolist() == yx.tolist()
