"""The framework-specific copies of the model template that are not exercised by every model's own suite through a
run: ``ci/model_template_mindspore/src/mindspore_ckpt.py`` (checkpoint loading despite MindSpore 2.10's memory
check)."""
import os
import sys

import numpy as np
import pytest

CI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def mindspore_ckpt(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(CI, "model_template_mindspore", "src"))
    monkeypatch.delitem(sys.modules, "mindspore_ckpt", raising=False)
    import mindspore_ckpt
    return mindspore_ckpt


def test_checkpoint_load_counts_the_page_cache_as_memory(mindspore_ckpt, tmp_path, monkeypatch):
    """MindSpore 2.10 refuses a .ckpt larger than the free memory, page cache left out: with the free memory it sees
    set to 16 bytes (what a full page cache makes of a 0.5 GB checkpoint), its own load fails; ``load_ckpt`` loads
    through MemAvailable and leaves MindSpore's check as it was."""
    import mindspore as ms
    from mindspore.train import serialization

    path = str(tmp_path / "w.ckpt")
    ms.save_checkpoint([{"name": "w", "data": ms.Tensor(np.arange(64, dtype=np.float32))}], path)
    monkeypatch.setattr(serialization, "_get_available_memory", lambda: 16)
    with pytest.raises(ValueError, match="memory"):
        ms.load_checkpoint(path)
    with open("/proc/meminfo") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
    assert mindspore_ckpt.mem_available() == pytest.approx(kb * 1024, rel=0.2)
    loaded = mindspore_ckpt.load_ckpt(path)
    np.testing.assert_array_equal(loaded["w"].asnumpy(), np.arange(64, dtype=np.float32))
    assert serialization._get_available_memory() == 16
