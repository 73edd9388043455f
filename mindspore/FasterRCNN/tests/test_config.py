"""Configuration: YAML -> flags -> namespace, derived sizes, validation, resume and inference merges, LR."""
import os

import numpy as np
import pytest

from helpers import FACE_YAML, FACEMASK_YAML, MODEL_DIR, config
from src.errors import ConfigError
from src.lr_schedule import dynamic_lr, multistep_lr
from src.model_utils.config import (SHIPPED_CONFIGS, Config, apply_resume, get_config, inference_settings,
                                    resnet_feature_shapes)


@pytest.mark.parametrize("name", SHIPPED_CONFIGS)
def test_shipped_configs_load(name):
    cfg = get_config([f"--config_path={os.path.join(MODEL_DIR, name)}"])
    assert cfg.num_classes == len(cfg.coco_classes)
    assert cfg.roi_layer.out_size == 7 and cfg.roi_layer.sample_num == 2


def test_derived_sizes_768x1280():
    cfg = config(FACEMASK_YAML)
    assert cfg.feature_shapes == [[192, 320], [96, 160], [48, 80], [24, 40], [12, 20]]
    assert cfg.num_bboxes == 3 * (192 * 320 + 96 * 160 + 48 * 80 + 24 * 40 + 12 * 20) == 245520
    irv2 = config(os.path.join(MODEL_DIR, "default_config_InceptionResnetV2.yaml"))
    assert irv2.feature_shapes == [[254, 254], [125, 125], [62, 62], [30, 30], [15, 15]]
    assert irv2.num_bboxes == 255330


def test_feature_shapes_follow_the_network_arithmetic():
    # multiples of 64: the reference's h // 4 ... h // 64; otherwise ceil halving (what the convs produce)
    assert resnet_feature_shapes(768, 1280)[4] == [12, 20]
    assert resnet_feature_shapes(800, 1216) == [[200, 304], [100, 152], [50, 76], [25, 38], [13, 19]]


def test_cli_overrides_and_explicit_keys():
    cfg = config(FACE_YAML, "--img_height=256", "--keep_ratio=False", "--base_lr=0.01")
    assert (cfg.img_height, cfg.keep_ratio, cfg.base_lr) == (256, False, 0.01)
    assert cfg._explicit == {"img_height", "keep_ratio", "base_lr"}
    assert cfg.dataset == "widerface" and cfg.coco_classes == ["background", "face"]
    cfg = config(FACE_YAML, "--data_path=/data/wider")
    assert cfg.wider_root == "/data/wider"


@pytest.mark.parametrize("flags, message", [
    (["--img_height=64", "--img_width=64"], "proposals before the final top-k"),
    (["--num_classes=3"], "coco_classes lists 2"),
    (["--roi_sample_num=100"], "--roi_sample_num=100 must equal"),
    (["--num_bboxes_stage2=1000"], "must equal --rpn_proposal_max_num"),
    (["--pos_iou_thr=1.5"], "--pos_iou_thr must be <= 1.0"),
    (["--resume=/no/such.ckpt"], "no such checkpoint"),
])
def test_validation_names_the_flag(flags, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("+", r"\+")):
        config(FACE_YAML, *flags)


@pytest.mark.parametrize("flag, message", [("--keep_ratio=maybe", "expected True or False"),
                                           ("--backbone=resnet18", "invalid choice: 'resnet18'"),
                                           ("--img_height=big", "expected an integer")])
def test_bad_flag_values_are_argparse_errors(capsys, flag, message):
    with pytest.raises(SystemExit) as e:
        config(FACE_YAML, flag)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_dict_roundtrip():
    cfg = config(FACEMASK_YAML, "--img_height=384", "--img_width=640")
    back = Config.from_dict(cfg.to_dict())
    assert back.to_dict() == cfg.to_dict()
    assert back.num_bboxes == cfg.num_bboxes


def test_resume_restores_settings_and_refuses_explicit_changes():
    saved = config(FACE_YAML, "--img_height=256", "--batch_size=4", "--epoch_size=3").to_dict()
    cfg = config(FACE_YAML, "--steps=9", "--save_checkpoint_path=/tmp/x")
    apply_resume(cfg, saved, "run.ckpt")
    assert (cfg.img_height, cfg.batch_size, cfg.epoch_size, cfg.steps) == (256, 4, 3, 9)
    cfg = config(FACE_YAML, "--batch_size=8")
    with pytest.raises(ConfigError, match=r"--batch_size=8 differs from the resumed run's batch_size=4"):
        apply_resume(cfg, saved, "run.ckpt")
    cfg = config(FACE_YAML, "--batch_size=8")
    lines = []
    assert apply_resume(cfg, saved, "run.ckpt", allow_changes=True, log=lines.append) == ["batch_size"]
    assert cfg.batch_size == 8 and cfg.img_height == 256 and "batch_size changed from 4 to 8" in lines[0]


def test_inference_settings_take_the_checkpoint_network():
    stored = config(FACEMASK_YAML, "--img_height=384", "--img_width=640")
    cli = config(FACE_YAML, "--test_score_thr=0.3", "--output_path=/tmp/o")
    cfg = inference_settings(stored, cli, "x.ckpt")
    assert cfg.num_classes == 4 and cfg.img_height == 384          # the network and canvas of the checkpoint
    assert cfg.test_score_thr == 0.3 and cfg.output_path == "/tmp/o"
    assert cfg.device_target == "CPU" and cfg.dataset == "coco"    # not given: the checkpoint's run
    with pytest.raises(ConfigError, match="--num_classes=2 differs from the setting the network was trained with"):
        inference_settings(stored, config(FACE_YAML, "--num_classes=2"), "x.ckpt")


def test_dynamic_lr_values():
    cfg = config(FACE_YAML, "--epoch_size=2")
    spe, base = 400, 0.005 / 8
    lr = dynamic_lr(cfg, spe, base)
    assert len(lr) == spe * (2 + 1)
    assert lr[0] == pytest.approx(base * 0.0625)
    assert lr[250] == pytest.approx(base * 0.0625 + (base - base * 0.0625) * 250 / 500)
    total = spe * 3
    for i in (500, 700, 1199):
        assert lr[i] == pytest.approx(base * (1 + np.cos(np.pi * (i - 500) / total)) / 2)
    assert lr[500] == pytest.approx(base)


def test_multistep_lr_uses_sgd_step():
    cfg = config(FACE_YAML, "--epoch_size=12", "--lr_type=multistep")
    lr = multistep_lr(cfg, 10, 0.02)
    assert lr[79] == pytest.approx(0.02) and lr[80] == pytest.approx(0.002) and lr[110] == pytest.approx(0.0002)
