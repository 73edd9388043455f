"""Priors, matching, the box coder, hard negatives, the loss normalisation, max-out, L2Norm, NMS, Detect and bbox
voting on hand-computed cases."""
import math

import numpy as np
import pytest
import torch

from data.config import make_config
from layers.bbox_utils import decode, encode, match, nms, point_form
from layers.functions.detection import Detect
from layers.functions.prior_box import PriorBox, feature_map_sizes, min_input_side, num_priors
from layers.modules.l2norm import L2Norm
from layers.modules.multibox_loss import MultiBoxLoss
from src.inference import bbox_vote

CFG = make_config()
TH = CFG.OVERLAP_THRESH          # 0.1, 0.35, 0.5
VAR = CFG.VARIANCE


# ----------------------------------------------------------------------------------------------- priors
def test_prior_count_at_640_both_architectures():
    assert feature_map_sizes(640, 640, CFG) == [(160, 160), (80, 80), (40, 40), (20, 20), (10, 10), (5, 5)]
    assert num_priors(640, 640, CFG) == 160 ** 2 + 80 ** 2 + 40 ** 2 + 20 ** 2 + 10 ** 2 + 5 ** 2 == 34125
    sfd = make_config("sfd")   # fc6 grows the map by 4 (padding 3, no dilation)
    assert feature_map_sizes(640, 640, sfd) == [(160, 160), (80, 80), (40, 40), (24, 24), (12, 12), (6, 6)]
    assert num_priors(640, 640, sfd) == 34356
    # pool3 ceil (yxlijun) vs floor (sfd), the fixture's 36 x 44 case
    assert feature_map_sizes(36, 44, CFG) == [(9, 11), (5, 6), (2, 3), (1, 1), (1, 1), (1, 1)]
    assert feature_map_sizes(36, 44, sfd) == [(9, 11), (4, 5), (2, 2), (5, 5), (3, 3), (2, 2)]
    assert min_input_side(CFG) == 28 and min_input_side(sfd) == 32


def test_prior_coordinates_at_a_non_square_size_follow_the_formula():
    h, w = 200, 320
    maps = feature_map_sizes(h, w, CFG)
    assert maps == [(50, 80), (25, 40), (12, 20), (6, 10), (3, 5), (2, 3)]
    # the network's own maps at that size
    from s3fd import build_s3fd
    net = build_s3fd("train", 2, CFG)
    with torch.no_grad():
        _, _, net_maps = net.heads(torch.zeros(1, 3, h, w))
    assert net_maps == maps
    p = PriorBox((h, w), maps, CFG).forward().numpy()
    assert p.shape == (sum(a * b for a, b in maps), 4)
    start = 0
    for (fh, fw), step, size in zip(maps, CFG.STEPS, CFG.ANCHOR_SIZES):
        for i, j in ((0, 0), (fh - 1, fw - 1), (fh // 2, fw // 3)):
            want = [(j + 0.5) * step / w, (i + 0.5) * step / h, size / w, size / h]
            assert np.allclose(p[start + i * fw + j], want, atol=1e-7)
        start += fh * fw


# ----------------------------------------------------------------------------------------------- matching
def shifted(gt, dxs):
    """Priors (cx, cy, w, h) of the size of square ``gt`` shifted right by each dx: IoU = (s - dx) / (s + dx)."""
    x1, y1, x2, y2 = gt
    s = x2 - x1
    return [[(x1 + x2) / 2 + dx, (y1 + y2) / 2, s, s] for dx in dxs]


def run_match(truths, priors, stage2="image", labels=None):
    t = torch.tensor(truths, dtype=torch.float32)
    p = torch.tensor(priors, dtype=torch.float32)
    lab = torch.ones(len(truths)) if labels is None else torch.tensor(labels, dtype=torch.float32)
    return match(TH, t, p, VAR, lab, stage2)


def test_match_one_face_stage2_adds_the_top_n_priors():
    a = [0.1, 0.1, 0.3, 0.3]
    # IoU with A: 1.0, 0.6, 0.333, 0.25, 0.176, 0.111, 0.081
    priors = shifted(a, [0.0, 0.05, 0.1, 0.12, 0.14, 0.16, 0.17])
    _, conf = run_match([a], priors)
    # stage 1: IoU >= 0.35 -> priors 0, 1; N = (1 [best >= 0.35] + 1 [best >= 0.5]) // 2 = 1 -> the 0.333 one
    assert conf.tolist() == [1, 1, 1, 0, 0, 0, 0]


def test_match_stage2_n_is_image_global_and_capped_by_candidates():
    a, c = [0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.7, 0.7]
    pa = shifted(a, [0.0, 0.1, 0.12])                  # 1.0, 0.333, 0.25
    pc = shifted(c, [0.0857, 0.16, 0.165])             # 0.4 (>= 0.35, < 0.5), 0.111, 0.096
    _, conf = run_match([a, c], pa + pc)
    # N = (2 + 1) // 2 = 1: the single highest stage-2 IoU of the whole image (A's 0.333), none for C
    assert conf.tolist() == [1, 1, 0, 1, 0, 0]
    # three faces with best IoU >= 0.5 -> N = 3, but only two priors with 0.1 < IoU < 0.35 exist -> 2
    b = [0.1, 0.6, 0.3, 0.8]
    priors = shifted(a, [0.0, 0.12]) + shifted(c, [0.0, 0.16]) + shifted(b, [0.0, 0.17])
    _, conf = run_match([a, c, b], priors)
    assert conf.tolist() == [1, 1, 1, 1, 1, 0]         # 0.25 and 0.111 added, 0.081 (< 0.1) not


def test_match_forces_each_faces_best_prior_and_later_faces_win_a_shared_one():
    tiny = [0.55, 0.55, 0.57, 0.57]                    # IoU 0.01 with the prior centred on it: forced anyway
    a = [0.1, 0.1, 0.3, 0.3]
    priors = shifted(a, [0.0]) + [[0.56, 0.56, 0.2, 0.2]]
    loc, conf = run_match([a, tiny], priors)
    assert conf.tolist() == [1, 1]
    want = encode(torch.tensor([tiny]), torch.tensor([priors[1]]), VAR)
    assert torch.allclose(loc[1:], want)
    # two faces whose best prior is the same: the later face owns it
    f1, f2 = [0.1, 0.1, 0.3, 0.3], [0.11, 0.11, 0.31, 0.31]
    loc, conf = run_match([f1, f2], [[0.205, 0.205, 0.2, 0.2]])
    assert torch.allclose(loc, encode(torch.tensor([f2]), torch.tensor([[0.205, 0.205, 0.2, 0.2]]), VAR))


def test_match_paper_per_face_stage2():
    a, c = [0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.7, 0.7]
    pa = shifted(a, [0.0, 0.05, 0.02, 0.1])            # 3 stage-1 matches for A (1.0, 0.6, 0.818), then 0.333
    pc = shifted(c, [0.0857, 0.12, 0.14, 0.16])        # 1 stage-1 match for C (0.4), then 0.25, 0.176, 0.111
    _, conf = run_match([a, c], pa + pc, stage2="face")
    # the paper: N_p = round(mean(3, 1)) = 2; C takes its best remaining prior (0.25), A has enough
    assert conf.tolist() == [1, 1, 1, 0, 1, 1, 0, 0]
    _, conf = run_match([a, c], pa + pc, stage2="image")
    # the reference: N = (2 + 1) // 2 = 1 over the whole image -> A's 0.333, nothing for C
    assert conf.tolist() == [1, 1, 1, 1, 1, 0, 0, 0]


def test_encode_decode_round_trip():
    g = torch.Generator().manual_seed(0)
    priors = torch.cat([torch.rand(200, 2, generator=g), torch.rand(200, 2, generator=g) * 0.3 + 0.02], 1)
    boxes = point_form(torch.cat([torch.rand(200, 2, generator=g), torch.rand(200, 2, generator=g) * 0.4 + 0.01],
                                 1))
    assert torch.allclose(decode(encode(boxes, priors, VAR), priors, VAR), boxes, atol=1e-5)
    t = encode(boxes[:1], priors[:1], VAR)[0]
    gc, gw = (boxes[0, :2] + boxes[0, 2:]) / 2, boxes[0, 2:] - boxes[0, :2]
    assert torch.allclose(t[:2], (gc - priors[0, :2]) / (0.1 * priors[0, 2:]), atol=1e-5)
    assert torch.allclose(t[2:], torch.log(gw / priors[0, 2:]) / 0.2, atol=1e-5)


# ----------------------------------------------------------------------------------------------- loss
def test_hard_negatives_are_the_top_3_per_image_by_loss():
    crit = MultiBoxLoss(CFG)
    v = torch.tensor([[9.0, 0.5, 3.0, -1.0, 2.0, 0.1, 4.0, -2.0, 1.0, 0.0],
                      [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
                      [5.0, 4.0, 3.0, 2.0, 1.0, 0.0, 6.0, 7.0, 8.0, 9.0]])
    conf = torch.stack([torch.zeros_like(v), v], 2)     # background CE = softplus(v): ranked by v
    conf_t = torch.zeros(3, 10, dtype=torch.long)
    conf_t[0, 0] = 1                                     # 1 positive -> 3 negatives: v = 4, 3, 2
    conf_t[1, :3] = 1                                    # 3 positives -> min(9, 9) = 9: all 7 others
    neg = crit.hard_negatives(conf, conf_t, conf_t > 0)  # image 2: no positive -> no negative
    negatives = neg & (conf_t == 0)      # (the reference's mask may also cover positives: they count once)
    assert torch.nonzero(negatives[0]).flatten().tolist() == [2, 4, 6]
    assert torch.nonzero(negatives[1]).flatten().tolist() == list(range(3, 10))
    assert not neg[2].any()


def test_hard_negatives_survive_a_huge_logit_elsewhere_in_the_batch():
    """The mining loss is stabilised per prior: a prior 90+ below the batch's largest logit is still ranked (the
    reference's batch-wide maximum underflows it to -inf)."""
    crit = MultiBoxLoss(CFG)
    conf = torch.zeros(1, 6, 2)
    conf[0, 0] = torch.tensor([0.0, 500.0])          # a positive with a huge face logit
    conf[0, 1:, 1] = torch.tensor([5.0, -3.0, 4.0, -2.0, 1.0])
    conf_t = torch.zeros(1, 6, dtype=torch.long)
    conf_t[0, 0] = 1
    neg = crit.hard_negatives(conf, conf_t, conf_t > 0) & (conf_t == 0)
    assert torch.nonzero(neg[0]).flatten().tolist() == [1, 3, 5]       # the three confident false faces


def test_loss_terms_divided_by_the_batch_positives(monkeypatch):
    crit = MultiBoxLoss(CFG)
    g = torch.Generator().manual_seed(1)
    loc, conf = torch.randn(2, 10, 4, generator=g), torch.randn(2, 10, 2, generator=g)
    loc_t = torch.randn(2, 10, 4, generator=g)
    conf_t = torch.zeros(2, 10, dtype=torch.long)
    conf_t[0, 3] = conf_t[0, 7] = 1
    monkeypatch.setattr(crit, "targets", lambda targets, priors: (loc_t, conf_t))
    loss_l, loss_c = crit((loc, conf, torch.zeros(10, 4)), [None, None])
    pos = conf_t > 0
    neg = crit.hard_negatives(conf, conf_t, pos)
    sel = pos | neg
    assert neg.sum().item() == 6                         # 3 x 2 positives in image 0, none in image 1
    want_l = torch.nn.functional.smooth_l1_loss(loc[pos], loc_t[pos], reduction="sum") / 2
    want_c = torch.nn.functional.cross_entropy(conf[sel], conf_t[sel], reduction="sum") / 2
    assert loss_l.item() == pytest.approx(want_l.item()) and loss_c.item() == pytest.approx(want_c.item())
    conf_t.zero_()                                       # no positive in the batch: divided by the batch size
    loss_l, loss_c = crit((loc, conf, torch.zeros(10, 4)), [None, None])
    assert loss_l.item() == 0 and loss_c.item() == 0



class _TwoProcesses:
    """A stand-in for ``src.device.Dist`` of a 2-process job: ``sum`` adds the other process's counts."""
    world, distributed = 2, True

    def __init__(self, other):
        self.other = other

    def sum(self, t, device):
        return t + self.other


@pytest.mark.parametrize("positives", [(2, 5), (0, 0)])
def test_data_parallel_loss_is_the_global_batch_loss(monkeypatch, positives):
    """Under DDP each process's loss is normalised by the positives of the global batch (the reference's DataParallel
    computed one loss on the gathered batch): the gradient DDP averages over 2 processes, each holding one image,
    equals the gradient of the one-process loss of both images (2 and 5 positives; none: the global batch size)."""
    g = torch.Generator().manual_seed(3)
    loc = torch.randn(2, 12, 4, generator=g, dtype=torch.float64).float()
    conf = torch.randn(2, 12, 2, generator=g, dtype=torch.float64).float()
    loc_t = torch.randn(2, 12, 4, generator=g)
    conf_t = torch.zeros(2, 12, dtype=torch.long)
    conf_t[0, :positives[0]] = 1
    conf_t[1, 3:3 + positives[1]] = 1

    whole = MultiBoxLoss(CFG)
    monkeypatch.setattr(whole, "targets", lambda targets, priors: (loc_t, conf_t))
    loc_w, conf_w = loc.clone().requires_grad_(), conf.clone().requires_grad_()
    l_w, c_w = whole((loc_w, conf_w, torch.zeros(12, 4)), [None, None])
    (l_w + c_w).backward()

    totals, grads = [], []
    for r in (0, 1):
        other = torch.tensor([float(positives[1 - r]), 1.0], dtype=torch.float64)
        crit = MultiBoxLoss(CFG, _TwoProcesses(other))
        monkeypatch.setattr(crit, "targets", lambda targets, priors, r=r: (loc_t[r:r + 1], conf_t[r:r + 1]))
        loc_r, conf_r = loc[r:r + 1].clone().requires_grad_(), conf[r:r + 1].clone().requires_grad_()
        l_r, c_r = crit((loc_r, conf_r, torch.zeros(12, 4)), [None])
        (l_r + c_r).backward()
        totals.append((l_r.item(), c_r.item()))
        grads.append((loc_r.grad / 2, conf_r.grad / 2))           # DDP averages the gradients of the 2 processes
    assert l_w.item() == pytest.approx(sum(t[0] for t in totals) / 2, rel=1e-6)
    assert c_w.item() == pytest.approx(sum(t[1] for t in totals) / 2, rel=1e-6)
    for r in (0, 1):
        assert torch.allclose(grads[r][0], loc_w.grad[r:r + 1], atol=1e-7)
        assert torch.allclose(grads[r][1], conf_w.grad[r:r + 1], atol=1e-7)


# ----------------------------------------------------------------------------------------------- layers
def test_l2norm():
    m = L2Norm(2, 10)
    x = torch.tensor([3.0, 0.0, 4.0, 2.0]).view(1, 2, 2, 1)     # channels (3, 4) and (0, 2)
    assert torch.allclose(m(x).flatten(), torch.tensor([6.0, 0.0, 8.0, 10.0]), atol=1e-6)
    assert torch.equal(m.weight.data, torch.full((2,), 10.0))


def test_max_out_background_on_conv3_3():
    from s3fd import build_s3fd
    net = build_s3fd("train", 2, CFG)
    with torch.no_grad():
        net.conf[0].weight.zero_()
        net.conf[0].bias.copy_(torch.tensor([1.0, 5.0, 2.0, -1.0]))     # 3 background channels, then the face
        net.conf[1].weight.zero_()
        net.conf[1].bias.copy_(torch.tensor([0.25, 0.75]))
        _, conf, maps = net.heads(torch.zeros(1, 3, 64, 64))
    n0 = maps[0][0] * maps[0][1]
    assert conf.shape == (1, num_priors(64, 64, CFG), 2)
    assert torch.equal(conf[0, :n0], torch.tensor([[5.0, -1.0]]).expand(n0, 2))
    n1 = maps[1][0] * maps[1][1]
    assert torch.equal(conf[0, n0:n0 + n1], torch.tensor([[0.25, 0.75]]).expand(n1, 2))


# ----------------------------------------------------------------------------------------------- NMS, Detect, voting
def plain_greedy_nms(boxes, scores, overlap, top_k):
    """The reference's loop, transcribed plainly (torch, float32)."""
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    _, idx = scores.sort(0)
    idx = idx[-top_k:]
    keep = []
    while idx.numel() > 0:
        i = idx[-1]
        keep.append(int(i))
        idx = idx[:-1]
        if idx.numel() == 0:
            break
        w = torch.clamp(torch.clamp(x2[idx], max=x2[i]) - torch.clamp(x1[idx], min=x1[i]), min=0.0)
        h = torch.clamp(torch.clamp(y2[idx], max=y2[i]) - torch.clamp(y1[idx], min=y1[i]), min=0.0)
        inter = w * h
        iou = inter / ((area[idx] - inter) + area[i])
        idx = idx[iou.le(overlap)]
    return keep


def random_boxes(n, seed):
    g = np.random.default_rng(seed)
    c = g.uniform(0, 1, (n, 2))
    s = np.exp(g.uniform(np.log(0.005), np.log(0.3), (n, 2)))
    boxes = np.concatenate([c - s / 2, c + s / 2], 1).astype(np.float32)
    scores = np.round(g.uniform(0, 1, n), 3).astype(np.float32)      # many exact ties
    boxes[n // 3: n // 3 + 20] = boxes[:20]                          # exact duplicates
    boxes[50:53, 2:] = boxes[50:53, :2]                              # zero-area boxes
    boxes[60, 0] = np.inf                                            # an overflowed decode
    boxes[61] = np.nan
    return torch.from_numpy(boxes), torch.from_numpy(scores)


@pytest.mark.parametrize("n, top_k", [(3000, 5000), (20000, 20000)])
def test_nms_is_exactly_the_plain_greedy_nms(n, top_k):
    boxes, scores = random_boxes(n, n)
    ids, count = nms(boxes, scores, 0.3, top_k)
    want = plain_greedy_nms(boxes, scores, 0.3, top_k)
    assert count == len(want) and ids.tolist() == want
    ids, count = nms(boxes, scores, 0.3, top_k, max_keep=750)
    assert ids.tolist() == want[:750]


def test_detect_without_candidates_gives_zeros():
    det = Detect(CFG)
    priors = PriorBox((64, 64), feature_map_sizes(64, 64, CFG), CFG).forward()
    conf = torch.zeros(1, priors.size(0), 2)
    conf[..., 0] = 1.0                                                  # every face score 0 < 0.05
    out = det(torch.zeros(1, priors.size(0), 4), conf, priors)
    assert out.shape == (1, 2, CFG.TOP_K, 5) and not out.any()


def test_bbox_vote_hand_made_clusters():
    vote = (CFG.VOTE_THRESH, CFG.VOTE_TOP_K)                               # 0.3, 750
    dets = np.array([[1, 1, 10, 10, 0.6],                 # merges with the next (IoU 81 / 119 with +1 areas)
                     [0, 0, 9, 9, 0.9],
                     [50, 50, 59, 59, 0.5],               # alone: kept (the reference drops it)
                     [0, 0, 30, 30, 0.7]])                # IoU 100 / 961 with the first: its own cluster
    out = bbox_vote(dets, *vote)
    assert out.shape == (3, 5)
    assert np.allclose(out[0], [0.4, 0.4, 9.4, 9.4, 0.9])
    assert np.allclose(out[1], [0, 0, 30, 30, 0.7])
    assert np.allclose(out[2], [50, 50, 59, 59, 0.5])
    assert bbox_vote(np.zeros((0, 5)), *vote).shape == (0, 5)   # no detection: empty (the reference crashes)
    many = np.array([[i * 20, 0, i * 20 + 9, 9, 1 - i / 1000] for i in range(800)], np.float64)
    assert bbox_vote(many, *vote).shape == (750, 5) and math.isclose(bbox_vote(many, *vote)[-1, 4], 1 - 749 / 1000)
