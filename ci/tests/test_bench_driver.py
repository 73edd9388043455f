"""The benchmark driver (ci/bench/run_benchmarks.py, run by ci/bench.sh) on fake model folders: the table of figures
next to their references with the ratios, "not implemented" / "not available" models, failures isolated and named,
the overfit figures from the run files, the summary files and the exit status."""
import json
import os
import sys
import textwrap

import pytest

CI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(CI, "bench"))
import run_benchmarks as rb  # noqa: E402

FIGURES = [
    {"name": "training images/s (1p, 1024²)", "value": 16.7, "unit": "images/s", "reference": 8.35,
     "reference_source": "reference run, same machine, same benchmark run"},
    {"name": "inference 640×480", "value": 7.2, "unit": "ms", "reference": 9.0,
     "reference_source": "reference run, same machine, same benchmark run"},
    {"name": "parameters", "value": 1013376, "unit": "", "reference": 1013376, "reference_source": "reference code"},
    {"name": "bf16 easy AP change", "value": -0.0012, "unit": "AP", "reference": None, "reference_source": None},
]


def _benchmark_script(figures, exit_code=0):
    return textwrap.dedent(f"""\
        import json, sys
        out = sys.argv[sys.argv.index("--json") + 1]
        print("Final Performance images/sec : 16.7")
        json.dump({{"model": "Good", "cpu": "Test CPU", "figures": {figures!r}}}, open(out, "w"))
        sys.exit({exit_code})
        """)


def _overfit_script(easy_ap, steps=300):
    return textwrap.dedent(f"""\
        for a in "$@"; do case "$a" in --output_path=*) out="${{a#*=}}";; --data_path=*) d="${{a#*=}}";; esac; done
        [ -f "$d/marker" ] || {{ echo "no data at $d" >&2; exit 2; }}
        mkdir -p "$out"
        : > "$out/train_log.jsonl"
        for s in 1 2 {steps}; do echo "{{\\"step\\": $s, \\"loss\\": 1.0, \\"sec\\": 0.1, \\"lr\\": 0.01}}" >> "$out/train_log.jsonl"; done
        echo '{{"aps": {{"easy": {easy_ap}, "medium": 0.5, "hard": 0.25}}}}' > "$out/eval_result.json"
        """)


def _model(root, name, benchmark=None, overfit=None):
    folder = os.path.join(root, "pytorch", name)
    os.makedirs(os.path.join(folder, "tools"))
    os.makedirs(os.path.join(folder, "test"))
    if benchmark is not None:
        with open(os.path.join(folder, "tools", "benchmark.py"), "w") as f:
            f.write(benchmark)
    if overfit is not None:
        with open(os.path.join(folder, "test", "train_overfit.sh"), "w") as f:
            f.write(overfit)
    return {"name": name, "folder": f"pytorch/{name}", "framework": "pytorch", "devices": ["cpu"]}


@pytest.fixture
def fake_zoo(tmp_path, monkeypatch):
    root = str(tmp_path / "repo")
    bad = [dict(FIGURES[0]), dict(FIGURES[1])]
    del bad[1]["unit"]
    models = [_model(root, "Good", _benchmark_script(FIGURES), _overfit_script(0.9)),
              _model(root, "NoBench"),
              {"name": "Absent", "folder": "pytorch/Absent", "framework": "pytorch", "devices": ["cpu"]},
              _model(root, "Crash", "import sys; print('boom', file=sys.stderr); sys.exit(3)\n",
                     _overfit_script(0.5)),
              _model(root, "BadJson", _benchmark_script(bad)),
              _model(root, "NoLearn", None, _overfit_script(0.25))]
    monkeypatch.setattr(rb, "MODELS", models)
    monkeypatch.setattr(rb, "ROOT", root)
    data = tmp_path / "overfit_data"
    data.mkdir()
    (data / "marker").write_text("")
    return root, str(data), str(tmp_path / "out")


def test_table_of_figures_next_to_their_references(fake_zoo):
    root, data, out = fake_zoo
    assert rb.main(["--models", "Good,NoBench,Absent", "--output", out]) == 0
    s = json.load(open(os.path.join(out, "bench_summary.json")))
    assert s["device"] == "cpu" and s["cpu"] == rb.harness.cpu_model()
    good = s["models"]["Good"]
    assert good["status"] == "ok" and good["benchmark"]["figures"] == FIGURES
    assert good["benchmark"]["cpu"] == "Test CPU" and "overfit" not in good
    assert s["models"]["NoBench"] == {"status": "not available",
                                      "benchmark": {"status": "not available", "error": "no tools/benchmark.py"}}
    assert s["models"]["Absent"] == {"status": "not implemented"}
    md = open(os.path.join(out, "bench_summary.md")).read()
    rows = md.split("\n\n")[2].splitlines()
    assert rows[0] == rb.TABLE_HEAD
    assert rows[2:] == [
        "| Good | training images/s (1p, 1024²) | 16.70 | images/s | 8.35 | 2.00× | reference run, same machine, "
        "same benchmark run |",
        "| Good | inference 640×480 | 7.20 | ms | 9.00 | 0.80× | reference run, same machine, same benchmark run |",
        "| Good | parameters | 1,013,376 |  | 1,013,376 | 1.00× | reference code |",
        "| Good | bf16 easy AP change | -0.0012 | AP | - | - | - |",
        "| NoBench | benchmark: not available (no tools/benchmark.py) | - | - | - | - | - |",
        "| Absent | not implemented | - | - | - | - | - |"]
    assert md.startswith(f"# Benchmarks (cpu, {s['cpu']} (a benchmark reported another CPU: Test CPU))")
    log = open(os.path.join(root, good["benchmark"]["log"])).read()
    assert log.startswith("$ (cd pytorch/Good && ") and "Final Performance images/sec : 16.7" in log


def test_failures_are_isolated_and_named(fake_zoo):
    root, data, out = fake_zoo
    assert rb.main(["--models", "Crash,BadJson,Good", "--output", out]) == 1
    s = json.load(open(os.path.join(out, "bench_summary.json")))
    crash = s["models"]["Crash"]["benchmark"]
    assert crash["status"] == "failed" and crash["error"] == "exit code 3"
    assert "boom" in open(os.path.join(root, crash["log"])).read()
    bad = s["models"]["BadJson"]["benchmark"]
    assert bad["status"] == "failed"
    assert bad["error"].endswith("benchmark.json: figures[1] has no 'unit' (each figure needs name, value, unit, "
                                 "reference, reference_source)")
    assert s["models"]["Good"]["status"] == "ok"
    md = open(os.path.join(out, "bench_summary.md")).read()
    assert "| Crash | benchmark: failed (exit code 3) | - | - | - | - | - |" in md


def test_overfit_figures_from_the_run_files(fake_zoo):
    root, data, out = fake_zoo
    assert rb.main(["--models", "Good,NoLearn,NoBench", "--overfit", "--overfit_data", data, "--output", out]) == 0
    s = json.load(open(os.path.join(out, "bench_summary.json")))
    figs = s["models"]["Good"]["overfit"]["figures"]
    assert [f["name"] for f in figs] == ["overfit easy AP (8 images)", "overfit training steps",
                                         "overfit wall time (training + evaluation)"]
    assert (figs[0]["value"], figs[0]["reference"], figs[1]["value"]) == (0.9, 0.8, 300)
    assert figs[2]["value"] == s["models"]["Good"]["overfit"]["wall_s"] and figs[2]["reference"] is None
    nolearn = s["models"]["NoLearn"]
    assert nolearn["status"] == "ok" and nolearn["benchmark"]["status"] == "not available"
    assert nolearn["overfit"]["figures"][0]["value"] == 0.25
    assert s["models"]["NoBench"]["overfit"] == {"status": "not available", "error": "no test/train_overfit.sh"}
    md = open(os.path.join(out, "bench_summary.md")).read()
    assert "| Good | overfit easy AP (8 images) | 0.9 | AP | 0.8 | 1.12× | target, CONTRIBUTING.md §5 |" in md
    assert "| NoLearn | overfit easy AP (8 images) | 0.25 | AP | 0.8 | 0.31× | target, CONTRIBUTING.md §5 |" in md


def test_overfit_run_without_run_files_fails_with_the_file_named(fake_zoo, tmp_path):
    root, data, out = fake_zoo
    with open(os.path.join(root, "pytorch", "Good", "test", "train_overfit.sh"), "w") as f:
        f.write("exit 0\n")
    assert rb.main(["--models", "Good", "--overfit", "--overfit_data", data, "--output", out]) == 1
    part = json.load(open(os.path.join(out, "bench_summary.json")))["models"]["Good"]["overfit"]
    assert part["status"] == "failed" and "overfit/eval_result.json: no such file" in part["error"]


def test_bad_arguments(fake_zoo, capsys):
    root, data, out = fake_zoo
    with pytest.raises(SystemExit) as e:
        rb.main(["--models", "Nope", "--output", out])
    assert e.value.code == 2 and "unknown model(s) Nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        rb.main(["--overfit", "--overfit_data", os.path.join(data, "missing"), "--output", out])
    assert e.value.code == 2 and "no such directory" in capsys.readouterr().err


def test_number_format_and_ratio():
    assert [rb.fmt_number(v) for v in (None, 41133087, 1234.5, 51.4, 0.00123)] == \
        ["-", "41,133,087", "1,234.5", "51.40", "0.00123"]
    assert (rb.ratio(16.7, 8.35), rb.ratio(1.0, None), rb.ratio(1.0, 0)) == ("2.00×", "-", "-")


def test_overfit_set_is_generated_once(tmp_path, monkeypatch):
    """The overfit set is made by make_mini_widerface.py --overfit 8, and reused while it is one."""
    calls = []
    monkeypatch.setattr(rb.subprocess, "run", lambda cmd, check: calls.append(cmd))
    d = str(tmp_path / "overfit_data")
    assert rb.make_overfit_data(d) == d
    assert calls == [[sys.executable, os.path.join(CI, "make_mini_widerface.py"), "--overfit", "8", "--out", d,
                      "--quiet"]]
    os.makedirs(d)
    with open(os.path.join(d, "mini_widerface_meta.json"), "w") as f:
        json.dump({"overfit": {"images": 8}}, f)
    assert rb.make_overfit_data(d) == d and len(calls) == 1
    with open(os.path.join(d, "mini_widerface_meta.json"), "w") as f:
        json.dump({"num_train": 64}, f)                   # the full mini set there: replaced by the overfit set
    rb.make_overfit_data(d)
    assert len(calls) == 2


def test_template_benchmark_record_is_what_the_driver_reads(tmp_path, monkeypatch):
    """ci/model_template/src/benchmark_record.py (every model's tools/benchmark.py writes through it): the record's
    keys in the order of CONTRIBUTING.md §7, extra keys between cpu and figures, the file written whole."""
    template = os.path.join(CI, "model_template")
    monkeypatch.syspath_prepend(template)
    for name in [n for n in sys.modules if n == "src" or n.startswith("src.")]:
        monkeypatch.delitem(sys.modules, name)
    from src.benchmark_record import cpu_model, figure, write_benchmark

    f = figure("inference 640x480", 7.2, "ms", 9.0, "reference run, same machine", load=1.5)
    assert list(f) == ["name", "value", "unit", "reference", "reference_source", "load"]
    assert figure("parameters", 10, "count") == {"name": "parameters", "value": 10, "unit": "count",
                                                 "reference": None, "reference_source": None}
    out = tmp_path / "bench.json"
    rec = write_benchmark(str(out), "Good", [f], torch="2.13.0")
    assert json.loads(out.read_text()) == rec
    assert list(rec) == ["model", "cpu", "torch", "figures"] and rec["cpu"] == cpu_model() and rec["cpu"]
    assert os.listdir(tmp_path) == ["bench.json"]
