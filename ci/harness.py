"""What the smoke harness (``ci/smoke.py``) and the benchmark driver (``ci/bench/run_benchmarks.py``) share: the
environment a model's script runs in, one logged run of a command in its own process group, atomic summary files,
the CPU's name."""
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def model_env(root=ROOT):
    """The environment of a model's script: this interpreter's folder first on PATH (torchrun / msrun live next to
    it), the shared reference material, and oneDNN's AVX2 kernels for MindSpore, each unless the caller set it."""
    env = dict(os.environ)
    env.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
    env.setdefault("ZOO_SHARED", os.path.join(root, "..", "shared"))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def run_logged(cmd, cwd, log, env, timeout, root=ROOT, lock=None):
    """Run ``cmd`` in ``cwd`` with its output written to ``log`` (after a ``$ (cd ... && cmd)`` line), in its own
    process group; on timeout the whole group (launchers and their workers) is killed.  With ``lock``, the command
    runs under ``flock LOCK`` (waits for it).  Returns ``(exit status or None on timeout, wall seconds)``."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    full = (["flock", lock] if lock else []) + [str(c) for c in cmd]
    t0 = time.time()
    with open(log, "w") as lf:
        lf.write(f"$ (cd {os.path.relpath(cwd, root)} && {' '.join(full)})\n")
        lf.flush()
        proc = subprocess.Popen(full, cwd=cwd, stdout=lf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
    return rc, round(time.time() - t0, 1)


def write_atomic(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_summary(summary, output, stem, markdown, table, tag, root=ROOT):
    """``OUTPUT/<stem>_summary.json`` and ``.md``, the table printed, the failed models named on stderr; the exit
    status: 1 when a model failed, else 0."""
    js, md = os.path.join(output, f"{stem}_summary.json"), os.path.join(output, f"{stem}_summary.md")
    write_atomic(js, json.dumps(summary, indent=1) + "\n")
    write_atomic(md, markdown)
    print(f"\n{table}\n\n[{tag}] wrote {os.path.relpath(js, root)} and {os.path.relpath(md, root)}")
    failed = [n for n, r in summary["models"].items() if r["status"] == "failed"]
    if failed:
        print(f"[{tag}] FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def cpu_model():
    """The CPU's model name, as every model's ``tools/benchmark.py`` records it (``src/benchmark_record.py`` of the
    model template)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_template", "src", "benchmark_record.py")
    spec = importlib.util.spec_from_file_location("zoo_benchmark_record", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cpu_model()