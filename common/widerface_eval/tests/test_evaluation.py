import os

import numpy as np
import pytest

import widerface_eval as we
from conftest import reference_protocol


def _write(pred_dir, rel, xywhs):
    """Write a prediction file from x y w h score rows (any order)."""
    a = np.asarray(xywhs, dtype=float).reshape(-1, 5)
    dets = np.concatenate([a[:, :2], a[:, :2] + a[:, 2:4], a[:, 4:5]], 1)
    return we.write_prediction(pred_dir, rel, dets)


def test_iou_plus_one_convention():
    # [0,0,10,10] and [5,0,15,10] (x1 y1 x2 y2): inter 6*11 = 66, union 121 + 121 - 66 = 176
    ov = we.bbox_overlaps(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [11, 0, 20, 10], [10, 10, 20, 20]]))
    np.testing.assert_allclose(ov[0], [66 / 176, 0.0, 1 / (121 + 121 - 1)])


def test_voc_ap_hand_computed():
    # points (R, P): (0.5, 1), (0.5, 0.5), (1, 0.5) -> 0.5 * 1 + 0.5 * 0.5
    assert we.voc_ap(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 0.5])) == pytest.approx(0.75)
    # the envelope lifts a dip: (0.25, 0.5), (0.5, 1.0) -> 0.5 * 1.0
    assert we.voc_ap(np.array([0.25, 0.5]), np.array([0.5, 1.0])) == pytest.approx(0.5)


def test_thresholds():
    thr = we.thresholds()
    assert len(thr) == 1000 and thr[0] == pytest.approx(0.999) and thr[-1] == 0.0


def test_hand_computed_case(tiny_gt, tmp_path):
    """Image a: p0 hits face 1, p1 hits face 2 (ignored in easy), p2 hits nothing, p3 hits face 1 again.
    Image b: one hit at the lowest score.

    easy (2 faces): curve points (R, P) = (.5, 1), (.5, 1), (.5, 1/2), (.5, 1/3), (1, 2/4) -> AP 0.75
    hard (3 faces): (1/3, 1), (2/3, 1), (2/3, 2/3), (2/3, 2/4), (1, 3/5) -> AP 2/3 + 1/3 * 3/5
    """
    pred = str(tmp_path / "pred")
    _write(pred, "0--Parade/0_a.jpg", [[0, 0, 10, 10, 0.9], [100, 100, 10, 10, 0.8],
                                       [50, 50, 10, 10, 0.7], [0, 0, 10, 10, 0.6]])
    _write(pred, "0--Parade/0_b.jpg", [[0, 0, 20, 20, 0.5]])
    res = we.evaluate(pred, tiny_gt)
    assert res.easy == pytest.approx(0.75)
    assert res.medium == pytest.approx(0.75)
    assert res.hard == pytest.approx(2 / 3 + 0.2)
    assert res.faces == {"easy": 2, "medium": 2, "hard": 3}
    # the curve at threshold 0 counts every proposal: easy 4 proposals (p1 is neither TP nor FP), 2 recalled
    assert res.curves["easy"]["precision"][-1] == pytest.approx(0.5)
    assert res.curves["easy"]["recall"][-1] == pytest.approx(1.0)


def test_iou_threshold_option(tiny_gt, tmp_path):
    pred = str(tmp_path / "pred")
    # IoU with face 1 of image a: inter 11*8 = 88, union 121 + 88 - 88 = 121 -> 0.727
    _write(pred, "0--Parade/0_a.jpg", [[0, 0, 10, 7, 0.9]])
    _write(pred, "0--Parade/0_b.jpg", [[0, 0, 20, 20, 0.5]])
    assert we.evaluate(pred, tiny_gt, iou_thresh=0.7).easy == pytest.approx(1.0)
    # at 0.75 the top prediction is a false positive: points (R, P) = (0, 0), (0.5, 0.5) -> AP 0.25
    assert we.evaluate(pred, tiny_gt, iou_thresh=0.75).easy == pytest.approx(0.25)


def test_unsorted_file_equals_sorted(tiny_gt, tmp_path):
    rows = [[0, 0, 10, 10, 0.9], [100, 100, 10, 10, 0.8], [50, 50, 10, 10, 0.7], [0, 0, 10, 10, 0.6]]
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for d, r in ((a, rows), (b, rows[::-1])):
        os.makedirs(os.path.join(d, "0--Parade"))
        with open(os.path.join(d, "0--Parade", "0_a.txt"), "w") as f:   # bypass the sorting writer
            f.write("0_a.jpg\n4\n" + "".join(" ".join(map(str, x)) + "\n" for x in r))
        _write(d, "0--Parade/0_b.jpg", [[0, 0, 20, 20, 0.5]])
    assert we.evaluate(a, tiny_gt).aps == we.evaluate(b, tiny_gt).aps


def test_missing_file_counts_as_empty(tiny_gt, tmp_path):
    pred = str(tmp_path / "pred")
    _write(pred, "0--Parade/0_a.jpg", [[0, 0, 10, 10, 0.9], [0, 0, 10, 10, 0.1]])
    with pytest.warns(UserWarning, match="1 of 2 images have no prediction file"):
        res = we.evaluate(pred, tiny_gt)
    # easy: one of the two faces found with precision 1, the other never
    assert res.easy == pytest.approx(0.5)
    assert res.num_missing == 1
    with pytest.raises(we.WiderFormatError, match="prediction file missing"):
        we.evaluate(pred, tiny_gt, strict=True)


def test_score_normalisation_variants(tiny_gt, tmp_path):
    pred = str(tmp_path / "pred")
    _write(pred, "0--Parade/0_a.jpg", [[0, 0, 10, 10, 9.0], [50, 50, 10, 10, 7.0]])
    _write(pred, "0--Parade/0_b.jpg", [[0, 0, 20, 20, 5.0]])
    py = we.evaluate(pred, tiny_gt, score_norm="python")
    ml = we.evaluate(pred, tiny_gt, score_norm="matlab")
    assert (py.score_min, py.score_max) == (1.0, 9.0)     # the Python evaluator starts min at 1
    assert (ml.score_min, ml.score_max) == (5.0, 9.0)
    assert py.easy == pytest.approx(ml.easy)             # monotone transforms give the same AP here


# ---------------------------------------------------------------------------------------------------
# the real WIDER FACE val ground truth
# ---------------------------------------------------------------------------------------------------
def test_real_ground_truth_counts(real_gt):
    assert len(real_gt.events) == 61
    assert real_gt.num_images == 3226
    assert real_gt.num_faces == 39708
    assert [real_gt.num_kept(s) for s in ("easy", "medium", "hard")] == [7211, 13319, 31958]


def _gt_preds(gt, step=1, seed=0, jitter=0.0):
    rng = np.random.default_rng(seed)
    preds = []
    for ev in gt.boxes:
        for b in ev:
            b = b[::step].astype(float)
            if jitter:
                b = b + rng.normal(0, jitter, b.shape) * np.maximum(b[:, 2:4], 1).repeat(2, 1)
                b[:, 2:4] = np.maximum(b[:, 2:4], 1.0)
            s = rng.random(len(b))
            p = np.concatenate([b, s[:, None]], 1)
            preds.append(p[np.argsort(-p[:, 4], kind="stable")])
    return preds


def _write_all_raw(gt, preds, d):
    """Write files exactly as given (line order kept, full precision), bypassing the sorting writer."""
    i = 0
    for ev, stems in zip(gt.events, gt.files):
        os.makedirs(os.path.join(d, ev), exist_ok=True)
        for stem in stems:
            p = preds[i]
            i += 1
            with open(os.path.join(d, ev, stem + ".txt"), "w") as f:
                f.write(f"{stem}.jpg\n{len(p)}\n" + "".join(" ".join(repr(float(v)) for v in r) + "\n" for r in p))


def test_real_gt_boxes_as_predictions(real_gt, tmp_path):
    preds = _gt_preds(real_gt)
    res = we.evaluate_predictions(preds, real_gt)
    # every kept face is found by its own box; a few WIDER duplicates make IoU ties that go to an ignored face
    for s in ("easy", "medium", "hard"):
        assert res.aps[s] > 0.99
        assert res.curves[s]["recall"][-1] > 0.995


def test_real_gt_matches_protocol_oracle(real_gt):
    """Every second box, jittered, random scores: the vectorised evaluator equals the plain protocol."""
    preds = _gt_preds(real_gt, step=2, seed=1, jitter=0.15)
    # the oracle is slow: evaluate a few events, as their own ground truth
    ev_idx = [0, 7, 20]
    sub = we.GroundTruth(events=[real_gt.events[i] for i in ev_idx], files=[real_gt.files[i] for i in ev_idx],
                         boxes=[real_gt.boxes[i] for i in ev_idx],
                         keep={s: [real_gt.keep[s][i] for i in ev_idx] for s in ("easy", "medium", "hard")})
    starts = np.cumsum([0] + [len(f) for f in real_gt.files])
    sub_preds = [p for i in ev_idx for p in preds[starts[i]:starts[i + 1]]]
    ours = we.evaluate_predictions(sub_preds, sub).aps
    oracle = reference_protocol(sub_preds, sub)
    for s in ours:
        assert ours[s] == pytest.approx(oracle[s], abs=1e-9)
    assert 0.05 < ours["easy"] < 0.6      # half the faces, random scores: a non-trivial curve


def test_real_gt_shuffled_lines_equal_sorted(real_gt, tmp_path):
    preds = _gt_preds(real_gt, step=2, seed=2, jitter=0.1)
    rng = np.random.default_rng(3)
    shuffled = [p[rng.permutation(len(p))] for p in preds]
    a = we.evaluate_predictions(preds, real_gt).aps
    b = we.evaluate_predictions(shuffled, real_gt).aps
    assert a == b
    # and through unsorted files on disk
    d = str(tmp_path / "pred")
    _write_all_raw(real_gt, shuffled, d)
    assert we.evaluate(d, None, gt=real_gt).aps == a
