"""The smoke harness: the figures ``smoke.py --summarize`` computes from hand-written run files (and its one-line
errors), and ``smoke.py`` on fake model folders (statuses, recorded figures, failure isolation, summary files)."""
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import smoke  # noqa: E402

RESULT = {"steps": 3, "loss_first": 9.5, "loss_last": 7.25, "sec_per_step": 0.5, "params": 1234567,
          "anchors": 21824, "anchors_input_hw": [1024, 1024], "ap": {"easy": 0.5, "medium": 0.25, "hard": 0.125}}
SMOKE_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "smoke.py")


def _run_files(d, steps, info=None, aps=None):
    """train_log.jsonl with ``steps`` = [(step, loss, sec), ...], model_info.json, eval_result.json in ``d``."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "train_log.jsonl"), "w") as f:
        for step, loss, sec in steps:
            f.write(json.dumps({"step": step, "loss": loss, "sec": sec, "lr": 0.001, "loss_cls": loss / 2}) + "\n")
    info = info if info is not None else {"model": "FaceBoxes", "framework": "tensorflow", "params": 1013376,
                                          "anchors": 3069, "anchors_input_hw": [384, 640], "config": {"a": 1}}
    with open(os.path.join(d, "model_info.json"), "w") as f:
        json.dump(info, f)
    aps = aps if aps is not None else {"easy": 0.75, "medium": 0.5, "hard": 0.25}
    with open(os.path.join(d, "eval_result.json"), "w") as f:
        json.dump({"aps": aps, "curves": {}, "num_images": 32}, f)


def test_summarize_figures(tmp_path):
    """steps = the log's lines; losses of the first and last line; sec_per_step = median of the steps after the
    first two (the warm-up); params / anchors / their input size from model_info.json; APs from eval_result.json."""
    d = str(tmp_path)
    _run_files(d, [(1, 12.0, 9.0), (2, 11.0, 3.0), (3, 10.5, 0.30), (4, 10.0, 0.50), (5, 9.25, 0.40)])
    res = smoke.summarize(d)
    assert res == {"steps": 5, "loss_first": 12.0, "loss_last": 9.25, "sec_per_step": 0.40, "params": 1013376,
                   "anchors": 3069, "anchors_input_hw": [384, 640],
                   "ap": {"easy": 0.75, "medium": 0.5, "hard": 0.25}}
    assert json.load(open(os.path.join(d, "smoke_result.json"))) == res
    assert not [n for n in os.listdir(d) if n.endswith(".tmp")], "a temp file was left behind"


def test_summarize_few_steps_and_anchor_free(tmp_path):
    """With no step after the warm-up, sec_per_step is the last step's; an anchor-free model has no anchors."""
    d = str(tmp_path)
    _run_files(d, [(7, 3.0, 5.0), (8, 2.0, 0.75)],
               info={"model": "CenterFace", "framework": "pytorch", "params": 1880000, "anchors": None,
                     "anchors_input_hw": None, "config": {}})
    res = smoke.summarize(d)
    assert (res["steps"], res["sec_per_step"], res["anchors"], res["anchors_input_hw"]) == (2, 0.75, None, None)
    assert smoke.sec_per_step([4.0]) == 4.0 and smoke.sec_per_step([]) is None
    assert smoke.sec_per_step([9.0, 8.0, 1.0, 3.0]) == 2.0


@pytest.mark.parametrize("case, message", [
    ("no_log", "train_log.jsonl: no such file"),
    ("empty_log", "train_log.jsonl: no training step logged"),
    ("log_no_loss", "train_log.jsonl:2: no 'loss' (every line needs step, loss, sec, lr)"),
    ("log_not_json", "train_log.jsonl:2: not a JSON object"),
    ("log_nan", "train_log.jsonl:2: the loss of step 2 is nan"),
    ("log_steps_back", "train_log.jsonl:2: step 1 after step 1 (global steps must increase)"),
    ("log_step_zero", "train_log.jsonl:1: step 0 is not a whole number >= 1"),
    ("info_no_key", "model_info.json: no 'anchors_input_hw' (model_info.json needs model, framework, params, "
                    "anchors, anchors_input_hw, config)"),
    ("info_bad_params", "model_info.json: 'params' is 1.5, not a positive whole number"),
    ("info_bad_hw", "model_info.json: 'anchors_input_hw' is [384], not [height, width]"),
    ("eval_no_medium", "eval_result.json: 'aps' has no 'medium'"),
    ("eval_no_aps", "eval_result.json: no 'aps' object"),
    ("eval_not_json", "eval_result.json: not JSON"),
])
def test_summarize_errors_name_file_line_and_key(tmp_path, case, message):
    """A missing or malformed run file: one line ``smoke.py: error: <file>[:line]: <what>``, exit 2, and no
    smoke_result.json."""
    d = str(tmp_path)
    info = {"model": "M", "framework": "pytorch", "params": 10, "anchors": 5, "anchors_input_hw": [8, 8],
            "config": {}}
    steps = [(1, 2.0, 1.0), (2, 1.0, 1.0)]
    aps = None
    if case == "info_no_key":
        del info["anchors_input_hw"]
    elif case == "info_bad_params":
        info["params"] = 1.5
    elif case == "info_bad_hw":
        info["anchors_input_hw"] = [384]
    elif case == "eval_no_medium":
        aps = {"easy": 0.1, "hard": 0.1}
    elif case == "log_nan":
        steps = [(1, 2.0, 1.0), (2, float("nan"), 1.0)]
    elif case == "log_steps_back":
        steps = [(1, 2.0, 1.0), (1, 1.0, 1.0)]
    elif case == "log_step_zero":
        steps = [(0, 2.0, 1.0)]
    _run_files(d, steps, info=info, aps=aps)
    log = os.path.join(d, "train_log.jsonl")
    if case == "no_log":
        os.remove(log)
    elif case == "empty_log":
        open(log, "w").close()
    elif case == "log_no_loss":
        with open(log, "w") as f:
            f.write('{"step": 1, "loss": 1.0, "sec": 1.0, "lr": 0.1}\n{"step": 2, "sec": 1.0, "lr": 0.1}\n')
    elif case == "log_not_json":
        with open(log, "a") as f:
            f.write('{"step": 3, "lo\n')
        with open(log) as f:
            lines = f.read().splitlines()
        with open(log, "w") as f:
            f.write("\n".join([lines[0], lines[2], lines[1]]) + "\n")
    elif case == "eval_no_aps":
        with open(os.path.join(d, "eval_result.json"), "w") as f:
            json.dump({"easy": 0.1}, f)
    elif case == "eval_not_json":
        with open(os.path.join(d, "eval_result.json"), "w") as f:
            f.write("{")
    with pytest.raises(smoke.RunFileError) as e:
        smoke.summarize(d)
    assert message in str(e.value) and os.path.join(d, "") in str(e.value)
    r = subprocess.run([sys.executable, SMOKE_PY, "--summarize", d], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("smoke.py: error: ") and message in r.stderr
    assert not os.path.exists(os.path.join(d, "smoke_result.json"))


def test_anchors_cell_names_the_input_size():
    assert smoke.anchors_cell(21824, [1024, 1024]) == "21,824 @ 1024²"
    assert smoke.anchors_cell(3069, [384, 640]) == "3,069 @ 640×384"       # width × height
    assert smoke.anchors_cell(None, None) == "-" and smoke.anchors_cell(None, [256, 256]) == "-"


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
    assert "| Good | ok | 3 | 9.500 → 7.250 | 0.50 | 1.23 M | 21,824 @ 1024² | 0.500 / 0.250 / 0.125 |" in md
    assert md.splitlines()[0] == smoke.TABLE_HEAD and "anchors @ training input (W×H)" in md.splitlines()[0]


def test_missing_field_fails(tmp_path):
    root, data, out = str(tmp_path / "repo"), str(tmp_path / "data"), str(tmp_path / "out")
    os.makedirs(data)
    os.makedirs(out)
    partial = {k: v for k, v in RESULT.items() if k != "ap"}
    rec = smoke.run_model(_model(root, "Partial", _ok_script(partial)), "cpu", data, out, 60, dict(os.environ),
                          root=root)
    assert rec["status"] == "failed" and rec["error"] == "smoke_result.json lacks ap"
    partial = {k: v for k, v in RESULT.items() if k not in ("anchors_input_hw", "params")}
    rec = smoke.run_model(_model(root, "Partial2", _ok_script(partial)), "cpu", data, out, 60, dict(os.environ),
                          root=root)
    assert rec["status"] == "failed" and rec["error"] == "smoke_result.json lacks params, anchors_input_hw"


def test_timeout_kills_the_whole_process_group(tmp_path):
    """A script past --timeout fails as "timed out", and its children (a launcher's workers) are killed with it."""
    root, data, out = str(tmp_path / "repo"), str(tmp_path / "data"), str(tmp_path / "out")
    os.makedirs(data)
    os.makedirs(out)
    pidfile = tmp_path / "child.pid"
    m = _model(root, "Hang", f"sleep 60 &\necho $! > {pidfile}\nwait\n")
    rec = smoke.run_model(m, "cpu", data, out, 2, dict(os.environ), root=root)
    assert rec["status"] == "failed" and rec["error"] == "timed out after 2 s"
    stat = f"/proc/{int(pidfile.read_text())}/stat"

    def running():      # a zombie (killed, not yet reaped by init) is dead
        try:
            with open(stat) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False
    for _ in range(50):         # SIGKILL is delivered asynchronously
        if not running():
            break
        time.sleep(0.1)
    assert not running(), "the script's child outlived the timeout"


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
    from registry import MODELS, select
    names = [m["name"] for m in MODELS]
    assert names == ["FaceBoxes", "S3FD", "CenterFace", "RetinaFace", "FasterRCNN"]
    for m in MODELS:
        assert m["folder"].split("/")[0] == m["framework"] and m["folder"].split("/")[1] == m["name"]
        assert set(m["devices"]) <= {"cpu", "gpu", "npu"}
        assert isinstance(m["anchors"], bool) and m["landmarks"] in (0, 5) and isinstance(m["labels"], bool)
        c = m["contract"]
        assert c["checkpoint"]["commands"] and all(isinstance(cmd, list) for cmd in c["checkpoint"]["commands"])
        assert "{tmp}" in c["checkpoint"]["path"]
        assert c["demo"]["expect"] in ("pseudo_gt", "reference_dets") and 0 < c["demo"]["score_threshold"] < 1
        assert any(a.startswith("--steps=") for a in c["smoke_args"])
    assert [m["name"] for m in select("RetinaFace, FaceBoxes")] == ["FaceBoxes", "RetinaFace"]
    with pytest.raises(KeyError, match="unknown model.s. Nope; known: FaceBoxes, S3FD"):
        select("FaceBoxes,Nope")
