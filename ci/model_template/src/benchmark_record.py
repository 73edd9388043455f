"""The JSON record of a model's ``tools/benchmark.py`` (CONTRIBUTING.md §7): the machine it ran on and one entry per
figure, each next to the reference's figure. Identical copy in every model folder (ci/model_template/src/;
ci/tests checks it); ``ci/harness.py`` names the machine with the same ``cpu_model``.

    {"model": ..., "cpu": ..., <extra keys>, "figures": [{"name", "value", "unit", "reference", "reference_source"}]}

``reference`` is the reference's figure measured in the same run on the same machine, or a published one named in
``reference_source``; ``None`` where there is none.
"""
import platform
import subprocess


def cpu_model():
    """The CPU's model name: ``lscpu``'s "Model name" (e.g. "AMD EPYC"), else /proc/cpuinfo's "model name", else what
    ``platform`` knows."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def figure(name, value, unit, reference=None, reference_source=None, **extra):
    """One figure of the record; ``extra`` keys (e.g. the load average it was taken at) follow the five of §7."""
    return dict({"name": name, "value": value, "unit": unit, "reference": reference,
                 "reference_source": reference_source}, **extra)


def write_benchmark(path, model, figures, **extra):
    """Write the record atomically to ``path`` and return it; ``extra`` keys (e.g. framework versions) go between
    ``cpu`` and ``figures``."""
    from .fileio import write_json_atomic

    record = {"model": model, "cpu": cpu_model(), **extra, "figures": list(figures)}
    write_json_atomic(path, record)
    return record
