"""Matching, encoding, OHEM selection and the loss on hand-computed cases."""
import numpy as np
import pytest

from src.box_utils import decode, encode, iou
from src.losses_and_ohem import classification_loss, hard_mining_single, localization_loss
from src.tf_compat import tf
from src.training_target_creation import get_training_targets


def run(t, feed=None):
    with tf.Session() as s:
        return s.run(t, feed)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_iou_by_hand():
    a = np.array([[0, 0, 2, 2]], np.float32)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]], np.float32)
    np.testing.assert_allclose(run(iou(a, b)), [[1 / 7, 1.0, 0.0]], atol=1e-6)


def test_encode_by_hand_and_round_trip():
    anchors = np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.4, 0.9, 0.6]], np.float32)
    boxes = np.array([[0.12, 0.08, 0.32, 0.34], [0.45, 0.45, 0.95, 0.65]], np.float32)
    codes = run(encode(boxes, anchors))
    # box 0: centre (0.22, 0.21) size (0.2, 0.26); anchor centre (0.2, 0.2) size (0.2, 0.2)
    np.testing.assert_allclose(codes[0], [10 * 0.02 / 0.2, 10 * 0.01 / 0.2, 5 * np.log(1.0), 5 * np.log(1.3)],
                               atol=1e-5)
    np.testing.assert_allclose(run(decode(codes, anchors)), boxes, atol=1e-6)
    rnd = np.random.RandomState(0).uniform(-2, 2, (5, 2, 4)).astype(np.float32)
    back = run(encode(decode(rnd, anchors)[3], anchors))
    np.testing.assert_allclose(back, rnd[3], atol=1e-4)


def test_matching_hand_built_case():
    anchors = np.array([
        [0.0, 0.0, 0.2, 0.2],   # 0: IoU with gt0 = 1.0
        [0.0, 0.1, 0.2, 0.3],   # 1: IoU with gt0 = 1/3 (< 0.35 -> background)
        [0.0, 0.05, 0.2, 0.25],  # 2: IoU with gt0 = 0.6
        [0.6, 0.6, 1.0, 1.0],   # 3: gt1's best anchor (IoU 0.25 < 0.35 but forced)
        [0.5, 0.0, 0.6, 0.1],   # 4: nothing
    ], np.float32)
    gt = np.array([[0.0, 0.0, 0.2, 0.2], [0.7, 0.7, 0.9, 0.9]], np.float32)
    targets, matches = run(get_training_targets(anchors, gt))
    np.testing.assert_array_equal(matches, [0, -1, 0, 1, -1])
    np.testing.assert_allclose(targets[0], 0, atol=1e-5)
    np.testing.assert_allclose(targets[[1, 4]], 0)
    # anchor 3 (centre 0.8, size 0.4) -> gt1 (centre 0.8, size 0.2): th = tw = 5 log 0.5
    np.testing.assert_allclose(targets[3], [0, 0, 5 * np.log(0.5), 5 * np.log(0.5)], atol=1e-5)


def test_matching_without_boxes_is_all_background():
    anchors = np.array([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], np.float32)
    targets, matches = run(get_training_targets(anchors, np.zeros((0, 4), np.float32)))
    np.testing.assert_array_equal(matches, [-1, -1])
    np.testing.assert_array_equal(targets, 0)


def test_forced_match_collision_lowest_index_wins():
    anchors = np.array([[0, 0, 1, 1], [0.9, 0.9, 1, 1]], np.float32)
    gt = np.array([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], np.float32)  # both prefer anchor 0
    _, matches = run(get_training_targets(anchors, gt))
    assert matches[0] == 0


def test_smooth_l1_and_cross_entropy_by_hand():
    pred = np.array([[[0.5, -2.0, 0.0, 1.0], [3.0, 0, 0, 0]]], np.float32)
    tgt = np.zeros_like(pred)
    w = np.array([[1.0, 0.0]], np.float32)
    loc = run(localization_loss(pred, tgt, w))
    np.testing.assert_allclose(loc, [[0.125 + 1.5 + 0 + 0.5, 0.0]], atol=1e-6)
    logits = np.array([[[0.0, 0.0], [2.0, 0.0]]], np.float32)
    ce = run(classification_loss(logits, np.array([[1, 1]], np.int32)))
    np.testing.assert_allclose(ce, [[np.log(2), np.log(1 + np.exp(2))]], atol=1e-6)


def _far_boxes(n):
    # non-overlapping boxes so that the 0.99 NMS keeps everything
    i = np.arange(n, dtype=np.float32)
    return np.stack([i, i, i + 0.5, i + 0.5], 1)


def test_ohem_selection_on_known_loss_vector():
    # 10 anchors; positives at 2 and 7
    cls = np.array([0.1, 5.0, 0.3, 4.0, 3.0, 2.0, 1.0, 0.2, 6.0, 0.5], np.float32)
    loc = np.array([0, 0, 1.0, 0, 0, 0, 0, 2.0, 0, 0], np.float32)
    matches = np.array([-1, -1, 0, -1, -1, -1, -1, 1, -1, -1], np.int32)
    # top-6 by loss: 8,1,3,4,5,6 -> no positive among them; max(min_neg=2, 3*0) = 2 negatives: 8 and 1
    l, c, mask = run(hard_mining_single(loc, cls, matches, _far_boxes(10), num_hard_examples=6,
                                        max_negatives_per_positive=3.0, min_negatives_per_image=2))
    np.testing.assert_array_equal(np.where(mask)[0], [1, 8])
    assert l == 0 and abs(c - 11.0) < 1e-6
    # top-9: everything but anchor 0 -> positives 2 and 7 (kept, both loss terms), negatives up to max(2, 6) = 6
    l, c, mask = run(hard_mining_single(loc, cls, matches, _far_boxes(10), num_hard_examples=9,
                                        max_negatives_per_positive=3.0, min_negatives_per_image=2))
    np.testing.assert_array_equal(np.where(mask)[0], [1, 2, 3, 4, 5, 6, 7, 8])
    assert abs(l - 3.0) < 1e-6 and abs(c - (5 + .3 + 4 + 3 + 2 + 1 + .2 + 6)) < 1e-5
    # 1 positive in the top-4 (8,1,3,4 + ...): with ratio 1 and min 1 only one negative besides it
    cls2 = cls.copy()
    cls2[2] = 4.5
    l, c, mask = run(hard_mining_single(loc, cls2, matches, _far_boxes(10), num_hard_examples=4,
                                        max_negatives_per_positive=1.0, min_negatives_per_image=1))
    np.testing.assert_array_equal(np.where(mask)[0], [2, 8])


def test_ohem_nms_suppresses_near_duplicates():
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1.001], [2, 2, 3, 3]], np.float32)  # 0 and 1 overlap with IoU 0.999
    cls = np.array([3.0, 2.0, 1.0], np.float32)
    _, _, mask = run(hard_mining_single(np.zeros(3, np.float32), cls, np.array([-1, -1, -1], np.int32), boxes,
                                        num_hard_examples=3, min_negatives_per_image=3))
    np.testing.assert_array_equal(mask, [True, False, True])


def test_detector_loss_tiny_hand_case():
    """Full Detector.loss on a fixed network output: recompute the normalised mined loss by hand in numpy."""
    from src.config import model_config
    from src.detector import Detector

    params = dict(loss_to_use="classification", loc_loss_weight=0.0, cls_loss_weight=1.0, num_hard_examples=500,
                  nms_threshold=0.99, max_negatives_per_positive=3.0, min_negatives_per_image=30)
    tf.set_random_seed(1)
    images = tf.constant(np.random.RandomState(0).rand(2, 128, 128, 3).astype(np.float32))
    det = Detector(images, model_config("tropcomplique"), is_training=False)
    gt = {"boxes": tf.constant([[[0.2, 0.2, 0.5, 0.45], [0, 0, 0, 0]], [[0.1, 0.5, 0.9, 0.95], [0.6, 0.1, 0.7, 0.2]]],
                               tf.float32),
          "num_boxes": tf.constant([1, 2])}
    losses = det.loss(gt, params)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out, enc, logits, matches, anchors = s.run([losses, det.box_encodings,
                                                    det.class_predictions_with_background, det.matches, det.anchors])
        reg, _ = s.run(det.create_targets(gt))
    n_anchors = enc.shape[1]
    assert n_anchors == 4 * 4 * 21 + 2 * 2 + 1
    assert (matches >= 0).sum() >= 3
    lse = np.log(np.exp(logits).sum(-1))
    labels = (matches >= 0).astype(int)
    ce = lse - np.take_along_axis(logits, labels[..., None], -1)[..., 0]
    d = np.abs(enc - reg)
    sl1 = np.where(d < 1, 0.5 * d * d, d - 0.5).sum(-1) * labels
    # decode in numpy (scale factors 10, 10, 5, 5)
    ah, aw = anchors[:, 2] - anchors[:, 0] + 1e-8, anchors[:, 3] - anchors[:, 1] + 1e-8
    ay, ax = anchors[:, 0] + ah / 2, anchors[:, 1] + aw / 2
    tot_loc = tot_cls = 0.0
    for b in range(2):
        yc, xc = enc[b, :, 0] / 10 * ah + ay, enc[b, :, 1] / 10 * aw + ax
        hh, ww = np.exp(enc[b, :, 2] / 5) * ah, np.exp(enc[b, :, 3] / 5) * aw
        boxes = np.stack([yc - hh / 2, xc - ww / 2, yc + hh / 2, xc + ww / 2], 1)
        # greedy NMS by CE (all 341 anchors fit in the 500), suppressing IoU > 0.99
        selected = []
        for i in np.argsort(-ce[b], kind="stable"):
            ok = True
            for j in selected:
                iy = max(0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
                ix = max(0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
                inter = iy * ix
                union = hh[i] * ww[i] + hh[j] * ww[j] - inter
                if inter / union > 0.99:
                    ok = False
                    break
            if ok:
                selected.append(i)
        selected = np.array(selected)
        pos = labels[b][selected] == 1
        # all selected positives, then negatives in loss order up to max(30, 3 * #positives)
        negs = selected[~pos][: max(30, 3 * pos.sum())]
        tot_cls += ce[b][selected[pos]].sum() + ce[b][negs].sum()
        tot_loc += sl1[b][selected[pos]].sum()
    norm = max(1, labels.sum())
    np.testing.assert_allclose(out["classification_loss"], tot_cls / norm, rtol=1e-4)
    np.testing.assert_allclose(out["localization_loss"], tot_loc / norm, rtol=1e-4)
