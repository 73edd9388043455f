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
