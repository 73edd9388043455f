"""The smoke harness on fake model folders: statuses, recorded figures, failure isolation, summary files."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import smoke  # noqa: E402

RESULT = {"steps": 3, "loss_first": 9.5, "loss_last": 7.25, "sec_per_step": 0.5, "params": 1234567,
          "anchors": 21824, "ap": {"easy": 0.5, "medium": 0.25, "hard": 0.125}}


def _model(root, name, script):
    folder = os.path.join(root, name)
    os.makedirs(os.path.join(folder, "test"))
    with open(os.path.join(folder, "test", "train_smoke.sh"), "w") as f:
        f.write(script)
    return {"name": name, "folder": name, "framework": "x", "devices": ["cpu"]}


def _ok_script(result):
    return ('for a in "$@"; do case "$a" in --output_path=*) out="${a#*=}";; --data_path=*) d="${a#*=}";; esac; done\n'
            '[ -d "$d" ] || exit 3\n'
            f"echo '{json.dumps(result)}' > \"$out/smoke_result.json\"\necho training done\n")


def test_statuses_and_figures(tmp_path):
    root, data, out = str(tmp_path / "repo"), str(tmp_path / "data"), str(tmp_path / "out")
    os.makedirs(data)
    os.makedirs(out)
    models = [_model(root, "Good", _ok_script(RESULT)),
              _model(root, "Crash", "echo boom >&2\nexit 7\n"),
              _model(root, "NoJson", "exit 0\n"),
              {"name": "Absent", "folder": "Absent", "framework": "x", "devices": ["cpu"]},
              dict(_model(root, "CpuLess", _ok_script(RESULT)), devices=["npu"])]
    recs = {m["name"]: smoke.run_model(m, "cpu", data, out, 60, dict(os.environ), root=root) for m in models}
    assert recs["Good"]["status"] == "ok"
    assert {k: recs["Good"][k] for k in RESULT} == RESULT
    assert "training done" in open(os.path.join(root, recs["Good"]["log"])).read()
    assert recs["Crash"]["status"] == "failed" and recs["Crash"]["error"] == "exit code 7"
    assert "boom" in open(os.path.join(root, recs["Crash"]["log"])).read()
    assert recs["NoJson"]["status"] == "failed" and "smoke_result.json" in recs["NoJson"]["error"]
    assert recs["Absent"]["status"] == "not implemented"
    assert recs["CpuLess"]["status"] == "skipped: device"
    md = smoke.table({"models": recs})
    assert "| Good | ok | 3 | 9.500 → 7.250 | 0.50 | 1.23 M | 21,824 | 0.500 / 0.250 / 0.125 |" in md


def test_missing_field_fails(tmp_path):
    root, data, out = str(tmp_path / "repo"), str(tmp_path / "data"), str(tmp_path / "out")
    os.makedirs(data)
    os.makedirs(out)
    partial = {k: v for k, v in RESULT.items() if k != "ap"}
    rec = smoke.run_model(_model(root, "Partial", _ok_script(partial)), "cpu", data, out, 60, dict(os.environ),
                          root=root)
    assert rec["status"] == "failed" and rec["error"] == "smoke_result.json lacks ap"


def test_main_writes_summary_and_exit_code(tmp_path, monkeypatch):
    root, data, out = str(tmp_path / "repo"), str(tmp_path / "data"), str(tmp_path / "out")
    os.makedirs(data)
    models = [_model(root, "Good", _ok_script(RESULT)), _model(root, "Crash", "exit 1\n")]
    monkeypatch.setattr(smoke, "MODELS", models)
    monkeypatch.setattr(smoke, "ROOT", root)
    monkeypatch.setattr(sys, "argv", ["smoke.py", "--data_path", data, "--output", out])
    assert smoke.main() == 1                      # an implemented model failed
    s = json.load(open(os.path.join(out, "smoke_summary.json")))
    assert s["device"] == "cpu" and s["models"]["Good"]["status"] == "ok"
    assert s["models"]["Crash"]["status"] == "failed"
    assert "| Crash | failed |" in open(os.path.join(out, "smoke_summary.md")).read()
    monkeypatch.setattr(sys, "argv", ["smoke.py", "--data_path", data, "--output", out, "--models", "Good"])
    assert smoke.main() == 0
    monkeypatch.setattr(sys, "argv", ["smoke.py", "--data_path", data, "--output", out, "--models", "Nope"])
    assert smoke.main() == 2


def test_real_registry_is_consistent():
    from registry import MODELS
    names = [m["name"] for m in MODELS]
    assert names == ["FaceBoxes", "S3FD", "CenterFace", "RetinaFace", "FasterRCNN"]
    for m in MODELS:
        assert m["folder"].split("/")[0] in ("tensorflow", "pytorch", "mindspore")
        assert set(m["devices"]) <= {"cpu", "gpu", "npu"}
