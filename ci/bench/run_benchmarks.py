#!/usr/bin/env python
"""The zoo's benchmark driver (what ``bash ci/bench.sh`` runs): every model's ``tools/benchmark.py`` and, with
``--overfit``, its ``test/train_overfit.sh``, collected into one table with each figure next to its reference figure.

    python ci/bench/run_benchmarks.py [--models A,B] [--overfit] [--device cpu|gpu|npu] [--timeout 3600]
                                      [--lock FILE] [--overfit_data DIR] [--output ci/output]

Each model's benchmark runs in its own process with its folder as working directory:
``python tools/benchmark.py --json OUT/bench/<model>/benchmark.json``, whose JSON is CONTRIBUTING.md §7's
``{"model", "cpu", "figures": [{"name", "value", "unit", "reference", "reference_source"}]}``.  With ``--overfit``,
``bash test/train_overfit.sh --data_path=SET --output_path=OUT/bench/<model>/overfit --device=DEV`` runs on the overfit
set (``ci/make_mini_widerface.py --overfit 8``, generated once into OUT/bench/overfit_data unless ``--overfit_data``
names one); its figures come from the run files it writes (easy AP of ``eval_result.json`` against the contract's
target 0.8, the steps of ``train_log.jsonl``, the wall time).  ``--lock FILE`` runs each model's command under
``flock FILE`` (the shared machine's heavy-work lock), so that timings are taken with nothing else heavy running.

Writes ``OUT/bench_summary.json`` and ``OUT/bench_summary.md`` (one row per figure: value, unit, reference, ratio
value / reference, reference source) and each run's log to ``OUT/bench/<model>[_overfit].log``.  A model without a
folder is ``not implemented``, one without ``tools/benchmark.py`` (or ``test/train_overfit.sh``) ``not available``.
Exit status 1 when a model's benchmark or overfit run failed, 2 on bad arguments.
"""
import argparse
import json
import math
import os
import subprocess
import sys

CI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(CI)
sys.path.insert(0, CI)
import harness  # noqa: E402
import registry  # noqa: E402
import smoke  # noqa: E402
from registry import BENCHMARK_SCRIPT, MODELS, OVERFIT_SCRIPT  # noqa: E402

FIGURE_KEYS = ("name", "value", "unit", "reference", "reference_source")
OVERFIT_IMAGES = 8
OVERFIT_TARGET = 0.8        # easy AP on the overfit images (CONTRIBUTING.md §5)


class BenchmarkError(ValueError):
    """A benchmark JSON that does not follow CONTRIBUTING.md §7; the message names the file and the figure."""


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_benchmark(path):
    """The benchmark record of ``path``, checked against CONTRIBUTING.md §7 (``reference`` and
    ``reference_source`` may be null where the reference has no such figure)."""
    try:
        with open(path) as f:
            rec = json.load(f)
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: not written (tools/benchmark.py --json PATH writes it)") from None
    except (OSError, ValueError) as exc:
        raise BenchmarkError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("figures"), list):
        raise BenchmarkError(f"{path}: no 'figures' list")
    for k in ("model", "cpu"):
        if not isinstance(rec.get(k), str):
            raise BenchmarkError(f"{path}: no {k!r} string")
    for i, fig in enumerate(rec["figures"]):
        where = f"{path}: figures[{i}]"
        if not isinstance(fig, dict):
            raise BenchmarkError(f"{where} is not an object")
        missing = [k for k in FIGURE_KEYS if k not in fig]
        if missing:
            raise BenchmarkError(f"{where} has no {', '.join(repr(k) for k in missing)} "
                                 f"(each figure needs {', '.join(FIGURE_KEYS)})")
        if not (isinstance(fig["name"], str) and fig["name"] and isinstance(fig["unit"], str)):
            raise BenchmarkError(f"{where}: 'name' and 'unit' must be strings")
        if not _number(fig["value"]):
            raise BenchmarkError(f"{where} ({fig['name']}): value {fig['value']!r} is not a number")
        if fig["reference"] is not None and not _number(fig["reference"]):
            raise BenchmarkError(f"{where} ({fig['name']}): reference {fig['reference']!r} is not a number or null")
        if fig["reference"] is not None and not isinstance(fig["reference_source"], str):
            raise BenchmarkError(f"{where} ({fig['name']}): a reference figure needs its reference_source")
    return rec


def overfit_figures(out_dir, wall_s):
    """The overfit run's figures from the run files in ``out_dir``."""
    ev = smoke.read_eval_result(os.path.join(out_dir, "eval_result.json"))
    log = smoke.read_train_log(os.path.join(out_dir, "train_log.jsonl"))
    return [{"name": f"overfit easy AP ({OVERFIT_IMAGES} images)", "value": float(ev["aps"]["easy"]), "unit": "AP",
             "reference": OVERFIT_TARGET, "reference_source": "target, CONTRIBUTING.md §5"},
            {"name": "overfit training steps", "value": int(log[-1]["step"]), "unit": "steps", "reference": None,
             "reference_source": None},
            {"name": "overfit wall time (training + evaluation)", "value": wall_s, "unit": "s", "reference": None,
             "reference_source": None}]


def run_part(model, kind, cmd, out_root, timeout, env, lock, root):
    """One logged run (``kind`` ``benchmark`` or ``overfit``) of a model; its record."""
    folder = os.path.join(root, model["folder"])
    log = os.path.join(out_root, f"{model['name']}{'' if kind == 'benchmark' else '_' + kind}.log")
    rc, wall = harness.run_logged(cmd, folder, log, env, timeout, root=root, lock=lock)
    rec = {"status": "ok", "wall_s": wall, "log": os.path.relpath(log, root), "figures": []}
    if rc != 0:
        rec.update(status="failed", error=f"timed out after {timeout} s" if rc is None else f"exit code {rc}")
    return rec


def bench_model(model, args, out_root, env, root=ROOT):
    """The benchmark (and overfit) record of one model."""
    folder = os.path.join(root, model["folder"])
    if not os.path.isdir(folder):
        return {"status": "not implemented"}
    if args.device not in model["devices"]:
        return {"status": "skipped: device"}
    out_dir = os.path.join(out_root, model["name"])
    os.makedirs(out_dir, exist_ok=True)
    rec = {}
    if os.path.isfile(os.path.join(folder, BENCHMARK_SCRIPT)):
        js = os.path.join(out_dir, "benchmark.json")
        if os.path.exists(js):
            os.remove(js)
        part = run_part(model, "benchmark", [sys.executable, BENCHMARK_SCRIPT, "--json", js], out_root,
                        args.timeout, env, args.lock, root)
        if part["status"] == "ok":
            try:
                bench = read_benchmark(js)
                part.update(figures=bench["figures"], cpu=bench["cpu"])
            except BenchmarkError as exc:
                part.update(status="failed", error=str(exc))
        rec["benchmark"] = part
    else:
        rec["benchmark"] = {"status": "not available", "error": f"no {BENCHMARK_SCRIPT}"}
    if args.overfit:
        if os.path.isfile(os.path.join(folder, OVERFIT_SCRIPT)):
            run_dir = os.path.join(out_dir, "overfit")
            for name in ("eval_result.json", "train_log.jsonl"):
                if os.path.exists(os.path.join(run_dir, name)):
                    os.remove(os.path.join(run_dir, name))
            part = run_part(model, "overfit", ["bash", OVERFIT_SCRIPT, f"--data_path={args.overfit_data}",
                                               f"--output_path={run_dir}", f"--device={args.device}"],
                            out_root, args.timeout, env, args.lock, root)
            if part["status"] == "ok":
                try:
                    part["figures"] = overfit_figures(run_dir, part["wall_s"])
                except smoke.RunFileError as exc:
                    part.update(status="failed", error=str(exc))
            rec["overfit"] = part
        else:
            rec["overfit"] = {"status": "not available", "error": f"no {OVERFIT_SCRIPT}"}
    parts = [p["status"] for p in rec.values()]
    rec["status"] = ("failed" if "failed" in parts else "ok" if "ok" in parts else "not available")
    return rec


def fmt_number(v):
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) >= 100:
        return f"{v:,.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def ratio(value, reference):
    """``value / reference`` as ``1.23×``, ``-`` without a reference figure."""
    if reference is None or not _number(value) or reference == 0:
        return "-"
    return f"{value / reference:.2f}×"


TABLE_HEAD = "| model | figure | value | unit | reference | ratio (value / reference) | reference source |"


def table(summary):
    lines = [TABLE_HEAD, "|" + "---|" * 7]
    for name, rec in summary["models"].items():
        parts = [(k, rec[k]) for k in ("benchmark", "overfit") if k in rec]
        if not parts:
            lines.append(f"| {name} | {rec['status']} | - | - | - | - | - |")
            continue
        for kind, part in parts:
            if part["status"] != "ok":
                why = f" ({part['error']})" if part.get("error") else ""
                lines.append(f"| {name} | {kind}: {part['status']}{why} | - | - | - | - | - |")
                continue
            for fig in part["figures"]:
                lines.append(f"| {name} | {fig['name']} | {fmt_number(fig['value'])} | {fig['unit']} | "
                             f"{fmt_number(fig['reference'])} | {ratio(fig['value'], fig['reference'])} | "
                             f"{fig['reference_source'] or '-'} |")
    return "\n".join(lines)


def markdown(summary):
    other = sorted({p["cpu"] for r in summary["models"].values() for p in r.values()
                    if isinstance(p, dict) and p.get("cpu") and p["cpu"] != summary["cpu"]})
    note = f" (a benchmark reported another CPU: {', '.join(other)})" if other else ""
    return (f"# Benchmarks ({summary['device']}, {summary['cpu']}{note})\n\n"
            f"Each figure next to its reference figure, measured in the same run on the same machine unless the "
            f"source says otherwise; compare speeds only as these ratios.\n\n{table(summary)}\n")


def make_overfit_data(path):
    """The overfit set at ``path`` (``make_mini_widerface.py --overfit 8``), generated unless already there."""
    meta = os.path.join(path, "mini_widerface_meta.json")
    if os.path.isfile(meta):
        with open(meta) as f:
            if (json.load(f).get("overfit") or {}).get("images") == OVERFIT_IMAGES:
                return path
    subprocess.run([sys.executable, os.path.join(CI, "make_mini_widerface.py"), "--overfit", str(OVERFIT_IMAGES),
                    "--out", path, "--quiet"], check=True)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", help="comma-separated subset of model names (default: all)")
    p.add_argument("--overfit", action="store_true", help="also run each model's test/train_overfit.sh")
    p.add_argument("--device", choices=("cpu", "gpu", "npu"), default="cpu")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per model command (default 3600)")
    p.add_argument("--lock", metavar="FILE", help="run each model command under `flock FILE`")
    p.add_argument("--overfit_data", metavar="DIR", help="the overfit set (default: generated into OUTPUT/bench)")
    p.add_argument("--output", default=os.path.join(ROOT, "ci", "output"), help="default ci/output")
    args = p.parse_args(argv)
    try:
        models = registry.select(args.models, MODELS)
    except KeyError as exc:
        p.error(exc.args[0])
    if not smoke.device_available(args.device):
        p.error(f"--device {args.device}: no such device is present")
    out_root = os.path.join(os.path.abspath(args.output), "bench")
    os.makedirs(out_root, exist_ok=True)
    if args.overfit:
        if args.overfit_data:
            if not os.path.isdir(args.overfit_data):
                p.error(f"--overfit_data {args.overfit_data}: no such directory")
            args.overfit_data = os.path.abspath(args.overfit_data)
        else:
            args.overfit_data = make_overfit_data(os.path.join(out_root, "overfit_data"))
    env = harness.model_env(ROOT)
    summary = {"device": args.device, "cpu": harness.cpu_model(), "models": {}}
    for m in models:
        print(f"[bench] {m['name']:<11} ({m['folder']}) ...", flush=True)
        rec = bench_model(m, args, out_root, env, root=ROOT)
        summary["models"][m["name"]] = rec
        detail = "; ".join(f"{k} {v['status']}" + (f" ({v['error']})" if v.get("error") else "")
                           for k, v in rec.items() if isinstance(v, dict))
        print(f"[bench] {m['name']:<11} {rec['status']}" + (f": {detail}" if detail else ""), flush=True)
    return harness.write_summary(summary, args.output, "bench", markdown(summary), table(summary), "bench", root=ROOT)


if __name__ == "__main__":
    sys.exit(main())
