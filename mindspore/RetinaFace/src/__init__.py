"""RetinaFace (ResNet50 / MobileNet0.25) in MindSpore.

Importing this package sets ``ONEDNN_MAX_CPU_ISA=AVX2`` unless the user set it: on some CPUs MindSpore's oneDNN
otherwise picks a reference convolution kernel that is about 100x slower. oneDNN reads the variable when MindSpore
loads it, so every entry point (and the test suite) imports ``src`` before ``mindspore``; this is the only place the
variable is set.
"""
import os

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
