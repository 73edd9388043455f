"""Anchor matching and regression targets (TropComplique get_training_targets)."""
from src.box_utils import encode, iou
from src.config import MATCHING_THRESHOLD
from src.tf_compat import tf


def match(anchors, groundtruth_boxes, threshold=MATCHING_THRESHOLD):
    """Returns matches [num_anchors] int32: the matched groundtruth index or -1 (background).

    1. every anchor takes its best groundtruth; if that IoU < threshold it is background;
    2. every groundtruth box forces its best anchor to match it (overriding step 1). When two boxes pick the same
       anchor, the box with the lower index wins (as the TF Object Detection API matcher the reference follows).
    """
    num_anchors = tf.shape(anchors)[0]
    num_gt = tf.shape(groundtruth_boxes)[0]

    def no_boxes():
        return -tf.ones([num_anchors], tf.int32)

    def some_boxes():
        sim = iou(groundtruth_boxes, anchors)  # [G, A]
        matches = tf.cast(tf.argmax(sim, axis=0), tf.int32)
        best = tf.reduce_max(sim, axis=0)
        matches = tf.where(best < threshold, -tf.ones_like(matches), matches)
        forced_anchor = tf.argmax(sim, axis=1, output_type=tf.int32)  # [G]
        indicators = tf.one_hot(forced_anchor, depth=num_anchors)  # [G, A]
        forced_row = tf.cast(tf.argmax(indicators, axis=0), tf.int32)  # first (lowest) gt index
        forced_mask = tf.reduce_max(indicators, axis=0) > 0.0
        return tf.where(forced_mask, forced_row, matches)

    return tf.cond(num_gt > 0, some_boxes, no_boxes)


def get_training_targets(anchors, groundtruth_boxes, threshold=MATCHING_THRESHOLD):
    """Returns reg_targets [num_anchors, 4] (zeros for background) and matches [num_anchors] int32."""
    with tf.name_scope("matching"):
        matches = match(anchors, groundtruth_boxes, threshold)
    with tf.name_scope("encoding"):
        safe = tf.maximum(matches, 0)
        padded = tf.concat([groundtruth_boxes, tf.zeros([1, 4])], axis=0)  # gather is valid even with no boxes
        matched_boxes = tf.gather(padded, safe)
        targets = encode(matched_boxes, anchors)
        targets = tf.where(tf.tile(matches[:, None] >= 0, [1, 4]), targets, tf.zeros_like(targets))
    return targets, matches
