"""Augmentations keep boxes and pixels aligned."""
import numpy as np
import pytest

from src.input_pipeline.augmentations import augment, crop_to_window, flip_left_right
from src.tf_compat import tf


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        yield


def test_crop_to_window_by_hand():
    boxes = np.array([[0.5, 0.5, 0.7, 0.7],    # inside the window
                      [0.0, 0.0, 0.3, 0.3],    # IoA 0.25*... -> (0.25..0.3)^2 / 0.09 = 0.028 < 0.4: dropped
                      [0.2, 0.4, 0.4, 0.6]],   # IoA 0.75 -> kept and clipped
                     np.float32)
    window = np.array([0.25, 0.25, 0.75, 0.75], np.float32)
    with tf.Session() as s:
        out = s.run(crop_to_window(tf.constant(boxes), tf.constant(window)))
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.9, 0.9], [0.0, 0.3, 0.3, 0.7]], atol=1e-6)


def test_flip_by_hand():
    img = np.zeros((4, 8, 3), np.float32)
    img[:, 0] = 1.0
    with tf.Session() as s:
        im, b = s.run(flip_left_right(tf.constant(img), tf.constant([[0.1, 0.0, 0.5, 0.25]])))
    assert im[:, -1].min() == 1.0 and im[:, :-1].max() == 0.0
    np.testing.assert_allclose(b, [[0.1, 0.75, 0.5, 1.0]])


def test_full_augmentation_keeps_boxes_on_their_pixels():
    h, w = 300, 400
    img = np.zeros((h, w, 3), np.float32)
    boxes_px = [(40, 60, 120, 140), (150, 250, 260, 360), (30, 300, 90, 380)]  # ymin, xmin, ymax, xmax
    for y0, x0, y1, x1 in boxes_px:
        img[y0:y1, x0:x1] = 1.0
    boxes = np.array([[y0 / h, x0 / w, y1 / h, x1 / w] for y0, x0, y1, x1 in boxes_px], np.float32)
    out_img, out_boxes = augment(tf.constant(img), tf.constant(boxes), [256, 256])
    checked = 0
    with tf.Session() as s:
        for _ in range(25):
            im, bx = s.run([out_img, out_boxes])
            assert im.shape == (256, 256, 3)
            assert np.all((bx >= 0) & (bx <= 1)) and np.all(bx[:, 2] >= bx[:, 0]) and np.all(bx[:, 3] >= bx[:, 1])
            gray = im.mean(-1)
            for y0, x0, y1, x1 in bx * 256:
                if (y1 - y0) < 12 or (x1 - x0) < 12:
                    continue
                cy0, cy1 = int(y0 + 0.25 * (y1 - y0)), int(np.ceil(y1 - 0.25 * (y1 - y0)))
                cx0, cx1 = int(x0 + 0.25 * (x1 - x0)), int(np.ceil(x1 - 0.25 * (x1 - x0)))
                assert gray[cy0:cy1, cx0:cx1].mean() > 0.6  # a white face region
                checked += 1
            # pixels far from every box are dark
            mask = np.ones((256, 256), bool)
            for y0, x0, y1, x1 in bx * 256:
                mask[max(int(y0) - 6, 0):int(y1) + 7, max(int(x0) - 6, 0):int(x1) + 7] = False
            if mask.any():
                assert gray[mask].mean() < 0.35
    assert checked > 20
