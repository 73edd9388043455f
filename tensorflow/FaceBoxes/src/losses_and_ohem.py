"""Losses and online hard example mining (TropComplique losses_and_ohem)."""
from src.tf_compat import tf


def localization_loss(predictions, targets, weights):
    """Smooth L1 (threshold 1) summed over the 4 coordinates, times weights. [B,N,4] -> [B,N]."""
    d = tf.abs(predictions - targets)
    per_coord = tf.where(d < 1.0, 0.5 * tf.square(d), d - 0.5)
    return weights * tf.reduce_sum(per_coord, axis=2)


def classification_loss(logits, labels):
    """Softmax cross-entropy per anchor. logits [B,N,2], labels [B,N] int -> [B,N]."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def hard_mining_single(location_losses, cls_losses, matches, decoded_boxes, loss_to_use="classification",
                       loc_loss_weight=0.0, cls_loss_weight=1.0, num_hard_examples=500, nms_threshold=0.99,
                       max_negatives_per_positive=3.0, min_negatives_per_image=30):
    """OHEM for one image. Returns (loc_loss_sum, cls_loss_sum, keep_mask [N] bool).

    The mining score is the classification loss ("classification"), the localization loss ("localization") or their
    weighted sum ("both"). NMS over the decoded predicted boxes with that score picks up to num_hard_examples anchors
    (IoU threshold nms_threshold). Among them all positives are kept, and negatives in descending mining-loss order
    up to max(min_negatives_per_image, floor(max_negatives_per_positive * #selected positives)).
    """
    if loss_to_use == "classification":
        mining = cls_losses
    elif loss_to_use == "localization":
        mining = location_losses
    elif loss_to_use == "both":
        mining = cls_loss_weight * cls_losses + loc_loss_weight * location_losses
    else:
        raise ValueError("loss_to_use must be classification, localization or both, not %r" % loss_to_use)
    selected = tf.image.non_max_suppression(decoded_boxes, mining, num_hard_examples, nms_threshold)
    sel_matches = tf.gather(matches, selected)
    is_pos = sel_matches >= 0
    num_pos = tf.reduce_sum(tf.cast(is_pos, tf.int32))
    max_neg = tf.maximum(min_negatives_per_image,
                         tf.cast(tf.floor(max_negatives_per_positive * tf.cast(num_pos, tf.float32)), tf.int32))
    neg_rank = tf.cumsum(tf.cast(tf.logical_not(is_pos), tf.int32))  # 1-based rank among selected negatives
    keep = tf.logical_or(is_pos, neg_rank <= max_neg)
    kept = tf.boolean_mask(selected, keep)
    mask = tf.scatter_nd(kept[:, None], tf.ones_like(kept),
                         tf.shape(matches)) > 0
    return tf.reduce_sum(tf.gather(location_losses, kept)), tf.reduce_sum(tf.gather(cls_losses, kept)), mask


def apply_hard_mining(location_losses, cls_losses, matches, decoded_boxes, **params):
    """Batched OHEM: [B,N] losses, [B,N] matches, [B,N,4] boxes -> (loc sum, cls sum) over the batch."""
    def fn(x):
        loc, cls, m, boxes = x
        a, b, _ = hard_mining_single(loc, cls, m, boxes, **params)
        return a, b

    loc_sums, cls_sums = tf.map_fn(fn, [location_losses, cls_losses, matches, decoded_boxes],
                                   dtype=(tf.float32, tf.float32), back_prop=True)
    return tf.reduce_sum(loc_sums), tf.reduce_sum(cls_sums)
