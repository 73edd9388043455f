"""Mini WIDER FACE: a small, deterministic dataset of real LFW faces pasted into cluttered real photographs,
written in the exact official layouts (see ``ci/make_mini_widerface.py``)."""
from .generate import META_NAME, generate, summary  # noqa: F401
