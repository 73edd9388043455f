"""MultiBoxLoss on hand-computed cases and the learning-rate schedules at chosen steps."""
import math

import numpy as np
import pytest

from src.lr_schedule import adjust_learning_rate


def _sl1(d):
    d = abs(d)
    return 0.5 * d * d if d < 1 else d - 0.5


def _loss(loc, loc_t, conf, conf_t, landm, landm_t):
    import mindspore as ms
    from src.loss import MultiBoxLoss
    out = MultiBoxLoss(2, 7)(ms.Tensor(loc), ms.Tensor(loc_t), ms.Tensor(conf), ms.Tensor(conf_t),
                             ms.Tensor(landm), ms.Tensor(landm_t))
    return [float(o.asnumpy()) for o in out]


def test_hard_negative_mining_on_known_losses():
    P = 20
    # image 0: prior 0 is a face with landmarks; image 1: no face at all (no negatives may be mined there)
    conf_t = np.zeros((2, P), np.int32)
    conf_t[0, 0] = 1
    logits = np.zeros((2, P, 2), np.float32)
    face_logit = np.linspace(-3, 3, P).astype(np.float32)       # negatives' CE = log(1 + e^l): distinct values
    logits[:, :, 1] = face_logit
    logits[0, 0, 1] = 0.5                                       # positive: CE = log(1 + e^-0.5)
    loc = np.zeros((2, P, 4), np.float32)
    loc_t = np.zeros((2, P, 4), np.float32)
    landm = np.zeros((2, P, 10), np.float32)
    landm_t = np.zeros((2, P, 10), np.float32)
    l_loc, l_cls, l_landm = _loss(loc, loc_t, logits, conf_t, landm, landm_t)
    neg_ce = np.log1p(np.exp(face_logit[1:]))                   # negatives of image 0 (priors 1..19)
    expected = math.log1p(math.exp(-0.5)) + np.sort(neg_ce)[::-1][:7].sum()   # 7 hardest negatives, N = 1
    assert l_cls == pytest.approx(expected, rel=1e-5)
    assert l_loc == 0 and l_landm == 0


def test_negatives_capped_at_num_priors_minus_one():
    P = 6
    conf_t = np.zeros((1, P), np.int32)
    conf_t[0, 0] = 1                                            # 7 * 1 > P - 1 = 5: every negative kept
    logits = np.random.default_rng(0).normal(size=(1, P, 2)).astype(np.float32)
    z = np.zeros
    _, l_cls, _ = _loss(z((1, P, 4), np.float32), z((1, P, 4), np.float32), logits, conf_t,
                        z((1, P, 10), np.float32), z((1, P, 10), np.float32))
    lse = np.log(np.exp(logits).sum(-1))[0]
    ce = lse - np.where(conf_t[0] != 0, logits[0, :, 1], logits[0, :, 0])
    assert l_cls == pytest.approx(ce.sum(), rel=1e-5)


def test_loc_and_landmark_masks_and_normalisers():
    P = 8
    conf_t = np.array([[1, -1, 0, 0, 0, 0, 0, 0]], np.int32)    # 2 faces, 1 with landmarks
    loc = np.zeros((1, P, 4), np.float32)
    loc_t = np.zeros((1, P, 4), np.float32)
    loc[0, 0] = [0.5, 0, 0, 0]        # 0.125
    loc[0, 1] = [0, 2.0, 0, 0]        # 1.5
    loc[0, 5] = [9, 9, 9, 9]          # background: ignored
    landm = np.zeros((1, P, 10), np.float32)
    landm_t = np.zeros((1, P, 10), np.float32)
    landm[0, 0, 0] = 3.0              # 2.5
    landm[0, 1, :] = 5.0              # face without landmarks: ignored
    logits = np.zeros((1, P, 2), np.float32)
    l_loc, l_cls, l_landm = _loss(loc, loc_t, logits, conf_t, landm, landm_t)
    assert l_loc == pytest.approx((_sl1(0.5) + _sl1(2.0)) / 2, rel=1e-6)      # / N = 2 positives
    assert l_landm == pytest.approx(_sl1(3.0) / 1, rel=1e-6)                  # / 1 face with landmarks
    # all logits 0: CE = log 2 for the 2 positives and min(14, 7) = 6 negatives, / 2
    assert l_cls == pytest.approx(8 * math.log(2) / 2, rel=1e-5)


def test_all_background_batch_is_finite():
    P = 5
    z = np.zeros
    out = _loss(z((1, P, 4), np.float32), z((1, P, 4), np.float32), z((1, P, 2), np.float32),
                z((1, P), np.int32), z((1, P, 10), np.float32), z((1, P, 10), np.float32))
    assert out == [0.0, 0.0, 0.0]


def test_dynamic_lr_values():
    spe, epochs, warm = 10, 100, 5
    lr = adjust_learning_rate(0.01, 0.1, [70, 90], spe, epochs, warm, "dynamic_lr")
    T, W = epochs * spe, warm * spe
    assert len(lr) == T
    assert lr[0] == pytest.approx(0.01 / 3)
    assert lr[25] == pytest.approx(0.01 / 3 + (0.01 - 0.01 / 3) * 25 / W)
    assert lr[W] == pytest.approx(0.01)                                     # cos(0)
    assert lr[W + T // 2] == pytest.approx(0.01 * (1 + math.cos(math.pi / 2)) / 2)
    assert lr[-1] == pytest.approx(0.01 * (1 + math.cos(math.pi * (T - 1 - W) / T)) / 2)
    assert lr[-1] == pytest.approx(6.2e-5, rel=0.05)                        # never reaches 0 (denominator T)


def test_standard_lr_values():
    spe = 3
    lr = adjust_learning_rate(0.01, 0.1, [70, 90], spe, 100, 5, "standard_lr")
    at = lambda epoch: lr[(epoch - 1) * spe]                                 # noqa: E731 (1-based epoch)
    assert at(1) == pytest.approx(0.001)
    assert at(5) == pytest.approx(0.001 * 1.5849 ** 4)
    assert at(6) == pytest.approx(0.01)
    assert at(69) == pytest.approx(0.01)
    assert at(70) == pytest.approx(0.001) and at(90) == pytest.approx(0.001)
    assert at(91) == pytest.approx(0.0001) and at(100) == pytest.approx(0.0001)


def test_unknown_lr_type():
    with pytest.raises(ValueError, match="lr_type"):
        adjust_learning_rate(0.01, 0.1, [70, 90], 1, 1, 0, "poly")
