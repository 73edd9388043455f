"""Densified anchor boxes (FaceBoxes), generated in the graph for any input size.

Anchors are (ymin, xmin, ymax, xmax), normalised by the network input size (after padding), in the order
(feature map, row i, column j, anchor a) that matches the heads' reshape.

Two styles (see README "Anchors"):

* ``tropcomplique``: cell centre ((i+0.5)/H_map, (j+0.5)/W_map); an anchor of size s with densification n is copied
  n x n times at centre + (k+0.5)*s/n - s/2 px (k = 0..n-1), i.e. 32 px anchors at {-12,-4,4,12} px and 64 px anchors
  at {-16,16} px; copies are ordered x-outer / y-inner; all anchors are clipped to [0, 1].
* ``paper`` (FaceBoxes paper / FaceBoxes.PyTorch ``PriorBox``): centre (j+o)*stride for o in {0, 1/n, ..., (n-1)/n}
  when n > 1 and o = 0.5 when n = 1 (32 px anchors at cell origin + {0,8,16,24} px, 64 px at + {0,16} px); copies are
  ordered y-outer / x-inner; no clipping.
"""
import numpy as np

from src.config import ANCHOR_SPECIFICATIONS, STRIDES
from src.tf_compat import tf


def _cell_anchors(grid_h, grid_w, image_h, image_w, stride, size, ratio, n, style):
    """Anchors of one (size, ratio, n) spec on one grid: [grid_h, grid_w, n*n, 4]."""
    gh = tf.cast(grid_h, tf.float32)
    gw = tf.cast(grid_w, tf.float32)
    ih = tf.cast(image_h, tf.float32)
    iw = tf.cast(image_w, tf.float32)
    box_h = size / np.sqrt(ratio) / ih
    box_w = size * np.sqrt(ratio) / iw
    rows = tf.cast(tf.range(grid_h), tf.float32)
    cols = tf.cast(tf.range(grid_w), tf.float32)
    if style == "tropcomplique":
        cy = (rows + 0.5) / gh
        cx = (cols + 0.5) / gw
        offsets = ((np.arange(n) + 0.5) / n - 0.5) * size  # px from the cell centre
        pairs = [(offsets[b], offsets[a]) for a in range(n) for b in range(n)]  # x outer, y inner
    elif style == "paper":
        cy = rows * stride / ih
        cx = cols * stride / iw
        fr = np.arange(n) / float(n) if n > 1 else np.array([0.5])
        offsets = fr * stride  # px from the cell corner
        pairs = [(offsets[a], offsets[b]) for a in range(n) for b in range(n)]  # y outer, x inner
    else:
        raise ValueError("unknown anchor style %r" % style)
    dy = tf.constant([p[0] for p in pairs], tf.float32) / ih
    dx = tf.constant([p[1] for p in pairs], tf.float32) / iw
    yc = cy[:, None, None] + dy[None, None, :]            # [h, 1, nn]
    xc = cx[None, :, None] + dx[None, None, :]            # [1, w, nn]
    shape = tf.stack([grid_h, grid_w, n * n])
    yc = tf.broadcast_to(yc, shape)
    xc = tf.broadcast_to(xc, shape)
    return tf.stack([yc - 0.5 * box_h, xc - 0.5 * box_w, yc + 0.5 * box_h, xc + 0.5 * box_w], axis=3)


def generate_anchors(grid_sizes, image_size, style="tropcomplique"):
    """grid_sizes: [(h_i, w_i)] of the three maps (ints or int tensors); image_size: (H, W) of the network input.

    Returns a float32 tensor [num_anchors, 4] (ymin, xmin, ymax, xmax), normalised.
    """
    image_h, image_w = image_size
    per_map = []
    with tf.name_scope("anchor_generator"):
        for (gh, gw), stride, specs in zip(grid_sizes, STRIDES, ANCHOR_SPECIFICATIONS):
            local = [_cell_anchors(gh, gw, image_h, image_w, stride, size, ratio, n, style)
                     for size, ratio, n in specs]
            per_map.append(tf.reshape(tf.concat(local, axis=2), [-1, 4]))
        anchors = tf.concat(per_map, axis=0)
        if style == "tropcomplique":
            anchors = tf.clip_by_value(anchors, 0.0, 1.0)
        return anchors

