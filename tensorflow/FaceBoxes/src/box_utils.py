"""Box operations on (ymin, xmin, ymax, xmax) boxes: IoU, SSD-style encoding with scale factors 10/10/5/5."""
from src.config import EPSILON, SCALE_FACTORS
from src.tf_compat import tf


def area(boxes):
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=1)
    return (ymax - ymin) * (xmax - xmin)


def intersection(boxes1, boxes2):
    """[N,4] x [M,4] -> [N,M]."""
    ymin1, xmin1, ymax1, xmax1 = tf.split(boxes1, 4, axis=1)
    ymin2, xmin2, ymax2, xmax2 = tf.split(boxes2, 4, axis=1)
    h = tf.maximum(tf.minimum(ymax1, tf.transpose(ymax2)) - tf.maximum(ymin1, tf.transpose(ymin2)), 0.0)
    w = tf.maximum(tf.minimum(xmax1, tf.transpose(xmax2)) - tf.maximum(xmin1, tf.transpose(xmin2)), 0.0)
    return h * w


def iou(boxes1, boxes2):
    """[N,4] x [M,4] -> [N,M] intersection over union (0 where the union is 0)."""
    inter = intersection(boxes1, boxes2)
    union = area(boxes1)[:, None] + area(boxes2)[None, :] - inter
    return tf.where(union > 0.0, inter / tf.maximum(union, EPSILON), tf.zeros_like(inter))


def to_center(boxes):
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    h = ymax - ymin + EPSILON
    w = xmax - xmin + EPSILON
    return ymin + 0.5 * h, xmin + 0.5 * w, h, w


def encode(boxes, anchors):
    """Boxes and anchors [N,4] -> targets [N,4] = (ty, tx, th, tw)."""
    yc, xc, h, w = to_center(boxes)
    ya, xa, ha, wa = to_center(anchors)
    sy, sx, sh, sw = SCALE_FACTORS
    return tf.stack([sy * (yc - ya) / ha, sx * (xc - xa) / wa,
                     sh * tf.log(h / ha), sw * tf.log(w / wa)], axis=-1)


def decode(codes, anchors):
    """codes [..., N, 4] (ty, tx, th, tw) and anchors [N, 4] -> boxes [..., N, 4]."""
    ya, xa, ha, wa = to_center(anchors)
    ty, tx, th, tw = tf.unstack(codes, axis=-1)
    sy, sx, sh, sw = SCALE_FACTORS
    yc = ty / sy * ha + ya
    xc = tx / sx * wa + xa
    h = tf.exp(th / sh) * ha
    w = tf.exp(tw / sw) * wa
    return tf.stack([yc - 0.5 * h, xc - 0.5 * w, yc + 0.5 * h, xc + 0.5 * w], axis=-1)
