"""The spec's numbers in the built graphs: L2 1e-3 on conv kernels only, Nesterov momentum 0.9, the piecewise LR,
BN momentum/epsilon, class-bias init, padding to a multiple of 128, and the inference post-processing
(score >= 0.05, NMS 0.3, at most 200 boxes) on hand-built cases; the configuration's validation."""
import numpy as np
import pytest

from src.config import default_config, from_dict, model_config, num_anchors
from src.errors import ConfigError
from src.tf_compat import tf


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_default_config_is_the_reference():
    """TropComplique's config.json at HEAD (the reference spec, section 1.9 / 1.10)."""
    p = default_config()
    mp, ip = p["model_params"], p["input_pipeline_params"]
    assert mp["weight_decay"] == 1e-3 and mp["momentum"] == 0.9
    assert mp["lr_boundaries"] == [160000, 200000] and mp["lr_values"] == [0.004, 0.0004, 0.00004]
    assert mp["num_steps"] == 240000 and ip["batch_size"] == 16 and ip["image_size"] == [1024, 1024]
    assert (mp["score_threshold"], mp["iou_threshold"], mp["max_boxes"]) == (0.05, 0.3, 200)
    assert (mp["num_hard_examples"], mp["nms_threshold"], mp["max_negatives_per_positive"],
            mp["min_negatives_per_image"], mp["loss_to_use"]) == (500, 0.99, 3.0, 30, "classification")
    assert mp["localization_loss_weight"] == 1.0 and mp["classification_loss_weight"] == 1.0
    assert p["architecture"] == model_config("tropcomplique")
    assert mp["save_checkpoints_steps"] == 5000 and mp["keep_checkpoint_max"] == 5 and ip["num_workers"] == 1


@pytest.mark.parametrize("partial,needle", [
    ({"model_params": {"momentum": 1.5}}, "model_params.momentum = 1.5 must be <= 1"),
    ({"model_params": {"max_boxes": 2.5}}, "model_params.max_boxes = 2.5 must be a whole number"),
    ({"model_params": {"lr_values": [0.1]}}, "lr_values needs one value more than lr_boundaries"),
    ({"model_params": {"lr_boundaries": [5, 3], "lr_values": [1, 2, 3]}}, "lr_boundaries = [5, 3] must be increasing"),
    ({"input_pipeline_params": {"image_size": [512]}}, "image_size = [512] must have 2 entries"),
    ({"input_pipeline_params": {"augmentation": "yes"}}, 'augmentation = "yes" must be true or false'),
    ({"model_params": {"model_dir": "x"}}, "unknown setting model_params.model_dir"),
    ({"training": {}}, "unknown section 'training'"),
    ({"architecture": {"preset": "keras"}}, 'architecture.preset = "keras" must be one of pytorch, tropcomplique'),
])
def test_config_validation_names_the_setting(partial, needle):
    with pytest.raises(ConfigError) as e:
        from_dict(partial, source="cfg.json")
    assert str(e.value).startswith("cfg.json: ") and needle in str(e.value)


def test_config_partial_architecture_keeps_the_preset():
    cfg = from_dict({"architecture": {"preset": "pytorch"}})
    assert cfg["architecture"] == model_config("pytorch") and cfg["model_params"] == default_config()["model_params"]
    cfg = from_dict({"architecture": {"bn_epsilon": 1e-4}}, base=cfg)
    assert cfg["architecture"] == model_config("pytorch", bn_epsilon=1e-4)


def test_training_graph_l2_optimizer_and_lr_schedule(tmp_path):
    from src.engine import build_training

    (tmp_path / "shard-0000.tfrecords").write_bytes(b"")  # the graph is only built, never fed
    params = from_dict({"input_pipeline_params": {"batch_size": 1, "image_size": [128, 128]}})
    t = build_training(params, [str(tmp_path / "shard-0000.tfrecords")], start_step=0)

    l2_vars = [v for v in tf.trainable_variables() if "weights" in v.op.name]
    names = sorted(v.op.name for v in l2_vars)
    # 2 RDCL + 3 x 7 inception + 4 conv3/conv4 kernels + 3 box + 3 class head kernels; no BN, no biases
    assert len(names) == 2 + 21 + 4 + 6 and all(n.endswith("/weights") for n in names)
    assert not [n for n in names if "batch_norm" in n]
    assert {n for n in names if n.startswith("prediction_layers")} == {
        "prediction_layers/%s_%d/weights" % (k, i) for k in ("box_encoding_predictor", "class_predictor")
        for i in range(3)}

    momentum_ops = [op for op in tf.get_default_graph().get_operations() if op.type in (
        "ApplyMomentum", "ResourceApplyMomentum")]
    assert len(momentum_ops) == len(tf.trainable_variables())
    assert all(op.get_attr("use_nesterov") for op in momentum_ops)
    m = momentum_ops[0].inputs[4].op  # ApplyMomentum(var, accum, lr, grad, momentum)
    assert m.type == "Const" and tf.make_ndarray(m.get_attr("value")) == pytest.approx(0.9)

    set_step = tf.placeholder(tf.int64, [])
    assign = tf.assign(t["global_step"], set_step)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        w = s.run(l2_vars)
        np.testing.assert_allclose(s.run(t["reg"]), 1e-3 * sum((x.astype(np.float64) ** 2).sum() / 2 for x in w),
                                   rtol=1e-5)
        lrs = {}
        for step in (0, 159999, 160000, 160001, 199999, 200000, 200001, 240000):
            s.run(assign, {set_step: step})
            lrs[step] = s.run(t["lr"])
    # piecewise_constant: value i while step <= boundary i
    expected = {0: 0.004, 159999: 0.004, 160000: 0.004, 160001: 0.0004, 199999: 0.0004, 200000: 0.0004,
                200001: 0.00004, 240000: 0.00004}
    for step, lr in expected.items():
        assert lrs[step] == pytest.approx(lr), step


def test_batch_norm_momentum_and_epsilon_by_hand():
    from src.network import _Builder

    x = np.random.RandomState(0).randn(2, 3, 3, 4).astype(np.float32) * 2 + 1
    with tf.variable_scope("train"):
        y = _Builder(model_config("tropcomplique"), is_training=True).batch_norm(tf.constant(x))
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    with tf.variable_scope("infer"):
        z = _Builder(model_config("pytorch"), is_training=False).batch_norm(tf.constant(x))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        y_val = s.run(y)
        s.run(updates)
        by_name = {v.op.name: v for v in tf.global_variables()}
        mm, mv = s.run([by_name["train/batch_norm/moving_mean"], by_name["train/batch_norm/moving_variance"]])
        z_val = s.run(z)
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    # training: batch statistics (biased variance), epsilon 1e-3, gamma 1, beta 0
    np.testing.assert_allclose(y_val, (x - mean) / np.sqrt(var + 1e-3), atol=1e-5)
    # moving = 0.9 * moving + 0.1 * batch, from (0, 1); the variance update uses the unbiased estimate (n = 18)
    np.testing.assert_allclose(mm, 0.1 * mean, atol=1e-6)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * var * 18 / 17, atol=1e-6)
    # inference with the PyTorch preset: moving statistics (0, 1) and epsilon 1e-5
    np.testing.assert_allclose(z_val, x / np.sqrt(1 + 1e-5), atol=1e-6)


def test_class_bias_init_padding_and_box_scaler():
    from src.detector import Detector

    images = tf.placeholder(tf.float32, [1, None, None, 3])
    det = Detector(images, model_config("tropcomplique"), is_training=False)
    by_name = {v.op.name: v for v in tf.global_variables()}
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for i, a in enumerate((21, 1, 1)):
            b = s.run(by_name["prediction_layers/class_predictor_%d/biases" % i])
            np.testing.assert_allclose(b, np.tile([np.log(0.99), np.log(0.01)], a), rtol=1e-6)
            np.testing.assert_array_equal(s.run(by_name["prediction_layers/box_encoding_predictor_%d/biases" % i]), 0)
        feed = {images: np.zeros((1, 100, 200, 3), np.float32)}
        net_in, scaler, anchors = s.run([det.network_input, det.box_scaler, det.anchors], feed)
    # 100x200 is zero-padded bottom/right to 128x256 (then 2x-1: padded pixels are -1)
    assert net_in.shape == (1, 128, 256, 3)
    np.testing.assert_array_equal(net_in[0, 100:], -1.0)
    np.testing.assert_allclose(scaler, [100 / 128, 200 / 256, 100 / 128, 200 / 256])
    assert len(anchors) == num_anchors(100, 200) == 4 * 8 * 21 + 2 * 4 + 1 * 2


def _postprocess(encodings, logits, anchors, scaler=(1.0, 1.0, 1.0, 1.0), clip=True):
    from src.detector import Detector

    det = Detector.__new__(Detector)
    det.cfg = dict(model_config("tropcomplique"), clip_boxes=clip)
    det.box_encodings = tf.constant(encodings[None], tf.float32)
    det.class_predictions_with_background = tf.constant(logits[None], tf.float32)
    det.anchors = tf.constant(anchors, tf.float32)
    det.box_scaler = tf.constant(scaler, tf.float32)
    mp = default_config()["model_params"]  # score 0.05, NMS 0.3, 200 boxes
    out = det.get_predictions(mp["score_threshold"], mp["iou_threshold"], mp["max_boxes"])
    with tf.Session() as s:
        o = s.run(out)
    return o["boxes"][0], o["scores"][0], int(o["num_boxes"][0])


def _logits(scores):
    p = np.asarray(scores, np.float64)
    return np.stack([np.zeros_like(p), np.log(p / (1 - p))], 1)  # softmax(.)[1] == p


def test_postprocessing_threshold_nms_and_scaler():
    anchors = np.array([
        [0.0, 0.0, 0.2, 0.2],     # 0: score 0.9
        [0.0, 0.08, 0.2, 0.28],   # 1: IoU with 0 = 0.12/0.28 = 0.43 > 0.3 -> suppressed
        [0.0, 0.12, 0.2, 0.32],   # 2: IoU with 0 = 0.08/0.32 = 0.25 <= 0.3 -> kept
        [0.5, 0.5, 0.7, 0.7],     # 3: score 0.051 -> kept
        [0.5, 0.8, 0.7, 1.0],     # 4: score 0.049 -> below 0.05
        [0.8, 0.8, 1.1, 1.1],     # 5: outside the image -> clipped to 1
    ], np.float32)
    scores = [0.9, 0.8, 0.7, 0.051, 0.049, 0.6]
    boxes, s, n = _postprocess(np.zeros((6, 4), np.float32), _logits(scores), anchors,
                               scaler=(0.5, 1.0, 0.5, 1.0))
    assert n == 4 and boxes.shape == (200, 4)
    np.testing.assert_allclose(s[:n], [0.9, 0.7, 0.6, 0.051], rtol=1e-5)
    # decoded = anchor (zero codes, up to the 1e-8 epsilon), divided by the scaler, then clipped to [0, 1]
    np.testing.assert_allclose(boxes[:n], [[0, 0, 0.4, 0.2], [0, 0.12, 0.4, 0.32], [1, 0.8, 1, 1],
                                           [1, 0.5, 1, 0.7]], atol=1e-6)
    np.testing.assert_array_equal(boxes[n:], 0)
    np.testing.assert_array_equal(s[n:], 0)


def test_postprocessing_keeps_at_most_200_best():
    k = 250  # disjoint boxes on a 16x16 grid, all above the threshold
    i, j = np.divmod(np.arange(k), 16)
    anchors = np.stack([i / 16, j / 16, (i + 0.5) / 16, (j + 0.5) / 16], 1).astype(np.float32)
    scores = np.linspace(0.06, 0.95, k)[np.random.RandomState(0).permutation(k)]
    boxes, s, n = _postprocess(np.zeros((k, 4), np.float32), _logits(scores), anchors)
    assert n == 200
    np.testing.assert_allclose(s, np.sort(scores)[::-1][:200], rtol=1e-5)


def _greedy_nms(boxes, scores, score_threshold, iou_threshold, max_boxes):
    """The plain greedy NMS: by descending score, keep a box unless its IoU with a kept one exceeds the threshold."""
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= score_threshold]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    for i in order:
        if keep:
            k = np.asarray(keep)
            ih = np.clip(np.minimum(boxes[k, 2], boxes[i, 2]) - np.maximum(boxes[k, 0], boxes[i, 0]), 0, None)
            iw = np.clip(np.minimum(boxes[k, 3], boxes[i, 3]) - np.maximum(boxes[k, 1], boxes[i, 1]), 0, None)
            inter = ih * iw
            if (inter / (area[k] + area[i] - inter) > iou_threshold).any():
                continue
        keep.append(i)
        if len(keep) == max_boxes:
            break
    return np.asarray(keep)


def test_postprocessing_on_1e5_boxes_is_the_plain_greedy_nms():
    """Issue 13 #8: an untrained network's evaluation sends many boxes into NMS; the post-processing keeps exactly
    the boxes of the plain greedy NMS on 100,000 random boxes (all above the score threshold)."""
    rng = np.random.RandomState(0)
    n = 100000
    yx = rng.uniform(0, 0.9, (n, 2))
    hw = rng.uniform(0.02, 0.1, (n, 2))
    anchors = np.concatenate([yx, np.minimum(yx + hw, 1.0)], 1).astype(np.float32)
    scores = rng.permutation(np.linspace(0.06, 0.99, n))   # distinct beyond float32 softmax rounding
    boxes, s, k = _postprocess(np.zeros((n, 4), np.float32), _logits(scores), anchors)
    mp = default_config()["model_params"]
    ref = _greedy_nms(anchors.astype(np.float64), scores, mp["score_threshold"], mp["iou_threshold"], mp["max_boxes"])
    assert k == len(ref) == 200 and len(set(np.argsort(-scores)[:200]) - set(ref)) > 10   # NMS did suppress
    np.testing.assert_allclose(boxes[:k], anchors[ref], atol=1e-5)  # decode(0, anchor) in float32
    np.testing.assert_allclose(s[:k], scores[ref], rtol=1e-5)
