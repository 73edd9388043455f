"""WIDER parsing, the TFRecord converter (round trip, 0-face images, invalid boxes, corrupt JPEG)."""
import os

import numpy as np
import pytest
from PIL import Image

from conftest import run_main
from helpers import make_wider_layout
from src.errors import DataError
from src.preparedata.wider import read_bbx_gt


def test_wider_parser_quirks_and_errors(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("a/1.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n5 6 0 8 0 0 0 1 0 0\na/2.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n"
                 "a/3.jpg\n1\n9 9 9 9 0 0 0 0 0 0\n")
    e = read_bbx_gt(str(p))
    assert [x[0] for x in e] == ["a/1.jpg", "a/2.jpg", "a/3.jpg"]
    assert e[0][1] == [[1, 2, 3, 4], [5, 6, 0, 8]] and e[0][2] == [0, 1]
    assert e[1][1] == [] and e[2][1] == [[9, 9, 9, 9]]
    p.write_text("a/1.jpg\n2\n1 2 3 4 0 0 0 0 0 0\nx y\n")
    with pytest.raises(DataError, match=r"gt.txt:4:"):
        read_bbx_gt(str(p))
    p.write_text("a/1.jpg\nmany\n")
    with pytest.raises(DataError, match=r"gt.txt:2: face count 'many' is not an integer"):
        read_bbx_gt(str(p))


def test_tfrecord_round_trip(tmp_path):
    from src.input_pipeline.pipeline import parse_example
    from src.preparedata.create_tfrecords import convert
    from src.tf_compat import tf

    entries = make_wider_layout(str(tmp_path), num_images=5, size=(120, 160))
    # an invalid (w = 0) box must be dropped
    gt = tmp_path / "wider_face_split" / "wider_face_train_bbx_gt.txt"
    text = gt.read_text().replace("0--Ev/img_0.jpg\n1\n", "0--Ev/img_0.jpg\n2\n3 4 0 10 0 0 0 0 0 0 \n", 1)
    gt.write_text(text)
    stats = convert(str(tmp_path), "train", str(tmp_path / "shards"), num_shards=2, workers=1, progress=False)
    assert stats == {"images": 5, "boxes": sum(len(b) for _, b in entries), "shards": 2}
    files = sorted(str(p) for p in (tmp_path / "shards").glob("shard-*.tfrecords"))
    assert len(files) == 2
    with tf.Graph().as_default():
        ds = tf.data.TFRecordDataset(files).map(parse_example)
        nxt = tf.data.make_one_shot_iterator(ds).get_next()
        got = {}
        with tf.Session() as s:
            for _ in range(5):
                name, img, boxes = s.run(nxt)
                got[name.decode()] = (img, boxes)
    assert set(got) == {e[0] for e in entries}
    # the records hold the original JPEG bytes
    raw = {}
    for f in files:
        for rec in tf.io.tf_record_iterator(f):
            ex = tf.train.Example.FromString(rec)
            raw[ex.features.feature["filename"].bytes_list.value[0].decode()] = \
                ex.features.feature["image"].bytes_list.value[0]
    for rel, _ in entries:
        assert raw[rel] == (tmp_path / "WIDER_train" / "images" / rel).read_bytes()
    for rel, bxs in entries:
        img, boxes = got[rel]
        ref = np.asarray(Image.open(tmp_path / "WIDER_train" / "images" / rel).convert("RGB"), np.float32) / 255
        assert img.shape == ref.shape
        assert np.abs(img - ref).mean() < 2.0 / 255  # JPEG decoders differ slightly on noise
        exp = np.array([[y / 120, x / 160, (y + h) / 120, (x + w) / 160] for x, y, w, h in bxs],
                       np.float32).reshape(-1, 4)
        np.testing.assert_allclose(boxes, exp, atol=1e-6)


def test_converter_reports_missing_layout(tmp_path, capsys):
    r = run_main("src.preparedata.create_tfrecords", ["--data_path", str(tmp_path), "--output_dir",
                                                      str(tmp_path / "s")], capsys)
    assert r.returncode == 2 and r.stderr == "src.preparedata.create_tfrecords.py: error: %s: image folder not " \
        "found (expected the official WIDER FACE layout)\n" % (tmp_path / "WIDER_train" / "images")
