"""The evaluation engine: one matching pass shared by the settings, flat histograms, worker processes."""

import os

import numpy as np
import pytest

import widerface_eval as we
from test_evaluation import _write_all_raw
from widerface_eval import evaluation


def _random_preds(gt, seed, per_image=30, jitter=0.1):
    """Detector-like predictions: jittered faces (duplicates too) and random boxes, random scores, any order."""
    rng = np.random.default_rng(seed)
    preds = []
    for ev in gt.boxes:
        for b in ev:
            b = b[rng.random(len(b)) < 0.8].astype(float)
            tp = b + rng.normal(0, jitter, b.shape) * np.maximum(b[:, 2:4], 1).repeat(2, 1)
            tp[:, 2:4] = np.maximum(tp[:, 2:4], 0)
            tp = np.concatenate([tp, b[: len(b) // 3]])                          # exact copies: IoU 1 ties
            fp = np.concatenate([rng.uniform(0, 1000, (per_image, 2)), rng.uniform(1, 150, (per_image, 2))], 1)
            p = np.concatenate([tp, fp])
            s = np.concatenate([rng.beta(5, 1.5, len(tp)), rng.beta(1.2, 6, len(fp))])
            s = np.round(s, int(rng.integers(2, 7)))                               # equal scores too
            preds.append(np.concatenate([p, s[:, None]], 1))
    return preds


def _per_image_reference(preds, gt, setting, iou_thresh=0.5, thresh_num=1000):
    """One setting alone, image by image, with the plain per-image functions (sort, match, count)."""
    flat_boxes = [b for ev in gt.boxes for b in ev]
    keep = [k for ev in gt.keep[setting] for k in ev]
    lo, hi = 1.0, 0.0
    for p in preds:
        if len(p):
            lo, hi = min(lo, float(p[:, 4].min())), max(hi, float(p[:, 4].max()))
    thr = we.thresholds(thresh_num)
    pr = np.zeros((thresh_num, 2))
    faces = sum(len(k) for k in keep)
    for p, g, k in zip(preds, flat_boxes, keep):
        if len(p) == 0 or len(g) == 0:
            continue
        p = p[np.argsort(-p[:, 4], kind="stable")]
        max_iou, argmax = we.image_match(p, g)
        kept = np.zeros(len(g), bool)
        kept[np.asarray(k, int) - 1] = True
        pr += we.image_pr((p[:, 4] - lo) / (hi - lo), max_iou, argmax, kept, iou_thresh, thr)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision, recall = pr[:, 1] / pr[:, 0], pr[:, 1] / faces
    return we.voc_ap(recall, precision), precision, recall


def _same_curve(a, b):
    return np.array_equal(a, b, equal_nan=True)


def test_settings_together_equal_each_alone(real_gt):
    preds = _random_preds(real_gt, seed=11)
    together = we.evaluate_predictions(preds, real_gt)
    for s in we.SETTINGS:
        alone = we.evaluate_predictions(preds, real_gt, settings=(s,))
        assert list(alone.aps) == [s] and alone.aps[s] == together.aps[s]
        for k in ("precision", "recall", "threshold"):
            assert _same_curve(alone.curves[s][k], together.curves[s][k])
        ap, precision, recall = _per_image_reference(preds, real_gt, s)
        assert together.aps[s] == ap
        assert _same_curve(together.curves[s]["precision"], precision)
        assert _same_curve(together.curves[s]["recall"], recall)
    assert 0.2 < min(together.aps.values()) and max(together.aps.values()) < 0.95   # non-trivial curves
    with pytest.raises(ValueError, match="settings"):
        we.evaluate_predictions(preds, real_gt, settings=("easy", "extreme"))


def _dense_hits(preds, counts, faces, face_counts, iou_thresh):
    poff, goff = np.cumsum([0] + counts), np.cumsum([0] + face_counts)
    out_p, out_g = [], []
    for i in range(len(counts)):
        if counts[i] == 0 or face_counts[i] == 0:
            continue
        max_iou, argmax = we.image_match(preds[poff[i]:poff[i + 1]], faces[goff[i]:goff[i + 1]])
        hit = np.flatnonzero(max_iou >= iou_thresh)
        out_p += (hit + poff[i]).tolist()
        out_g += (argmax[hit] + goff[i]).tolist()
    return out_p, out_g


@pytest.mark.parametrize("iou_thresh", [0.5, 1e-9, 0.3, 0.7, 1.0, 0.0, -0.5])
def test_match_equals_dense_argmax(iou_thresh):
    """Hard cases for the candidate test: touching boxes (iw exactly 0 and just above), duplicate faces
    (IoU ties go to the lowest index), zero and negative sizes, fractional and large coordinates."""
    rng = np.random.default_rng(3)
    faces, face_counts, preds, counts = [], [], [], []
    for img in range(60):
        scale = [1, 1000, 1e7][img % 3]
        g = np.concatenate([rng.integers(0, 50, (8, 2)), rng.integers(-2, 12, (8, 2))], 1).astype(float)
        g[1] = g[0]                                                          # duplicate face
        g = g * scale / 10 if img % 3 == 2 else g
        if img % 7 == 0:
            g = g[:0]
        p = np.concatenate([g[:, :2] + rng.integers(-2, 3, (len(g), 2)), g[:, 2:]], 1) if len(g) else g
        q = np.concatenate([rng.integers(-5, 60, (40, 2)), rng.integers(0, 15, (40, 2))], 1).astype(float)
        q[:5, 0] = g[0, 0] + g[0, 2] + 1 if len(g) else 0                   # iw exactly 0 with face 0
        q[5:10, 0] = (g[0, 0] + g[0, 2] + 1 - 1e-9) if len(g) else 0          # iw just above 0
        q += rng.random(q.shape) * (img % 2) * 0.5                            # fractional on odd images
        p = np.concatenate([p, q])
        if img % 11 == 0:
            p = p[:0]
        preds.append(p)
        counts.append(len(p))
        faces.append(g)
        face_counts.append(len(g))
    P = np.concatenate([np.concatenate(preds), np.zeros((sum(counts), 1))], 1)
    G = np.concatenate(faces)
    gt = we.GroundTruth(events=["0--Parade"], files=[[f"i{k}" for k in range(60)]],
                        boxes=[[f for f in faces]], keep={s: [[np.array([], int)] * 60] for s in we.SETTINGS})
    flat = evaluation._FlatGroundTruth(gt)
    got_p, got_g = we.match_predictions(P, counts, flat, iou_thresh=iou_thresh)
    want_p, want_g = _dense_hits(P, counts, G, face_counts, iou_thresh)
    assert got_p.tolist() == want_p and got_g.tolist() == want_g
    if iou_thresh == 0.5:
        assert 100 < len(want_p) < sum(counts) - 100


def test_threshold_bins_are_exact():
    thr = we.thresholds()
    special = np.concatenate([thr, np.nextafter(thr, 2), np.nextafter(thr, -1), [0.0, 1.0, 0.5, 1e-300]])
    s = np.concatenate([special, np.random.default_rng(0).random(10000)])
    s = s[(s >= 0) & (s <= 1)]
    bins = evaluation._threshold_bins(s, thr)
    want = np.array([np.flatnonzero(v >= thr)[0] if (v >= thr).any() else len(thr) for v in s])
    assert np.array_equal(bins, want)


def _synthetic_gt(d, n_events=3, per_event=90, seed=0):
    rng = np.random.default_rng(seed)
    events = [f"{k}--Event{k}" for k in range(n_events)]
    files = [[f"{k}_img_{j}" for j in range(per_event)] for k in range(n_events)]
    boxes, keep = [], {s: [] for s in we.SETTINGS}
    for k in range(n_events):
        ev_boxes = [np.concatenate([rng.integers(0, 900, (n, 2)), rng.integers(4, 120, (n, 2))], 1)
                    for n in rng.integers(1, 25, per_event)]
        boxes.append(ev_boxes)
        hard = [np.flatnonzero(rng.random(len(b)) < 0.9) + 1 for b in ev_boxes]
        keep["hard"].append(hard)
        keep["medium"].append([h[: len(h) // 2] for h in hard])
        keep["easy"].append([h[: len(h) // 4] for h in hard])
    return we.write_ground_truth(str(d), events, files, boxes, keep)


def test_workers_give_the_same_result_and_the_first_error(tmp_path):
    gt_dir = _synthetic_gt(tmp_path / "gt")
    gt = we.load_ground_truth(gt_dir)
    preds = [np.round(p, 2) for p in _random_preds(gt, seed=4)]
    pred = str(tmp_path / "pred")
    _write_all_raw(gt, preds, pred)
    one = we.evaluate(pred, gt_dir, workers=1)
    assert one.aps == we.evaluate_predictions(we.collect_predictions(pred, gt)[0], gt).aps
    for w in (2, 3):
        other = we.evaluate(pred, gt_dir, workers=w)
        assert other.aps == one.aps and other.num_predictions == one.num_predictions
        for s in we.SETTINGS:
            assert _same_curve(other.curves[s]["precision"], one.curves[s]["precision"])
    # a defective file in the last third, then one in the first: each run reports the first in image order
    late = os.path.join(pred, gt.events[2], gt.files[2][50] + ".txt")
    early = os.path.join(pred, gt.events[0], gt.files[0][10] + ".txt")
    for path in (late, early):
        with open(path, "a") as f:
            f.write("1 2 3\n")
        for w in (1, 2, 3):
            with pytest.raises(we.WiderFormatError) as e:
                we.evaluate(pred, gt_dir, workers=w)
            assert str(e.value).startswith(f"{path}:2: the count line says")


def test_progress_bar_on_a_terminal(tmp_path, monkeypatch):
    """With a terminal on stderr the reading shows a tqdm bar that reaches the number of images."""
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    gt_dir = _synthetic_gt(tmp_path / "gt", n_events=2, per_event=70)
    gt = we.load_ground_truth(gt_dir)
    pred = str(tmp_path / "pred")
    _write_all_raw(gt, _random_preds(gt, seed=6), pred)
    want = we.evaluate(pred, gt_dir).aps
    for workers in (1, 2):
        term = Terminal()
        monkeypatch.setattr(sys, "stderr", term)
        assert we.evaluate(pred, gt_dir, progress=True, workers=workers).aps == want
        assert "Reading predictions" in term.getvalue() and "140/140" in term.getvalue()
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    we.collect_predictions(pred, gt, progress=True)
    assert "140/140" in term.getvalue()
