import os

import numpy as np
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SHARED = os.environ.get("ZOO_SHARED", os.path.join(REPO, "..", "shared"))
REAL_GT = os.path.join(SHARED, "data", "widerface_val_gt")


@pytest.fixture(scope="session", autouse=True)
def _private_gt_cache(tmp_path_factory):
    """The ground-truth cache of the whole run (and of the CLI subprocesses) lives in a temporary folder."""
    old = os.environ.get("WIDERFACE_EVAL_CACHE")
    os.environ["WIDERFACE_EVAL_CACHE"] = str(tmp_path_factory.mktemp("gt_cache"))
    yield
    if old is None:
        os.environ.pop("WIDERFACE_EVAL_CACHE", None)
    else:
        os.environ["WIDERFACE_EVAL_CACHE"] = old


@pytest.fixture(scope="session")
def real_gt():
    if not os.path.isdir(REAL_GT):
        pytest.skip(f"real WIDER val ground truth not found at {REAL_GT}")
    from widerface_eval import load_ground_truth
    return load_ground_truth(REAL_GT)


@pytest.fixture
def tiny_gt(tmp_path):
    """One event, two images; image a: a kept face and a face kept only in 'hard'; image b: one kept face."""
    from widerface_eval import write_ground_truth
    d = tmp_path / "gt"
    write_ground_truth(
        str(d), ["0--Parade"], [["0_a", "0_b"]],
        [[np.array([[0, 0, 10, 10], [100, 100, 10, 10]]), np.array([[0, 0, 20, 20]])]],
        {"easy": [[np.array([1]), np.array([1])]],
         "medium": [[np.array([1]), np.array([1])]],
         "hard": [[np.array([1, 2]), np.array([1])]]})
    return str(d)


def reference_protocol(preds, gt, iou_thresh=0.5, thresh_num=1000):
    """A plain transcription of the protocol, one prediction at a time (the test oracle).

    ``preds``: flat list in ground-truth order of (N, 5) ``x y w h score`` arrays sorted by score.
    """
    boxes = [b for ev in gt.boxes for b in ev]
    lo, hi = 1.0, 0.0
    for p in preds:
        if len(p):
            lo, hi = min(lo, p[:, 4].min()), max(hi, p[:, 4].max())
    aps = {}
    for s in ("easy", "medium", "hard"):
        keep = [k for ev in gt.keep[s] for k in ev]
        curve = np.zeros((thresh_num, 2))
        count_face = 0
        for p, g, k in zip(preds, boxes, keep):
            count_face += len(k)
            if len(p) == 0 or len(g) == 0:
                continue
            sc = (p[:, 4] - lo) / (hi - lo)
            ignore = np.zeros(len(g))
            ignore[np.asarray(k, int) - 1] = 1
            recall_list = np.zeros(len(g))
            proposal = np.ones(len(p))
            pred_recall = np.zeros(len(p))
            for h in range(len(p)):
                px1, py1, px2, py2 = p[h, 0], p[h, 1], p[h, 0] + p[h, 2], p[h, 1] + p[h, 3]
                best, arg = -1.0, 0
                for j in range(len(g)):
                    gx1, gy1, gx2, gy2 = g[j, 0], g[j, 1], g[j, 0] + g[j, 2], g[j, 1] + g[j, 3]
                    iw = min(px2, gx2) - max(px1, gx1) + 1
                    ih = min(py2, gy2) - max(py1, gy1) + 1
                    iou = 0.0
                    if iw > 0 and ih > 0:
                        ua = (px2 - px1 + 1) * (py2 - py1 + 1) + (gx2 - gx1 + 1) * (gy2 - gy1 + 1) - iw * ih
                        iou = iw * ih / ua
                    if iou > best:
                        best, arg = iou, j
                if best >= iou_thresh:
                    if ignore[arg] == 0:
                        recall_list[arg] = -1
                        proposal[h] = -1
                    elif recall_list[arg] == 0:
                        recall_list[arg] = 1
                pred_recall[h] = np.sum(recall_list == 1)
            for t in range(thresh_num):
                thr = 1 - (t + 1) / thresh_num
                idx = np.where(sc >= thr)[0]
                if len(idx):
                    r = idx[-1]
                    curve[t, 0] += np.sum(proposal[:r + 1] == 1)
                    curve[t, 1] += pred_recall[r]
        with np.errstate(divide="ignore", invalid="ignore"):
            prec = curve[:, 1] / curve[:, 0]
        rec = curve[:, 1] / count_face
        mrec = np.concatenate(([0.0], rec, [1.0]))
        mpre = np.concatenate(([0.0], prec, [0.0]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = max(mpre[i - 1], mpre[i]) if not (np.isnan(mpre[i - 1]) or np.isnan(mpre[i])) else np.nan
        i = np.where(mrec[1:] != mrec[:-1])[0]
        aps[s] = float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))
    return aps
