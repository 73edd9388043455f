"""One place that imports TensorFlow in TF1 graph mode.

On TF 1.15 ``tensorflow.compat.v1`` is the same API as ``tensorflow``; on TF 2.x it is the v1 API. Every module of
this package does ``from src.tf_compat import tf``.

TensorFlow >= 2.16 logs "oneDNN custom operations are on" (and absl's "log messages before InitializeLog" notice)
straight to the stderr file descriptor while it is imported, before ``TF_CPP_MIN_LOG_LEVEL`` applies. With that
level at 1 or more (2 unless the user sets it) those two informational lines are dropped, so that a user error stays
the one line ``<prog>: error: ...``; everything else TensorFlow writes during the import is passed on.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_IMPORT_NOISE = ("All log messages before absl::InitializeLog() is called are written to STDERR",
                 "oneDNN custom operations are on")


def _import_tensorflow():
    import tempfile

    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a descriptor
        fd = None
    if fd is None or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0"):
        import tensorflow.compat.v1 as tf1
        return tf1
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        try:
            import tensorflow.compat.v1 as tf1
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines(True):
                if not any(noise in line for noise in _IMPORT_NOISE):
                    sys.stderr.write(line)
            sys.stderr.flush()
    return tf1


tf = _import_tensorflow()
tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.ERROR)

__all__ = ["tf"]
