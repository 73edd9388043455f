#!/usr/bin/env python
"""Which lines of the models' requirements.txt the zoo environment does not satisfy yet.

Each model keeps a requirements.txt for users who install that model alone (``tensorflow>=1.15``,
``torch>=2.0``, ``widerface_eval``, ...). The zoo environment installs the pins of ``ci/requirements.txt`` and
``common/widerface_eval`` first; this script then lists, one per line, the requirements that are still
unsatisfied, so that only those are installed. A requirement counts as satisfied by an installed
distribution of the same name or of a known drop-in variant (``tensorflow`` by ``tensorflow-cpu``,
``opencv-python`` by ``opencv-python-headless``, ...) whose version matches the specifier.

    python ci/check_requirements.py FILE [FILE ...]     # prints the unsatisfied lines, exit 0
"""

import re
import sys
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ALIASES = {
    "tensorflow": ["tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos"],
    "opencv-python": ["opencv-python", "opencv-python-headless", "opencv-contrib-python",
                      "opencv-contrib-python-headless"],
    "opencv-python-headless": ["opencv-python-headless", "opencv-python", "opencv-contrib-python-headless",
                               "opencv-contrib-python"],
    "mindspore": ["mindspore", "mindspore-gpu", "mindspore-ascend"],
    "onnxruntime": ["onnxruntime", "onnxruntime-gpu"],
    "pillow": ["pillow", "pillow-simd"],
}


def installed_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def satisfied(req: Requirement):
    if req.marker is not None and not req.marker.evaluate():
        return True
    name = canonicalize_name(req.name)
    for candidate in ALIASES.get(name, [name]):
        v = installed_version(candidate)
        if v is None:
            continue
        base = re.sub(r"\+.*$", "", v)          # 2.13.0+cpu satisfies torch>=2.0
        if not req.specifier or req.specifier.contains(base, prereleases=True):
            return True
    return False


def unsatisfied(path):
    out = []
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            try:
                req = Requirement(line)
            except InvalidRequirement as exc:
                raise SystemExit(f"{path}:{lineno}: invalid requirement {line!r} ({exc})")
            if not satisfied(req):
                out.append(line)
    return out


def main(argv):
    missing = []
    for path in argv:
        for line in unsatisfied(path):
            if line not in missing:
                missing.append(line)
    print("\n".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
