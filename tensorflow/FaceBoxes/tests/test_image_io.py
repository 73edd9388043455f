"""read_rgb: RGB channel order, and clear one-line errors for missing, undecodable and truncated files."""
import numpy as np
import pytest
from PIL import Image

from src.inference import read_rgb


def _jpeg(path, h=96, w=128):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = 200  # pure red in RGB
    img[h // 2:, :, 2] = 120
    Image.fromarray(img).save(str(path), quality=98)
    return img


def test_reads_rgb(tmp_path):
    ref = _jpeg(tmp_path / "a.jpg")
    got = read_rgb(str(tmp_path / "a.jpg"))
    assert got.dtype == np.uint8 and got.shape == ref.shape
    # JPEG round trip (chroma subsampling blurs the colour edge); channel order must be RGB, not BGR
    np.testing.assert_allclose(got.reshape(-1, 3).mean(0), ref.reshape(-1, 3).mean(0), atol=1.5)
    Image.fromarray(ref).save(str(tmp_path / "a.png"))
    np.testing.assert_array_equal(read_rgb(str(tmp_path / "a.png")), ref)


def test_truncated_jpeg_is_an_error(tmp_path):
    # OpenCV alone decodes a truncated JPEG with a warning and grey rows; it must be reported instead
    _jpeg(tmp_path / "t.jpg", 256, 256)
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError, match=r"t\.jpg: corrupt or truncated JPEG"):
        read_rgb(str(tmp_path / "t.jpg"))


def test_undecodable_and_missing(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"x\.jpg: cannot decode image"):
        read_rgb(str(tmp_path / "x.jpg"))
    with pytest.raises(FileNotFoundError, match=r"nope\.jpg: no such image file"):
        read_rgb(str(tmp_path / "nope.jpg"))
