"""Images in: read_image's channel order, and a file that does not decode completely is a DataError naming it, in
demo.py, eval.py and the training data (the TFRecord converter and a bad record in the shards)."""
import os

import numpy as np
import pytest
from PIL import Image

from conftest import run_main
from helpers import make_wider_layout
from src.errors import DataError
from src.image_io import read_image


def _jpeg(path, h=96, w=128):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = 200  # pure red in RGB
    img[h // 2:, :, 2] = 120
    Image.fromarray(img).save(str(path), quality=98)
    return img


def test_reads_bgr_and_rgb(tmp_path):
    ref = _jpeg(tmp_path / "a.jpg")
    rgb = read_image(str(tmp_path / "a.jpg"), "rgb")
    assert rgb.dtype == np.uint8 and rgb.shape == ref.shape
    # JPEG round trip (chroma subsampling blurs the colour edge); channel order must be RGB
    np.testing.assert_allclose(rgb.reshape(-1, 3).mean(0), ref.reshape(-1, 3).mean(0), atol=1.5)
    Image.fromarray(ref).save(str(tmp_path / "a.png"))
    np.testing.assert_array_equal(read_image(str(tmp_path / "a.png"), "bgr"), ref[:, :, ::-1])


def test_truncated_undecodable_and_missing_files(tmp_path):
    _jpeg(tmp_path / "t.jpg", 256, 256)
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DataError, match=r"t\.jpg: truncated JPEG"):
        read_image(str(tmp_path / "t.jpg"))
    (tmp_path / "x.jpg").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"x\.jpg: not a complete image"):
        read_image(str(tmp_path / "x.jpg"))
    with pytest.raises(DataError, match=r"nope\.jpg: cannot read the image"):
        read_image(str(tmp_path / "nope.jpg"))


def test_converter_names_the_truncated_jpeg_and_writes_the_good_shards(tmp_path, capsys):
    make_wider_layout(str(tmp_path), num_images=3, corrupt=1)
    r = run_main("src.preparedata.create_tfrecords", ["--data_path", str(tmp_path), "--output_dir",
                                                      str(tmp_path / "shards"), "--num_shards", "3", "--workers", "1"],
                 capsys)
    assert r.returncode == 2 and "Traceback" not in r.stderr   # the progress bar, then one line
    assert r.stderr.splitlines()[-1].startswith("src.preparedata.create_tfrecords.py: error: %s: truncated JPEG"
                                                % (tmp_path / "WIDER_train" / "images" / "0--Ev" / "img_1.jpg"))
    # the good shards were written, the bad one left no partial file
    assert sorted(os.listdir(tmp_path / "shards")) == ["shard-0000.tfrecords", "shard-0002.tfrecords"]


def test_demo_and_eval_name_a_truncated_image_and_keep_what_was_written(converted_ckpt, shared_dir, tmp_path,
                                                                         capsys):
    good = open(os.path.join(shared_dir, "data", "real_photos", "grace_hopper.jpg"), "rb").read()
    ev = tmp_path / "data" / "WIDER_val" / "images" / "0--Ev"
    ev.mkdir(parents=True)
    (ev / "a_good.jpg").write_bytes(good)
    (ev / "b_truncated.jpg").write_bytes(good[: len(good) // 2])
    earlier = tmp_path / "out" / "predictions" / "0--Ev" / "earlier.txt"   # a complete folder of an earlier run
    earlier.parent.mkdir(parents=True)
    earlier.write_text("earlier.jpg\n0\n")
    r = run_main("eval", ["--checkpoint", converted_ckpt, "--data_path", str(tmp_path / "data"),
                          "--output_path", str(tmp_path / "out"), "--no_eval"], capsys)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1].startswith("eval.py: error: %s: truncated JPEG" % (ev / "b_truncated.jpg"))
    # the image before the bad one keeps its prediction file (in the partial folder); the earlier folder stays
    assert os.path.isfile(tmp_path / "out" / "predictions.partial" / "0--Ev" / "a_good.txt")
    assert earlier.read_text() == "earlier.jpg\n0\n"
    r = run_main("demo", ["--image", str(ev / "b_truncated.jpg"), "--checkpoint", converted_ckpt], capsys)
    assert r.returncode == 2 and r.stderr == "demo.py: error: %s: truncated JPEG (no end-of-image marker after the " \
        "last scan): the file does not decode completely\n" % (ev / "b_truncated.jpg")
