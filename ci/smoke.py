#!/usr/bin/env python
"""The zoo's smoke run: a short training plus WIDER evaluation of every model, one subprocess each.

Each model of ``ci/registry.py`` is run through its own ``test/train_smoke.sh`` with its folder as the
working directory; the script writes ``smoke_result.json`` into its ``--output_path``. One model failing does
not stop the others; the exit code is non-zero if an implemented model failed.

    python ci/smoke.py [--device cpu|gpu|npu] [--data_path DIR] [--models A,B] [--timeout 1800]
    python ci/smoke.py --summarize DIR      # what every test/train_smoke.sh calls last: DIR/smoke_result.json

The smoke figures have one definition, here (``summarize``), computed from the files the model's
``test/train_smoke.sh`` run writes into its ``--output_path`` (CONTRIBUTING.md §4, §9): ``train_log.jsonl``,
``model_info.json`` and ``eval_result.json``.  ``steps`` = the step lines of the log; ``loss_first`` / ``loss_last``
= their first and last loss; ``sec_per_step`` = the median ``sec`` of the steps after the first two (the last step's
when there are no more); ``params``, ``anchors`` and ``anchors_input_hw`` (the input size the anchors were counted
at: the run's training size, which the table shows as ``21,824 @ 1024²``) from model_info.json; easy / medium / hard
AP from eval_result.json.  A run file that is missing or lacks a key is one line naming the file (and line) and the
key, exit 2.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import harness  # noqa: E402
import registry  # noqa: E402
from registry import MODELS, SMOKE_SCRIPT  # noqa: E402

FIELDS = ("steps", "loss_first", "loss_last", "sec_per_step", "params", "anchors", "anchors_input_hw", "ap")
WARMUP_STEPS = 2      # steps left out of sec_per_step: graph building / compilation, allocator and cache warm-up
SETTINGS = ("easy", "medium", "hard")
# the keys of the run files (CONTRIBUTING.md §4)
STEP_KEYS = ("step", "loss", "sec", "lr")
MODEL_INFO_KEYS = ("model", "framework", "params", "anchors", "anchors_input_hw", "config")


class RunFileError(ValueError):
    """A run file that is missing or does not have the contract's keys; the message names the file (and line)."""


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positive_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _object_with(obj, keys, where, needs):
    """``obj`` when it is a JSON object holding every key of ``keys``; else a ``RunFileError`` at ``where``."""
    if not isinstance(obj, dict):
        raise RunFileError(f"{where}: not a JSON object")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise RunFileError(f"{where}: no {', '.join(repr(k) for k in missing)} ({needs} {', '.join(keys)})")
    return obj


def _load(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file (CONTRIBUTING.md §4: train.py writes train_log.jsonl and "
                           f"model_info.json into its output folder, eval.py eval_result.json into its "
                           f"--output_path)") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.endswith(".jsonl"):
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RunFileError(f"{path}: not JSON ({exc})") from None


def read_train_log(path):
    """The step records of ``train_log.jsonl``: every line a JSON object with a global, increasing ``step``
    (1-based) and numeric ``loss`` (finite), ``sec`` (>= 0) and ``lr``."""
    recs, prev = [], 0
    for n, line in enumerate(_load(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise RunFileError(f"{path}:{n}: not a JSON object ({exc})") from None
        _object_with(rec, STEP_KEYS, f"{path}:{n}", "every line needs")
        for k in STEP_KEYS:
            if not _number(rec[k]):
                raise RunFileError(f"{path}:{n}: {k!r} is {rec[k]!r}, not a number")
        if rec["step"] != int(rec["step"]) or rec["step"] < 1:
            raise RunFileError(f"{path}:{n}: step {rec['step']!r} is not a whole number >= 1 (steps are global "
                               f"and 1-based)")
        if rec["step"] <= prev:
            raise RunFileError(f"{path}:{n}: step {rec['step']} after step {prev} (global steps must increase)")
        if not math.isfinite(rec["loss"]):
            raise RunFileError(f"{path}:{n}: the loss of step {rec['step']} is {rec['loss']}")
        if not (math.isfinite(rec["sec"]) and rec["sec"] >= 0):
            raise RunFileError(f"{path}:{n}: 'sec' is {rec['sec']} (wall seconds of the step, >= 0)")
        prev = rec["step"]
        recs.append(rec)
    if not recs:
        raise RunFileError(f"{path}: no training step logged")
    return recs


def read_model_info(path):
    """``model_info.json``: ``model``, ``framework``, ``params`` (> 0), ``anchors`` (a count, or null for
    anchor-free models), ``anchors_input_hw`` ([h, w] the anchors were counted at; may be null when anchors is),
    ``config`` (an object)."""
    info = _object_with(_load(path), MODEL_INFO_KEYS, path, "model_info.json needs")
    for k in ("model", "framework"):
        if not isinstance(info[k], str) or not info[k]:
            raise RunFileError(f"{path}: {k!r} is {info[k]!r}, not a name")
    if not _positive_int(info["params"]):
        raise RunFileError(f"{path}: 'params' is {info['params']!r}, not a positive whole number")
    anchors, hw = info["anchors"], info["anchors_input_hw"]
    if anchors is not None and not _positive_int(anchors):
        raise RunFileError(f"{path}: 'anchors' is {anchors!r}, not a positive whole number (or null for an "
                           f"anchor-free model)")
    hw_ok = isinstance(hw, list) and len(hw) == 2 and all(_positive_int(v) for v in hw)
    if not hw_ok and not (hw is None and anchors is None):
        raise RunFileError(f"{path}: 'anchors_input_hw' is {hw!r}, not [height, width] of the input the anchors "
                           f"were counted at")
    if not isinstance(info["config"], dict):
        raise RunFileError(f"{path}: 'config' is not a JSON object")
    return info


def read_eval_result(path):
    """``eval_result.json`` (``widerface_eval.write_json``): ``aps`` with easy / medium / hard in [0, 1]."""
    ev = _load(path)
    aps = ev.get("aps") if isinstance(ev, dict) else None
    if not isinstance(aps, dict):
        raise RunFileError(f"{path}: no 'aps' object (write it with widerface_eval.write_json)")
    for s in SETTINGS:
        if s not in aps:
            raise RunFileError(f"{path}: 'aps' has no {s!r}")
        if not (_number(aps[s]) and 0.0 <= aps[s] <= 1.0):
            raise RunFileError(f"{path}: the {s} AP is {aps[s]!r}, not a number in [0, 1]")
    return ev


def sec_per_step(secs):
    """The median wall time of the steps after the first ``WARMUP_STEPS``; with no step after them, the last
    step's time (the closest to steady state there is)."""
    if not secs:
        return None
    rest = secs[WARMUP_STEPS:] or secs[-1:]
    return float(statistics.median(rest))


def summarize(out_dir):
    """``smoke_result.json`` from ``train_log.jsonl``, ``model_info.json`` and ``eval_result.json`` in ``out_dir``:
    steps = step lines of this run's log, losses of its first and last line, ``sec_per_step`` as above, params and
    anchors (with the input size they were counted at) from model_info.json, easy / medium / hard AP from the
    evaluation. Raises ``RunFileError`` naming the file (and line) that is missing or lacks a key."""
    log = read_train_log(os.path.join(out_dir, "train_log.jsonl"))
    info = read_model_info(os.path.join(out_dir, "model_info.json"))
    ev = read_eval_result(os.path.join(out_dir, "eval_result.json"))
    res = {"steps": len(log), "loss_first": float(log[0]["loss"]), "loss_last": float(log[-1]["loss"]),
           "sec_per_step": sec_per_step([float(r["sec"]) for r in log]), "params": info["params"],
           "anchors": info["anchors"], "anchors_input_hw": info["anchors_input_hw"],
           "ap": {k: float(ev["aps"][k]) for k in SETTINGS}}
    path = os.path.join(out_dir, "smoke_result.json")
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(res, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise RunFileError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return res


def device_available(device):
    """Whether the accelerator is present (checked without importing a framework in this process)."""
    if device == "cpu":
        return True
    if device == "gpu":
        try:
            return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
    if device == "npu":
        return os.path.exists("/usr/local/Ascend") or any(os.path.exists(f"/dev/davinci{i}") for i in range(8))
    return False


def run_model(model, device, data_path, out_root, timeout, env, root=ROOT):
    """Run one model's smoke script; returns its summary record."""
    folder = os.path.join(root, model["folder"])
    out_dir = os.path.join(out_root, model["name"])
    log = os.path.join(out_root, f"{model['name']}.log")
    rec = {"status": None, "framework": model["framework"], "wall_s": 0.0, "log": os.path.relpath(log, root)}
    rec.update({k: None for k in FIELDS})
    if not os.path.isdir(folder):
        rec.update(status="not implemented", log=None)
        return rec
    if device not in model["devices"]:
        rec.update(status="skipped: device", log=None)
        return rec
    if not os.path.isfile(os.path.join(folder, SMOKE_SCRIPT)):
        rec.update(status="failed", error=f"no {SMOKE_SCRIPT}", log=None)
        return rec
    os.makedirs(out_dir, exist_ok=True)
    result_file = os.path.join(out_dir, "smoke_result.json")
    if os.path.exists(result_file):
        os.remove(result_file)
    cmd = ["bash", SMOKE_SCRIPT, f"--data_path={data_path}", f"--device={device}", f"--output_path={out_dir}"]
    rc, rec["wall_s"] = harness.run_logged(cmd, folder, log, env, timeout, root=root)
    if rc != 0:
        rec.update(status="failed", error=f"timed out after {timeout} s" if rc is None else f"exit code {rc}")
        return rec
    try:
        with open(result_file) as f:
            res = json.load(f)
    except (OSError, ValueError) as exc:
        rec.update(status="failed", error=f"no readable smoke_result.json ({exc})")
        return rec
    missing = [k for k in FIELDS if k not in res]
    rec.update({k: res.get(k) for k in FIELDS})
    if missing:
        rec.update(status="failed", error=f"smoke_result.json lacks {', '.join(missing)}")
    else:
        rec["status"] = "ok"
    return rec


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def anchors_cell(anchors, input_hw):
    """``21,824 @ 1024²`` (or ``@ 640×384``, width × height): the count and the input size it was counted at;
    ``-`` for anchor-free models."""
    if anchors is None:
        return "-"
    if not input_hw:
        return f"{anchors:,}"
    h, w = input_hw
    return f"{anchors:,} @ {h}²" if h == w else f"{anchors:,} @ {w}×{h}"


TABLE_HEAD = ("| model | status | steps | loss first → last | s/step | params | anchors @ training input (W×H) "
              "| AP easy / medium / hard | wall s |")


def table(summary):
    lines = [TABLE_HEAD, "|" + "---|" * 9]
    for name, r in summary["models"].items():
        ap = r.get("ap") or {}
        aps = " / ".join(_fmt(ap.get(k), ".3f") for k in SETTINGS) if ap else "-"
        loss = f"{_fmt(r.get('loss_first'), '.3f')} → {_fmt(r.get('loss_last'), '.3f')}" \
            if r.get("loss_first") is not None else "-"
        params = f"{r['params'] / 1e6:.2f} M" if r.get("params") else "-"
        lines.append(f"| {name} | {r['status']} | {_fmt(r.get('steps'), 'd')} | {loss} | "
                     f"{_fmt(r.get('sec_per_step'), '.2f')} | {params} | "
                     f"{anchors_cell(r.get('anchors'), r.get('anchors_input_hw'))} | {aps} | "
                     f"{_fmt(r.get('wall_s'), '.0f')} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "gpu", "npu"), default="cpu")
    ap.add_argument("--data_path", "--data-path", default=os.path.join(ROOT, "ci", "data", "mini_widerface"))
    ap.add_argument("--models", help="comma-separated subset of model names")
    ap.add_argument("--output", default=os.path.join(ROOT, "ci", "output"))
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per model")
    ap.add_argument("--summarize", metavar="DIR", help="write DIR/smoke_result.json from the run files in DIR")
    args = ap.parse_args()
    if args.summarize:
        try:
            print(json.dumps(summarize(args.summarize)))
        except RunFileError as exc:
            print(f"smoke.py: error: {exc}", file=sys.stderr)
            return 2
        return 0

    if not device_available(args.device):
        print(f"[smoke] error: --device {args.device} requested but no such device is present", file=sys.stderr)
        return 2
    if not os.path.isdir(args.data_path):
        print(f"[smoke] error: data path {args.data_path} does not exist", file=sys.stderr)
        return 2
    try:
        models = registry.select(args.models, MODELS)
    except KeyError as exc:
        print(f"[smoke] error: {exc.args[0]}", file=sys.stderr)
        return 2

    out_root = os.path.join(args.output, "smoke")
    os.makedirs(out_root, exist_ok=True)
    env = harness.model_env(ROOT)

    summary = {"device": args.device, "data_path": os.path.abspath(args.data_path), "models": {}}
    for m in models:
        print(f"[smoke] {m['name']:<11} ({m['folder']}) ...", flush=True)
        rec = run_model(m, args.device, os.path.abspath(args.data_path), out_root, args.timeout, env, root=ROOT)
        summary["models"][m["name"]] = rec
        extra = f" ({rec['error']})" if rec.get("error") else ""
        print(f"[smoke] {m['name']:<11} {rec['status']}{extra} in {rec['wall_s']:.0f} s"
              + (f", log {rec['log']}" if rec.get("log") else ""), flush=True)

    return harness.write_summary(summary, args.output, "smoke", f"# Smoke run ({args.device})\n\n{table(summary)}\n",
                                 table(summary), "smoke", root=ROOT)


if __name__ == "__main__":
    sys.exit(main())
