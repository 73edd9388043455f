"""Anchor counts and hand-computed coordinates for both anchor styles."""
import numpy as np
import pytest

from src.anchors import generate_anchors
from src.config import grid_sizes, num_anchors, padded_size
from src.tf_compat import tf


def anchors_numpy(image_h, image_w, style="tropcomplique", pad_multiple=128):
    """The anchors of an input size, evaluated in a throw-away graph."""
    h, w = padded_size(image_h, image_w, pad_multiple)
    with tf.Graph().as_default():
        a = generate_anchors(grid_sizes(image_h, image_w, pad_multiple), (h, w), style)
        with tf.Session() as sess:
            return sess.run(a)


@pytest.mark.parametrize("h,w,expected", [(1024, 1024, 21824), (480, 640, 6820), (768, 1024, 16368)])
def test_anchor_counts(h, w, expected):
    assert num_anchors(h, w) == expected
    assert len(anchors_numpy(h, w, "tropcomplique")) == expected


def test_paper_anchor_count_without_padding():
    # FaceBoxes.PyTorch: 21*ceil(H/32)*ceil(W/32) + ceil(H/64)*ceil(W/64) + ceil(H/128)*ceil(W/128)
    assert len(anchors_numpy(512, 512, "paper", pad_multiple=1)) == 5456
    assert len(anchors_numpy(600, 512, "paper", pad_multiple=1)) == 21 * 19 * 16 + 10 * 8 + 5 * 4


def _px(a, size=1024):
    return a * size


def test_tropcomplique_first_cell_by_hand():
    a = _px(anchors_numpy(1024, 1024, "tropcomplique"))
    # cell (0,0) centre = (16,16) px; 32 px anchors at centre + {-12,-4,4,12}, x outer / y inner, clipped at 0
    offs = [-12, -4, 4, 12]
    k = 0
    for ox in offs:
        for oy in offs:
            cy, cx = 16 + oy, 16 + ox
            exp = np.clip([cy - 16, cx - 16, cy + 16, cx + 16], 0, 1024)
            np.testing.assert_allclose(a[k], exp, atol=1e-3)
            k += 1
    # 64 px anchors at centre + {-16, +16}
    for ox in (-16, 16):
        for oy in (-16, 16):
            cy, cx = 16 + oy, 16 + ox
            np.testing.assert_allclose(a[k], np.clip([cy - 32, cx - 32, cy + 32, cx + 32], 0, 1024), atol=1e-3)
            k += 1
    np.testing.assert_allclose(a[k], [0, 0, 80, 80], atol=1e-3)  # 128 px at (16,16), clipped


def test_tropcomplique_interior_cell_and_coarse_maps():
    a = _px(anchors_numpy(1024, 1024, "tropcomplique"))
    cell = (5 * 32 + 7) * 21  # row 5, column 7: centre (176, 240)
    np.testing.assert_allclose(a[cell], [176 - 12 - 16, 240 - 12 - 16, 176 - 12 + 16, 240 - 12 + 16], atol=1e-3)
    np.testing.assert_allclose(a[cell + 1], [176 - 4 - 16, 240 - 12 - 16, 176 - 4 + 16, 240 - 12 + 16], atol=1e-3)
    np.testing.assert_allclose(a[cell + 20], [176 - 64, 240 - 64, 176 + 64, 240 + 64], atol=1e-3)
    first_256 = 32 * 32 * 21
    # map 1, row 2 col 3: centre (2.5*64, 3.5*64) = (160, 224), size 256
    np.testing.assert_allclose(a[first_256 + 2 * 16 + 3], np.clip([160 - 128, 224 - 128, 160 + 128, 224 + 128], 0, 1024),
                               atol=1e-3)
    first_512 = first_256 + 16 * 16
    np.testing.assert_allclose(a[first_512 + 7 * 8 + 7], [960 - 256, 960 - 256, 1024, 1024], atol=1e-3)
    assert a.min() >= 0 and a.max() <= 1024


def test_paper_cells_by_hand():
    a = _px(anchors_numpy(1024, 1024, "paper"))
    cell = (5 * 32 + 7) * 21  # cell origin (160, 224) px
    k = 0
    for oy in (0, 8, 16, 24):        # y outer
        for ox in (0, 8, 16, 24):    # x inner
            cy, cx = 160 + oy, 224 + ox
            np.testing.assert_allclose(a[cell + k], [cy - 16, cx - 16, cy + 16, cx + 16], atol=1e-3)
            k += 1
    for oy in (0, 16):
        for ox in (0, 16):
            cy, cx = 160 + oy, 224 + ox
            np.testing.assert_allclose(a[cell + k], [cy - 32, cx - 32, cy + 32, cx + 32], atol=1e-3)
            k += 1
    np.testing.assert_allclose(a[cell + 20], [176 - 64, 240 - 64, 176 + 64, 240 + 64], atol=1e-3)
    # not clipped: the first 32 px anchor of cell (0,0) is centred on the image corner
    np.testing.assert_allclose(a[0], [-16, -16, 16, 16], atol=1e-3)


def test_non_square_normalisation():
    # 640x480 is padded to 640x512: anchors normalised by the padded size
    a = anchors_numpy(480, 640, "tropcomplique")
    h, w = 512.0, 640.0
    # 128 px anchor of cell (3, 4): centre (3.5*32, 4.5*32) = (112, 144)
    np.testing.assert_allclose(a[(3 * 20 + 4) * 21 + 20], [(112 - 64) / h, (144 - 64) / w, (112 + 64) / h,
                                                           (144 + 64) / w], atol=1e-6)
