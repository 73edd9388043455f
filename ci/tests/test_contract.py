"""The model-folder contract (CONTRIBUTING.md), checked for every model of ``ci/registry.py`` whose folder exists.

A registered model without a folder is skipped as "not implemented"; the day its folder appears, every check below
runs for it.  Per model:

* the files of ``ci/model_template`` are byte-identical copies, every ``test/*.sh`` sources ``test/common.sh``, the
  contract's entry points exist, ``tests/conftest.py`` uses the shared fixtures (§1, §2, §8);
* a missing ``--data_path`` (``train.py`` and every ``test/*.sh``) is one stderr line and exit 2 (§6.9);
* ``demo.py`` on a real photo, with a checkpoint obtained as the registry's ``contract["checkpoint"]`` says, writes
  the drawn image and JSON of the contract's schema, whose detections are the real faces (released weights) or the
  reference code's detections (generated weights), in original-image pixels (§4);
* ``demo.py`` given a truncated image: one line naming the file, exit 2, nothing already written lost (§6.1, §6.9);
* ``test/train_smoke.sh``, run once from the repository root with relative ``--data_path`` / ``--output_path`` and no
  activated venv, writes ``train_log.jsonl``, ``model_info.json``, ``eval_result.json`` with the contract's keys and
  the ``smoke_result.json`` that ``ci/smoke.py --summarize`` computes from them (§4, §5, §6.4, §6.5, §9).

Each model's smoke run is the cheapest the registry names (``contract["smoke_args"]``); its output stays in
``ci/output/contract/<model>/`` for inspection.
"""
import glob
import hashlib
import json
import math
import os
import re
import shutil
import sys

import numpy as np
import pytest

from zoo_fixtures import REPO_ROOT, run_script

CI_DIR = os.path.join(REPO_ROOT, "ci")
TEMPLATE = os.path.join(CI_DIR, "model_template")
sys.path.insert(0, CI_DIR)
import registry  # noqa: E402
import smoke  # noqa: E402

# what ci/test.sh sets for every suite (the frameworks' C++ logging off, no plot windows, no bytecode files)
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_v": "3", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
CONTRACT_FILES = ["README.md", "requirements.txt", "train.py", "eval.py", "export.py", "demo.py",
                  "modelarts_entry.py", "tools/convert_official.py", "tools/benchmark.py", "tests/conftest.py",
                  "test/common.sh"] + [f"test/{s}" for s in registry.TEST_SCRIPTS]
TRUNCATED_PHOTO, TRUNCATED_BYTES = "obama.jpg", 100000      # the repro of issue 13 #1
MATCH_IOU_FACE = 0.7        # pseudo_gt.json's own agreement threshold between the three released detectors
MATCH_IOU_REFERENCE = 0.9   # the same weights and protocol as the reference: the same boxes
SCORE_MARGIN = 0.01         # detections this close to a threshold may legitimately come and go
LANDMARK_TOL = 0.1          # of the face height (the released detectors agree within 0.05)


def expect(ok, message):
    """Fail with ``message`` alone (what is wrong and where), without pytest's expression dump."""
    if not ok:
        pytest.fail(message, pytrace=False)


def folder(m):
    return os.path.join(REPO_ROOT, m["folder"])


def _files_under(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        out += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames if not f.endswith(".pyc")]
    return out


def template_files(framework=None):
    """``(relative path, template file)`` of the copies every model carries (``ci/model_template``) and, for
    ``framework``, those every model of that framework carries (``ci/model_template_<framework>``); all frameworks'
    when ``framework`` is None."""
    roots = [TEMPLATE] + sorted(glob.glob(TEMPLATE + "_*") if framework is None else [f"{TEMPLATE}_{framework}"])
    return sorted((rel, os.path.join(root, rel)) for root in roots if os.path.isdir(root) for rel in _files_under(root))


def implemented(m):
    if not os.path.isdir(folder(m)):
        pytest.skip(f"{m['name']}: not implemented (no {m['folder']}/)")
    return m


@pytest.fixture(params=registry.MODELS, ids=[m["name"] for m in registry.MODELS])
def model(request):
    return implemented(request.param)


def entry_points(m):
    """``train.py`` and every ``test/*.sh`` (the contract's six, and any other the folder has) but common.sh."""
    found = {os.path.relpath(p, folder(m)) for p in glob.glob(os.path.join(folder(m), "test", "*.sh"))}
    return ["train.py"] + sorted((found | {f"test/{s}" for s in registry.TEST_SCRIPTS}) - {"test/common.sh"})


ENTRY_POINTS = [pytest.param(m, s, id=f"{m['name']}-{os.path.basename(s)}")
                for m in registry.MODELS for s in (entry_points(m) if os.path.isdir(folder(m)) else ["train.py"])]


def tail(text, n=15):
    lines = (text or "").rstrip().splitlines()
    return "\n".join(lines[-n:])


def stderr_lines(r):
    return [ln for ln in r.stderr.splitlines() if ln.strip()]


def run_python(m, args, timeout=600, env=None):
    return run_script(list(args), cwd=folder(m), env=dict(QUIET, **(env or {})), timeout=timeout)


# ------------------------------------------------------------------------------------------ files and copies
def test_contract_files_present(model):
    missing = [f for f in CONTRACT_FILES if not os.path.isfile(os.path.join(folder(model), f))]
    expect(not missing, f"{model['folder']} lacks {', '.join(missing)} (CONTRIBUTING.md §1 lists the files every "
                        f"model folder has)")


def _first_difference(a, b):
    la, lb = a.decode("utf-8", "replace").splitlines(), b.decode("utf-8", "replace").splitlines()
    for i, (x, y) in enumerate(zip(la, lb), 1):
        if x != y:
            return f"line {i}: {y.strip()[:70]!r} instead of {x.strip()[:70]!r}"
    return f"{len(lb)} lines instead of {len(la)}"


def test_identical_copies_of_the_template(model):
    """Every file of ci/model_template (``src/errors.py``, ``src/fileio.py``, ``src/image_io.py``,
    ``src/benchmark_record.py``, ``test/common.sh``) and of ci/model_template_<framework> (MindSpore:
    ``src/mindspore_ckpt.py``): byte for byte in the model folder (CONTRIBUTING.md §2)."""
    problems = []
    for rel, template in template_files(model["framework"]):
        with open(template, "rb") as f:
            want = f.read()
        path = os.path.join(folder(model), rel)
        if not os.path.isfile(path):
            problems.append(f"{rel}: missing")
            continue
        with open(path, "rb") as f:
            got = f.read()
        if got != want:
            problems.append(f"{rel}: differs from {os.path.relpath(template, REPO_ROOT)} "
                            f"({_first_difference(want, got)})")
    expect(not problems, f"{model['folder']}: the identical copies are not identical (cp -r ci/model_template/. "
                         f"ci/model_template_{model['framework']}/. {model['folder']}/):\n  " + "\n  ".join(problems))


def test_identical_files_are_identical_across_model_folders():
    """Every model folder's copy of a template file has the same bytes as every other's."""
    present = [m for m in registry.MODELS if os.path.isdir(folder(m))]
    problems = []
    for rel, _ in template_files():
        groups = {}
        for m in present:
            path = os.path.join(folder(m), rel)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    groups.setdefault(hashlib.sha256(f.read()).hexdigest()[:12], []).append(m["name"])
        if len(groups) > 1:
            problems.append(f"{rel}: " + " | ".join(f"{', '.join(names)} ({h})" for h, names in groups.items()))
    expect(not problems, "copies that differ between model folders (name (sha256 prefix)):\n  "
           + "\n  ".join(problems))


SOURCE_COMMON = re.compile(r"^\s*(source|\.)\s+.*\bcommon\.sh\b", re.M)


def test_every_test_script_sources_common_sh(model):
    scripts = [s for s in sorted(glob.glob(os.path.join(folder(model), "test", "*.sh")))
               if os.path.basename(s) != "common.sh"]
    expect(scripts, f"{model['folder']}/test has no scripts")
    bad = []
    for s in scripts:
        with open(s) as f:
            if not SOURCE_COMMON.search(f.read()):
                bad.append(os.path.basename(s))
    expect(not bad, f"{model['folder']}/test: not sourcing test/common.sh: {', '.join(bad)} (CONTRIBUTING.md §5: "
                    f"source \"$(dirname \"${{BASH_SOURCE[0]}}\")/common.sh\")")



def test_test_script_help_is_its_header_and_the_common_options(model):
    """``bash test/X.sh --help``: exit 0, the script's own leading comment lines, then common.sh's options; no code."""
    scripts = [s for s in sorted(glob.glob(os.path.join(folder(model), "test", "*.sh")))
               if os.path.basename(s) != "common.sh"]
    bad = []
    for s in scripts:
        with open(s) as f:
            lines = f.read().splitlines()
        header = []
        for line in lines[1:]:
            if not line.startswith("#"):
                break
            header.append(line)
        r = run_script(["bash", s, "--help"], cwd=folder(model), env=QUIET, timeout=60, python=False)
        out = r.stdout.splitlines()
        if (r.returncode != 0 or out[:len(header)] != header or not any("--data_path=DIR" in ln for ln in out)
                or any(not ln.startswith("#") for ln in out)):
            bad.append(f"{os.path.basename(s)} (exit {r.returncode}):\n{tail(r.stdout + r.stderr)}")
    expect(not bad, f"{model['folder']}/test: --help must print the script's leading comment lines and "
                    f"test/common.sh's options, nothing else:\n  " + "\n  ".join(bad))

def test_conftest_uses_the_shared_fixtures(model):
    path = os.path.join(folder(model), "tests", "conftest.py")
    expect(os.path.isfile(path), f"{model['folder']}/tests/conftest.py is missing")
    with open(path) as f:
        text = f.read()
    expect("from zoo_fixtures import" in text,
           f"{model['folder']}/tests/conftest.py does not take shared_dir, mini_data, free_port, run_script from "
           f"ci/zoo_fixtures.py (CONTRIBUTING.md §8)")


def test_no_init_py_in_framework_folders():
    bad = [fw for fw in ("tensorflow", "pytorch", "mindspore")
           if os.path.exists(os.path.join(REPO_ROOT, fw, "__init__.py"))]
    expect(not bad, f"__init__.py in {', '.join(bad)}/ would shadow the framework (CONTRIBUTING.md §1)")


# ------------------------------------------------------------------------------------------ one-line errors
# absl / TensorFlow C++ log lines, MindSpore's "[WARNING] ME(pid...)", Python warnings
FRAMEWORK_LOG = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:\d\d"
                           r"|\[(WARNING|INFO|ERROR)\] [A-Z]+\(\d+|.*(Warning|WARNING):|\s*warnings\.warn)")


def one_line_error(r, command, must_name):
    """``None`` when ``r`` is exit 2 with one stderr line containing ``must_name``; else what is wrong."""
    lines = stderr_lines(r)
    if r.returncode == 2 and len(lines) == 1 and must_name in lines[0]:
        return None
    hint = ""
    if len(lines) > 1 and any(FRAMEWORK_LOG.match(ln) for ln in lines[:-1]):
        hint = ("\n(framework log lines or warnings come before the error: check the inputs before the framework "
                "is imported, or silence them)")
    elif "Traceback" in r.stderr:
        hint = "\n(a traceback: raise a UserError and run main through src/errors.py run_cli)"
    return (f"{command} must print one line naming {must_name} and exit 2; it exited {r.returncode} with "
            f"{len(lines)} stderr line(s):\n{tail(r.stderr)}{hint}")


@pytest.mark.parametrize("m, script", ENTRY_POINTS)
def test_missing_data_path_is_one_line_and_exit_2(m, script):
    implemented(m)
    expect(os.path.isfile(os.path.join(folder(m), script)), f"{m['folder']}/{script} is missing")
    if script.endswith(".sh"):
        r = run_script(["bash", script], cwd=folder(m), env=QUIET, timeout=180, python=False)
    else:
        r = run_python(m, [script], timeout=180)
    problem = one_line_error(r, f"{m['folder']}: `{'bash' if script.endswith('.sh') else 'python'} {script}` "
                                f"without --data_path", "--data_path")
    expect(problem is None, problem)


# ------------------------------------------------------------------------------------------ demo.py
_checkpoints = {}


@pytest.fixture
def checkpoint(model, shared_dir, tmp_path_factory):
    """A checkpoint of this folder, obtained once per session as ``registry`` ``contract["checkpoint"]`` says."""
    name = model["name"]
    if name not in _checkpoints:
        spec = model["contract"]["checkpoint"]
        paths = {"shared": shared_dir, "tmp": str(tmp_path_factory.mktemp(f"ckpt_{name}"))}
        error = None
        for cmd in registry.expand(spec["commands"], **paths):
            r = run_python(model, cmd, timeout=600)
            if r.returncode != 0:
                error = (f"{name}: obtaining the contract tests' checkpoint failed: `python {' '.join(cmd)}` (in "
                         f"{model['folder']}) exited {r.returncode}:\n{tail(r.stderr or r.stdout)}")
                break
        path = registry.expand(spec["path"], **paths)
        if error is None and not glob.glob(path + "*"):
            error = f"{name}: `{' '.join(cmd)}` exited 0 but wrote no {path}"
        _checkpoints[name] = (path, error)
    path, error = _checkpoints[name]
    if error:
        pytest.fail(error, pytrace=False)
    return path


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def demo_json_problems(items, n_landmarks, labels, score_threshold):
    """What in ``demo.py``'s JSON departs from CONTRIBUTING.md §4: a list of ``{"box": [x1, y1, x2, y2], "score": s,
    "landmarks": [[x, y], ...]}`` (no ``landmarks`` key without landmarks; ``label`` for multi-class models)."""
    if not isinstance(items, list):
        return [f"the JSON is a {type(items).__name__}, not a list of detections"]
    allowed = {"box", "score"} | ({"landmarks"} if n_landmarks else set()) | ({"label"} if labels else set())
    problems = []
    for i, it in enumerate(items):
        where = f"item {i}"
        if not isinstance(it, dict):
            problems.append(f"{where} is not an object")
            continue
        missing, extra = allowed - set(it), set(it) - allowed
        if missing:
            problems.append(f"{where} lacks {sorted(missing)}")
        if extra:
            problems.append(f"{where} has {sorted(extra)}, which this model's items do not carry")
        box = it.get("box")
        if not (isinstance(box, list) and len(box) == 4 and all(_finite(v) for v in box)):
            problems.append(f"{where}: box {box!r} is not [x1, y1, x2, y2]")
        elif not (box[0] <= box[2] and box[1] <= box[3]):
            problems.append(f"{where}: box {box} has x2 < x1 or y2 < y1")
        s = it.get("score")
        if not (_finite(s) and 0.0 <= s <= 1.0):
            problems.append(f"{where}: score {s!r} is not in [0, 1]")
        elif s < score_threshold - 1e-6:
            problems.append(f"{where}: score {s} is below --score_threshold {score_threshold}")
        if n_landmarks and "landmarks" in it:
            lm = it["landmarks"]
            if not (isinstance(lm, list) and len(lm) == n_landmarks and all(
                    isinstance(p, list) and len(p) == 2 and all(_finite(v) for v in p) for p in lm)):
                problems.append(f"{where}: landmarks {lm!r} are not {n_landmarks} [x, y] pairs")
        if labels and "label" in it and not (isinstance(it["label"], str) and it["label"]):
            problems.append(f"{where}: label {it['label']!r} is not a class name")
    return problems[:10]


def expected_detection_problems(items, spec, model, shared_dir):
    """Where the demo's detections depart from what the photo holds (``pseudo_gt``: every detection scoring >= 0.5
    is one of the real faces, every face is found, landmarks included) or from what the reference code detects with
    the same weights (``reference_dets``: every detection above the threshold is one of the reference's, and the
    reference's best is found), all in original-image pixels."""
    got = [(it["box"], it["score"], it.get("landmarks")) for it in items]
    problems = []
    if spec["expect"] == "pseudo_gt":
        with open(os.path.join(shared_dir, "data", "real_photos", "pseudo_gt.json")) as f:
            faces = json.load(f)["images"][spec["photo"]]["faces"]
        for box, s, _ in got:
            if s >= 0.5 and not any(_iou(box, f["box"]) >= MATCH_IOU_FACE for f in faces):
                problems.append(f"detection {[round(v, 1) for v in box]} (score {s:.3f}) is none of the photo's "
                                f"faces {[f['box'] for f in faces]} (IoU < {MATCH_IOU_FACE})")
        for f in faces:
            hits = [(box, s, lm) for box, s, lm in got if s >= 0.5 and _iou(box, f["box"]) >= MATCH_IOU_FACE]
            if not hits:
                top = [[round(v, 1) for v in b] + [round(s, 3)] for b, s, _ in got][:5]
                problems.append(f"the face at {f['box']} is not detected with score >= 0.5 (IoU >= "
                                f"{MATCH_IOU_FACE}); the first detections are {top}")
            elif model["landmarks"]:
                lm = np.asarray(hits[0][2], float)
                err = np.linalg.norm(lm - np.asarray(f["landmarks"]), axis=1) / (f["box"][3] - f["box"][1])
                if err.max() > LANDMARK_TOL:
                    problems.append(f"landmarks {lm.round(1).tolist()} are not the face's {f['landmarks']} "
                                    f"(off by up to {err.max():.2f} face heights; left eye, right eye, nose, left "
                                    f"and right mouth corner, [x, y] in image pixels)")
    else:
        ref = np.load(registry.expand(spec["reference_dets"], shared=shared_dir))["dets"][:, :5].astype(float)
        thr = spec["score_threshold"] + SCORE_MARGIN

        def matches(box, s):
            return any(_iou(box, r[:4]) >= MATCH_IOU_REFERENCE and abs(s - r[4]) <= SCORE_MARGIN for r in ref)
        for box, s, _ in got:
            if s >= thr and not matches(box, s):
                problems.append(f"detection {[round(v, 1) for v in box]} (score {s:.3f}) is none of the reference's "
                                f"(IoU >= {MATCH_IOU_REFERENCE}, score within {SCORE_MARGIN})")
        best = ref[np.argmax(ref[:, 4])]
        if not any(_iou(box, best[:4]) >= MATCH_IOU_REFERENCE and abs(s - best[4]) <= SCORE_MARGIN
                   for box, s, _ in got):
            problems.append(f"the reference's best detection {best.round(2).tolist()} is not among the demo's")
    return problems[:8]


def test_demo_writes_the_contract_json(model, checkpoint, shared_dir, tmp_path):
    import cv2
    spec = model["contract"]["demo"]
    photo = os.path.join(shared_dir, "data", "real_photos", spec["photo"])
    out_img, out_json = tmp_path / "demo.jpg", tmp_path / "demo.json"
    r = run_python(model, ["demo.py", "--image", photo, "--checkpoint", checkpoint, "--output", out_img,
                           "--json", out_json, "--score_threshold", spec["score_threshold"]], timeout=600)
    expect(r.returncode == 0, f"{model['name']}: `python demo.py --image {spec['photo']} --checkpoint CKPT --output "
                              f"OUT.jpg --json OUT.json --score_threshold {spec['score_threshold']}` exited "
                              f"{r.returncode}:\n{tail(r.stderr or r.stdout)}")
    expect(out_json.is_file(), f"{model['name']}: demo.py exited 0 but wrote no --json file")
    try:
        items, error = json.loads(out_json.read_text()), None
    except ValueError as e:
        error = str(e)
    expect(error is None, f"{model['name']}: demo.py's --json file is not JSON ({error})")
    problems = demo_json_problems(items, model["landmarks"], model["labels"], spec["score_threshold"])
    expect(not problems, f"{model['name']}: demo.py's JSON breaks CONTRIBUTING.md §4:\n  " + "\n  ".join(problems))
    problems = expected_detection_problems(items, spec, model, shared_dir)
    expect(not problems, f"{model['name']}: demo.py's detections on {spec['photo']} are not the expected ones in "
                         f"original-image pixels ({spec['expect']}):\n  " + "\n  ".join(problems))
    drawn = cv2.imread(str(out_img))
    photo_hw = cv2.imread(photo).shape[:2]
    expect(drawn is not None and drawn.shape[:2] == photo_hw,
           f"{model['name']}: --output should be the photo ({photo_hw[1]}x{photo_hw[0]}) with the detections drawn; "
           f"got {'no image' if drawn is None else drawn.shape}")


def test_demo_rejects_a_truncated_image(model, checkpoint, shared_dir, tmp_path):
    """issue 13 #1: a JPEG cut short is one line naming the file and exit 2; the outputs of an earlier run stay."""
    with open(os.path.join(shared_dir, "data", "real_photos", TRUNCATED_PHOTO), "rb") as f:
        data = f.read(TRUNCATED_BYTES)
    bad = tmp_path / "cut_short.jpg"
    bad.write_bytes(data)
    out_img, out_json = tmp_path / "earlier.jpg", tmp_path / "earlier.json"
    out_img.write_bytes(b"an earlier result")
    out_json.write_text('["an earlier result"]')
    r = run_python(model, ["demo.py", "--image", bad, "--checkpoint", checkpoint, "--output", out_img,
                           "--json", out_json], timeout=600)
    problem = one_line_error(r, f"{model['name']}: demo.py on a truncated JPEG", bad.name)
    expect(problem is None, problem)
    expect(out_img.read_bytes() == b"an earlier result" and out_json.read_text() == '["an earlier result"]',
           f"{model['name']}: demo.py overwrote the --output / --json files of an earlier run although it failed")


# ------------------------------------------------------------------------------------------ test/train_smoke.sh
_smoke_runs = {}


def _without_venv_path():
    """PATH without the virtual environment's bin folder, so that a script that relies on an activated venv (or on
    whatever ``python`` is first on PATH) fails here as it does for a user."""
    venv_bins = {os.path.realpath(os.path.dirname(sys.executable)),
                 os.path.realpath(os.path.join(REPO_ROOT, ".venv", "bin"))}
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and os.path.realpath(p) not in venv_bins)


@pytest.fixture
def smoke_run(model, mini_data):
    """``bash <folder>/test/train_smoke.sh --data_path=<relative> --output_path=<relative> <smoke_args>`` from the
    repository root, with no activated venv (when the repository has its .venv), once per session."""
    name = model["name"]
    if name not in _smoke_runs:
        base = os.path.join(CI_DIR, "output", "contract", name)
        out_rel = os.path.relpath(os.path.join(base, "smoke"), REPO_ROOT)
        misplaced = os.path.join(folder(model), out_rel)    # where a script that resolves against its folder writes
        for d in (base, misplaced):
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(base)
        args = model["contract"]["smoke_args"]
        data_rel = os.path.relpath(mini_data, REPO_ROOT)
        cmd = ["bash", f"{model['folder']}/{registry.SMOKE_SCRIPT}", f"--data_path={data_rel}",
               f"--output_path={out_rel}", *args]
        env = dict(QUIET)
        if os.path.isfile(os.path.join(REPO_ROOT, ".venv", "bin", "python")):
            env.update(PATH=_without_venv_path(), VIRTUAL_ENV="", PYTHON="")
        r = run_script(cmd, cwd=REPO_ROOT, env=env, timeout=900, python=False)
        log = os.path.join(base, "train_smoke.log")
        with open(log, "w") as f:
            f.write(f"$ {' '.join(cmd)}   (cwd {REPO_ROOT})\n{r.stdout}\n--- stderr ---\n{r.stderr}")
        steps = int(next(a for a in reversed(args) if a.startswith("--steps=")).split("=", 1)[1])
        _smoke_runs[name] = {"r": r, "cmd": " ".join(cmd), "out": os.path.join(REPO_ROOT, out_rel), "steps": steps,
                             "misplaced": misplaced, "log": os.path.relpath(log, REPO_ROOT),
                             # a relative path as given, or resolved against the model folder
                             "relative": re.compile("|".join(rf"(?<![\w/.]){re.escape(p)}|{re.escape(model['folder'])}/"
                                                             rf"{re.escape(p)}" for p in (data_rel, out_rel)))}
    return _smoke_runs[name]


def _require_smoke_success(run, name):
    expect(run["r"].returncode == 0,
           f"{name}: test/train_smoke.sh failed (see test_train_smoke_runs_from_the_repository_root[{name}])")


def test_train_smoke_runs_from_the_repository_root(model, smoke_run):
    """Relative paths are the caller's (issue 13 #4) and the repository's .venv is used without activation
    (issue 13 #5)."""
    r = smoke_run["r"]
    out = (r.stdout or "") + (r.stderr or "")
    hint = ""
    if "ModuleNotFoundError" in out or "No module named" in out:
        hint = ("\n(the script did not run the repository's .venv/bin/python: no venv is active in this run, as "
                "for a user who did not activate one; CONTRIBUTING.md §5)")
    elif any(smoke_run["relative"].search(ln) and any(w in ln.lower() for w in ("no such", "not a directory",
                                                                                   "does not exist"))
             for ln in out.splitlines()):
        hint = "\n(relative paths must be resolved against the caller's directory; CONTRIBUTING.md §6.4)"
    expect(r.returncode == 0, f"{model['name']}: `{smoke_run['cmd']}` (from the repository root) exited "
                              f"{r.returncode}; log {smoke_run['log']}:\n{tail(r.stderr or r.stdout)}{hint}")
    expect(not os.path.exists(smoke_run["misplaced"]),
           f"{model['name']}: train_smoke.sh wrote into {os.path.relpath(smoke_run['misplaced'], REPO_ROOT)}: it "
           f"resolved the relative --output_path against the model folder, not the caller's directory")
    expect(os.path.isdir(smoke_run["out"]), f"{model['name']}: nothing was written to --output_path")


def test_train_smoke_writes_the_run_files(model, smoke_run):
    """train_log.jsonl (steps 1..N of this fresh run), model_info.json, eval_result.json in --output_path, with
    the keys of CONTRIBUTING.md §4."""
    _require_smoke_success(smoke_run, model["name"])
    out, n = smoke_run["out"], smoke_run["steps"]
    error = None
    try:
        log = smoke.read_train_log(os.path.join(out, "train_log.jsonl"))
        info = smoke.read_model_info(os.path.join(out, "model_info.json"))
        ev = smoke.read_eval_result(os.path.join(out, "eval_result.json"))
    except smoke.RunFileError as e:
        error = str(e)
    if error:
        found = sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "**", "*.json*"), recursive=True))
        pytest.fail(f"{model['name']}: {error}\n(JSON files under --output_path: {', '.join(found) or 'none'})",
                    pytrace=False)
    steps = [rec["step"] for rec in log]
    expect(steps == list(range(1, n + 1)), f"{model['name']}: a fresh run with --steps={n} should log global steps "
                                            f"1..{n}; train_log.jsonl has {steps}")
    expect(info["framework"].lower() == model["framework"],
           f"{model['name']}: model_info.json framework is {info['framework']!r}, not {model['framework']!r}")
    if model["anchors"]:
        expect(info["anchors"] is not None, f"{model['name']} is anchor-based: model_info.json must count its "
                                            f"anchors at anchors_input_hw, not say null")
    else:
        expect(info["anchors"] is None, f"{model['name']} is anchor-free: model_info.json anchors must be null, "
                                        f"not {info['anchors']!r}")
    curves = ev.get("curves") or {}
    expect(all(len(curves.get(s, {}).get("recall", [])) == len(curves.get(s, {}).get("precision", [])) > 0
               for s in smoke.SETTINGS),
           f"{model['name']}: eval_result.json lacks the easy / medium / hard PR curves (write it with "
           f"widerface_eval.write_json)")


def test_train_smoke_result_is_the_summary_of_its_run_files(model, smoke_run, tmp_path):
    """smoke_result.json is what ``python ci/smoke.py --summarize`` computes from the run files: one definition."""
    _require_smoke_success(smoke_run, model["name"])
    out = smoke_run["out"]
    path = os.path.join(out, "smoke_result.json")
    expect(os.path.isfile(path), f"{model['name']}: train_smoke.sh wrote no smoke_result.json into --output_path")
    with open(path) as f:
        got = json.load(f)
    for name in ("train_log.jsonl", "model_info.json", "eval_result.json"):
        expect(os.path.isfile(os.path.join(out, name)), f"{model['name']}: smoke_result.json cannot be checked: no "
                                                         f"{name} in --output_path (see test_train_smoke_writes_the_"
                                                         f"run_files[{model['name']}])")
        shutil.copy(os.path.join(out, name), tmp_path / name)
    error = None
    try:
        want = smoke.summarize(str(tmp_path))
    except smoke.RunFileError as e:
        error = str(e).replace(str(tmp_path), out)
    expect(error is None, f"{model['name']}: {error}")
    expect(got == want, f"{model['name']}: smoke_result.json {got} is not what `python ci/smoke.py --summarize "
                        f"OUTPUT_PATH` computes from the run files: {want}")
    expect(got["steps"] == smoke_run["steps"], f"{model['name']}: --steps={smoke_run['steps']} ran {got['steps']}")
