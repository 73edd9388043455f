"""src/config.py: presets, validation, the checkpoint round trip and the resume rule."""
import pytest

from src.config import Config, resolve
from src.errors import ConfigError


def test_presets_and_round_trip():
    cj, off = Config.preset("chenjun2hao"), Config.preset("official")
    assert (cj.head_conv, cj.deconv, cj.activation, cj.input_format, cj.test_resize, cj.nms, cj.eval_threshold) == (
        64, "depthwise", "relu6", "bgr_norm", "letterbox", None, 0.0)
    assert (off.head_conv, off.deconv, off.activation, off.input_format, off.test_resize, off.nms,
            off.eval_threshold) == (24, "full", "relu", "rgb_raw", "ceil32", 0.3, 0.05)
    assert Config.preset("official", "ascend8p").to_dict() == dict(off.to_dict(), recipe="ascend8p", batch_size=16,
                                                                   lr=2.5e-3, lr_step=[85, 120], num_epochs=160)
    assert Config.from_dict(off.to_dict()) == off
    # a converted released model stores the model keys only: the rest are the variant's defaults
    assert Config.from_dict({"variant": "official", "input_size": 640}) == off.replace(input_size=640)


@pytest.mark.parametrize("change,message", [
    ({"variant": "x"}, "unknown variant 'x'"),
    ({"input_size": 100}, "input_size must be a multiple of 32 (got 100)"),
    ({"batch_size": 0}, "batch_size must be > 0"),
    ({"batch_size": 2.5}, "batch_size must be int (got 2.5)"),
    ({"lr_step": "80,30"}, "lr_step must be increasing positive epochs"),
    ({"nms": 1.5}, "nms must be an IoU in (0, 1]"),
    ({"deconv": "bilinear"}, "deconv must be one of depthwise, full"),
    ({"no_such": 1}, "unknown setting(s) no_such"),
])
def test_validation(change, message):
    with pytest.raises(ConfigError) as e:
        Config.from_dict(dict({"variant": "chenjun2hao"}, **change))
    assert message in str(e.value)


def test_resolve_fresh_and_resumed():
    cfg, changes = resolve({"recipe": "ascend8p", "lr": 0.01, "lr_step": "5,9"})
    assert (cfg.batch_size, cfg.lr, cfg.lr_step, cfg.num_epochs, changes) == (16, 0.01, [5, 9], 160, [])
    # resumed: the stored settings; limits may be given anew, other settings only with allow_changes
    saved = cfg.replace(max_steps=10)
    same, changes = resolve({"lr_step": "5,9", "max_steps": 20, "num_epochs": 3}, saved)
    assert same == saved.replace(max_steps=20, num_epochs=3)
    assert changes == [("max_steps", 10, 20), ("num_epochs", 160, 3)]
    with pytest.raises(ConfigError, match=r"--lr_step 6,9 differs from the checkpoint's lr_step 5,9: a resumed run"):
        resolve({"lr_step": "6,9"}, saved)
    with pytest.raises(ConfigError, match=r"--no_augment \(augment False\) differs from x's augment True"):
        resolve({"augment": False}, saved, source="x")
    cfg, changes = resolve({"lr_step": "6,9", "amp": True}, saved, allow_changes=True)
    assert (cfg.lr_step, cfg.amp, changes) == ([6, 9], True, [("lr_step", [5, 9], [6, 9]), ("amp", False, True)])


def test_resume_with_the_runs_own_recipe_keeps_its_schedule():
    """The test scripts pass --recipe on every call: `train_full_1p.sh --batch_size=4 --epochs=10`, then
    `train_full_1p.sh --resume=auto --steps=N` (the README's command) resumes with batch 4 to epoch 10; the recipe
    the run already has does not bring its batch 8 / 140 epochs back."""
    saved = resolve({"recipe": "reference", "batch_size": 4, "num_epochs": 10})[0]
    cfg, changes = resolve({"recipe": "reference", "max_steps": 20000}, saved)
    assert (cfg.batch_size, cfg.num_epochs, cfg.max_steps, changes) == (4, 10, 20000, [("max_steps", 0, 20000)])
    # another recipe still brings its schedule (refused here, as any change of a resumed run's settings)
    with pytest.raises(ConfigError, match=r"--batch_size 16 differs from the checkpoint's batch_size 4"):
        resolve({"recipe": "ascend8p"}, saved)
