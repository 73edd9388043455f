"""Checkpoint names: the ImageNet ResNet renaming of --pre_trained (src/convert_checkpoint.py), the old fpn_ncek
typo mended on load, the without_bg_loss head-shape hint, and modelarts_entry.py's local paths."""
import os
import sys

import numpy as np
import pytest

from helpers import MODEL_DIR


def _save(path, tensors):
    import mindspore as ms
    ms.save_checkpoint([{"name": k, "data": ms.Tensor(v)} for k, v in tensors.items()], str(path))


def test_imagenet_resnet_renaming(tmp_path):
    """The reference's renaming: a ``backbone.`` prefix, ``down_sample_layer.0/1`` -> ``conv_down_sample`` /
    ``bn_down_sample``; the classifier (``end_point``) and optimizer state are dropped; float32."""
    from src.convert_checkpoint import backbone_name, pretrained_params
    assert backbone_name("conv1.weight") == "backbone.conv1.weight"
    assert backbone_name("layer2.0.down_sample_layer.0.weight") == "backbone.layer2.0.conv_down_sample.weight"
    assert backbone_name("layer2.0.down_sample_layer.1.gamma") == "backbone.layer2.0.bn_down_sample.gamma"
    assert backbone_name("backbone.layer1.0.conv1.weight") == "backbone.layer1.0.conv1.weight"
    assert backbone_name("end_point.weight") is None and backbone_name("moments.conv1.weight") is None
    ckpt = tmp_path / "resnet50_imagenet.ckpt"
    _save(ckpt, {"conv1.weight": np.full((2, 3, 1, 1), 0.5, np.float16),
                 "layer1.0.down_sample_layer.1.beta": np.arange(4, dtype=np.float32),
                 "end_point.weight": np.ones((10, 4), np.float32),
                 "moments.conv1.weight": np.ones((2, 3, 1, 1), np.float32)})
    got = pretrained_params(str(ckpt))
    assert sorted(got) == ["backbone.conv1.weight", "backbone.layer1.0.bn_down_sample.beta"]
    assert got["backbone.conv1.weight"].dtype == np.float32 and float(got["backbone.conv1.weight"].sum()) == 3.0
    np.testing.assert_array_equal(got["backbone.layer1.0.bn_down_sample.beta"], [0, 1, 2, 3])


def test_finetune_mends_fpn_ncek_and_drops_the_class_heads(tmp_path):
    from src.checkpoint import mend_names
    from src.convert_checkpoint import pretrained_params
    assert mend_names({"fpn_ncek.lateral_convs_list.0.weight": 1, "rpn_with_loss.x": 2}) == \
        {"fpn_neck.lateral_convs_list.0.weight": 1, "rpn_with_loss.x": 2}
    ckpt = tmp_path / "official.ckpt"
    _save(ckpt, {"fpn_ncek.fpn_convs_list.0.weight": np.ones((2, 2, 1, 1), np.float32),
                 "rcnn.cls_scores.weight": np.ones((2, 4), np.float32),
                 "rcnn.reg_scores.weight": np.ones((4, 4), np.float32),
                 "rcnn.shared_fc_0.weight": np.ones((4, 4), np.float32),
                 "accum.rcnn.shared_fc_0.weight": np.ones((4, 4), np.float32)})
    got = pretrained_params(str(ckpt), finetune=True)
    assert sorted(got) == ["fpn_neck.fpn_convs_list.0.weight", "rcnn.shared_fc_0.weight"]


def test_load_mends_fpn_ncek_and_hints_without_bg_loss():
    """Loading a checkpoint of the official code: ``fpn_ncek.*`` loads into ``fpn_neck.*``; a regression head with
    background deltas (4 more outputs) is one CheckpointError naming --without_bg_loss=False."""
    import mindspore as ms
    from src.checkpoint import load_into_network
    from src.errors import CheckpointError

    class Net(ms.nn.Cell):
        def __init__(self):
            super().__init__()
            self.a = ms.Parameter(ms.Tensor(np.zeros((2, 2), np.float32)), name="fpn_neck.fpn_convs_list.0.weight")
            self.b = ms.Parameter(ms.Tensor(np.zeros((3, 8), np.float32)), name="rcnn.reg_scores.weight")

        def construct(self, x):
            return x

    def par(name, shape, value):
        return ms.Parameter(ms.Tensor(np.full(shape, value, np.float32)), name=name)

    net = Net()
    official = {"fpn_ncek.fpn_convs_list.0.weight": par("fpn_ncek.fpn_convs_list.0.weight", (2, 2), 1.5),
                "rcnn.reg_scores.weight": par("rcnn.reg_scores.weight", (3, 8), 2.0)}
    assert load_into_network(net, official, "official.ckpt") == 2
    assert float(net.a.asnumpy().sum()) == 6.0 and float(net.b.asnumpy().sum()) == 48.0
    official["rcnn.reg_scores.weight"] = par("rcnn.reg_scores.weight", (3, 12), 0.0)
    with pytest.raises(CheckpointError, match=r"^official\.ckpt: rcnn\.reg_scores\.weight has shape \[3, 12\], the "
                                              r"network expects \[3, 8\]: .*set --without_bg_loss=False$"):
        load_into_network(Net(), official, "official.ckpt")


def test_modelarts_local_paths_are_the_callers(tmp_path, monkeypatch):
    """Local --data_url / --train_url are relative to where modelarts_entry.py runs (issue 13 #4); a missing one
    is a DataError naming it as given."""
    import modelarts_entry
    import train
    from src.errors import DataError
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(train, "main", lambda argv: seen.append(argv) or 1)
    assert modelarts_entry.main(["--data_url=data", "--train_url=out/run", "--steps=1"]) == 1
    assert seen == [[f"--data_path={tmp_path}/data", f"--save_checkpoint_path={tmp_path}/out/run", "--steps=1"]]
    with pytest.raises(DataError, match="^nope: no such data folder$"):
        modelarts_entry.main(["--data_url=nope", "--train_url=out"])
    assert MODEL_DIR in sys.path[:3] and os.getcwd() == str(tmp_path)


def test_convert_official_picks_the_config_by_head_and_backbone():
    """Without --config_path: 4 classes -> FaceMask, 2 -> the face config, 81 -> COCO R50; ResNet101 / 152 and
    Inception-ResNet-v2 by a parameter only they have; another class count is one error asking for the config."""
    from src.errors import CheckpointError
    from tools.convert_official import pick_config

    class T:
        def __init__(self, *shape):
            self.shape = shape

    def head(n, *extra):
        return {"rcnn.cls_scores.weight": T(1024, n), **{k: T(1) for k in extra}}
    cases = [(head(4), "fasterrcnn_facemask_config_cpu.yaml"), (head(2), "fasterrcnn_widerface_config.yaml"),
             (head(81), "default_config.yaml"), (head(81, "backbone.layer3.22.conv1.weight"), "default_config_101.yaml"),
             (head(81, "backbone.layer3.22.conv1.weight", "backbone.layer2.7.conv1.weight"), "default_config_152.yaml"),
             (head(81, "backbone.conv2d_1a.conv.weight"), "default_config_InceptionResnetV2.yaml")]
    for params, yaml_name in cases:
        path, _ = pick_config(params, "x.ckpt")
        assert os.path.basename(path) == yaml_name and os.path.isfile(path)
    with pytest.raises(CheckpointError, match=r"^x\.ckpt: its head has 7 classes.*give --config_path$"):
        pick_config(head(7), "x.ckpt")


def test_loss_scale_is_undone_before_the_update():
    """TrainOneStepCell takes gradients of ``loss * scale`` and divides them by ``scale`` again (the reference's
    CPU cell did not): with scale 1024 the SGD step and the reported losses equal those of scale 1."""
    import mindspore as ms
    from mindspore import nn, ops
    from src.network_define import LossNet, TrainOneStepCell, WithLossCell

    class Tiny(nn.Cell):
        def __init__(self):
            super().__init__()
            self.w = ms.Parameter(ms.Tensor(np.array([0.5, -1.0, 2.0], np.float32)), name="w")

        def construct(self, x, img_shape, gt_bboxe, gt_label, gt_num, rpn_priority, rcnn_priority):
            a = ops.reduce_sum(self.w * x)
            b = ops.reduce_sum(self.w * self.w)
            return a, b, a * 0.5, a * 0.5, b * 0.5, b * 0.5

    def step(scale):
        net = Tiny()
        cell = TrainOneStepCell(WithLossCell(net, LossNet()), nn.SGD([net.w], learning_rate=0.1, momentum=0.9),
                                scale_sense=scale)
        z = ms.Tensor(np.zeros(1, np.float32))
        out = cell(ms.Tensor(np.array([1.0, 2.0, 3.0], np.float32)), z, z, z, z, z, z)
        return net.w.asnumpy(), float(out[0].asnumpy())
    w1, loss1 = step(1.0)
    w2, loss2 = step(1024.0)
    x, w0 = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(w1, w0 - 0.1 * (x + 2 * w0), rtol=1e-6)     # d(w.x + w.w)/dw = x + 2w
    np.testing.assert_array_equal(w2, w1)
    assert loss1 == loss2 == float(w0 @ x + w0 @ w0)


def test_latest_and_keep_last_n_count_global_steps(tmp_path):
    """``--resume auto`` takes the highest global step (not the newest file, not the text order); keeping the last
    N counts every checkpoint of the folder, those of earlier runs too; other files are left alone."""
    from src.checkpoint import checkpoint_name, latest_checkpoint, list_checkpoints, prune_checkpoints
    assert latest_checkpoint(str(tmp_path)) is None
    steps = [(1, 9), (2, 18), (2, 20), (3, 100), (1, 8)]             # (epoch, global step), written in this order
    for e, s in steps:
        (tmp_path / checkpoint_name(e, s)).write_bytes(b"x")
    (tmp_path / "faster_rcnn-x_7.ckpt").write_bytes(b"x")
    (tmp_path / "best.ckpt").write_bytes(b"x")
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path))] == \
        ["faster_rcnn-1_8.ckpt", "faster_rcnn-1_9.ckpt", "faster_rcnn-2_18.ckpt", "faster_rcnn-2_20.ckpt",
         "faster_rcnn-3_100.ckpt"]
    assert os.path.basename(latest_checkpoint(str(tmp_path))) == "faster_rcnn-3_100.ckpt"
    prune_checkpoints(str(tmp_path), 2)
    assert sorted(os.listdir(tmp_path)) == ["best.ckpt", "faster_rcnn-2_20.ckpt", "faster_rcnn-3_100.ckpt",
                                            "faster_rcnn-x_7.ckpt"]
