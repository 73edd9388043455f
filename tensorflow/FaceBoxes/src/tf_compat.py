"""One place that imports TensorFlow in TF1 graph mode.

On TF 1.15 ``tensorflow.compat.v1`` is the same API as ``tensorflow``; on TF 2.x it is the v1 API. Every module of
this package does ``from src.tf_compat import tf``.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.ERROR)

__all__ = ["tf"]
