"""Configuration (presets, validation, stored dict), checkpoints (naming, latest, keep-N, foreign files) and the
training passes of the engine."""
import json

import numpy as np
import pytest

from src.checkpoint import (CONFIG_KEY, checkpoint_name, keep_last, latest, list_checkpoints, load, remove_partial,
                            save)
from src.config import changed_settings, from_dict, get_config, model_config, to_dict
from src.engine import training_passes
from src.errors import CheckpointError, ConfigError


def test_presets_are_the_reference_values():
    r50, mnet = get_config("resnet50"), get_config("mobilenet0.25")
    assert (r50["image_size"], r50["batch_size"], r50["initial_lr"], r50["epoch"], r50["warmup_epoch"]) == \
        (840, 8, 0.01, 100, 5)
    assert (r50["val_target_size"], r50["val_max_size"], r50["val_confidence_threshold"],
            r50["val_nms_threshold"]) == (1600, 2176, 0.02, 0.4)
    assert (mnet["image_size"], mnet["batch_size"], mnet["initial_lr"], mnet["epoch"], mnet["out_channel"],
            mnet["leaky"]) == (640, 32, 0.02, 120, 64, 0.1)
    assert r50["min_sizes"] == [[16, 32], [64, 128], [256, 512]] and r50["steps"] == [8, 16, 32]


@pytest.mark.parametrize("override, message", [
    ({"batch_size": 0}, "batch_size must be a positive whole number, not 0"),
    ({"initial_lr": -1.0}, "initial_lr must be > 0"),
    ({"lr_type": "poly"}, "lr_type must be one of dynamic_lr, standard_lr, not 'poly'"),
    ({"match_thresh": 1.5}, "match_thresh must be a number in [0, 1]"),
    ({"out_channel": 66}, "out_channel must be a multiple of 4"),
    ({"min_sizes": [[16], [64], [256]]}, "steps and min_sizes must give 3 levels"),
    ({"val_target_size": 3000}, "val_target_size 3000 exceeds val_max_size 2176"),
    ({"colour": 1}, "unknown configuration key(s) colour")])
def test_config_validation(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        get_config("resnet50", **override)


def test_stored_dict_round_trip_and_changes():
    cfg = get_config("mobilenet0.25", leaky=0.0, batch_size=4)
    d = json.loads(json.dumps(to_dict(cfg)))
    assert d["model"] == "RetinaFace" and from_dict(d) == cfg
    # a dict of an earlier version of this folder: the model keys only, plus the names it no longer uses
    old = dict(model_config(cfg), name="mobilenet0.25", image_size=640)
    assert from_dict(old)["leaky"] == 0.0 and from_dict(old)["batch_size"] == 32
    with pytest.raises(ConfigError, match="x.ckpt: a configuration of FasterRCNN, not of RetinaFace"):
        from_dict(dict(d, model="FasterRCNN"), where="x.ckpt")
    assert changed_settings(cfg, {"batch_size": 8, "num_workers": 1, "leaky": 0.0}) == [("batch_size", 4, 8)]


def test_checkpoint_names_latest_and_keep_last(tmp_path):
    assert checkpoint_name(40200) == "retinaface_step40200.ckpt"
    for step in (10, 9, 100, 2):
        (tmp_path / checkpoint_name(step)).write_text("")
    (tmp_path / "RetinaFace-1_9.ckpt").write_text("")        # another naming: not one of this folder's run
    assert [s for s, _ in list_checkpoints(str(tmp_path))] == [2, 9, 10, 100]
    assert latest(str(tmp_path)) == str(tmp_path / "retinaface_step100.ckpt")
    assert keep_last(str(tmp_path), 2) == [str(tmp_path / "retinaface_step2.ckpt"),
                                           str(tmp_path / "retinaface_step9.ckpt")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RetinaFace-1_9.ckpt", "retinaface_step10.ckpt",
                                                          "retinaface_step100.ckpt"]
    assert latest(str(tmp_path / "nowhere")) is None
    # the temp file of a save that a killed run never finished goes; nothing else does
    for name in (".tmp_ab_12x.ckpt", ".tmp_ab_12x.json"):
        (tmp_path / name).write_text("")
    assert remove_partial(str(tmp_path)) == [str(tmp_path / ".tmp_ab_12x.ckpt")]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp_ab_12x.json", "RetinaFace-1_9.ckpt",
                                                          "retinaface_step10.ckpt", "retinaface_step100.ckpt"]


def test_checkpoint_round_trip_and_foreign_files(tmp_path):
    import mindspore as ms
    cfg = get_config("mobilenet0.25")
    path = str(tmp_path / "a.ckpt")
    save({"w": ms.Parameter(ms.Tensor(np.arange(3, dtype=np.float32)))}, path, cfg, extra={"source": "test"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt"]           # atomic: no temp file left
    params, got, extras = load(path)
    assert got == cfg and extras == {"source": "test"} and params["w"].asnumpy().tolist() == [0, 1, 2]
    # a checkpoint without a stored configuration (e.g. the official MindSpore RetinaFace's): cfg None
    ms.save_checkpoint({"w": ms.Parameter(ms.Tensor([1.0]))}, str(tmp_path / "plain.ckpt"))
    assert load(str(tmp_path / "plain.ckpt"))[1] is None
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load(str(tmp_path / "missing.ckpt"))
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.ckpt: not a readable MindSpore checkpoint"):
        load(str(tmp_path / "junk.ckpt"))
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2)}, str(tmp_path / "weights.bin"))         # a torch file whatever its name
    with pytest.raises(CheckpointError, match="weights.bin: a PyTorch weight file, not a MindSpore checkpoint of "
                                              "this folder; convert it with python tools/convert_official.py"):
        load(str(tmp_path / "weights.bin"))
    ms.save_checkpoint({"w": ms.Parameter(ms.Tensor([1.0]))}, str(tmp_path / "other.ckpt"),
                       append_dict={CONFIG_KEY: json.dumps({"model": "FasterRCNN"})})
    with pytest.raises(ConfigError, match="other.ckpt: a configuration of FasterRCNN, not of RetinaFace"):
        load(str(tmp_path / "other.ckpt"))


def test_load_model_rejects_another_network(tmp_path):
    import mindspore as ms
    from src.inference import load_model
    ms.save_checkpoint({"conv.weight": ms.Parameter(ms.Tensor(np.zeros((2, 2), np.float32)))},
                       str(tmp_path / "x.ckpt"))
    with pytest.raises(CheckpointError, match=r"x.ckpt: not a RetinaFace-resnet50 checkpoint: \d+ network "
                                              r"parameters missing \(e.g. body.conv1.weight"):
        load_model(str(tmp_path / "x.ckpt"))


@pytest.mark.parametrize("start, last, spe, passes", [
    (0, 9, 3, [(0, 9, True)]),                              # whole epochs
    (4, 7, 3, [(4, 2, False), (6, 1, False)]),              # rest of epoch 2, then 1 step of epoch 3
    (4, 5, 3, [(4, 1, False)]),                             # within one epoch
    (0, 8, 3, [(0, 6, True), (6, 2, False)]),               # a step limit inside the last epoch
    (3, 12, 3, [(3, 9, True)]),
    (7, 7, 3, [])])
def test_training_passes(start, last, spe, passes):
    assert training_passes(start, last, spe) == passes
