"""Faster R-CNN (MindSpore) model package.

Importing ``src`` caps oneDNN's instruction set at AVX2 unless the user set ``ONEDNN_MAX_CPU_ISA``: without it,
MindSpore's CPU convolutions on this class of machine fall back to oneDNN's reference kernel (~100x slower, and
numerically different from the reference outputs in ``../shared/weights/fasterrcnn_reference``). Every entry point
imports ``src`` before MindSpore, so this is the one place the variable is set.
"""
import os

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
