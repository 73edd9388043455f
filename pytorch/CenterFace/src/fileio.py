"""Atomic writes of small result files (json, images): a temp file in the same folder, fsync, then rename, so a
reader never sees a half-written file and an interrupted write leaves the previous version in place."""
import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_file(path):
    """Open a temp file beside ``path`` for binary writing; on success it is fsynced and renamed to ``path``, on
    any error it is removed and ``path`` keeps its previous content."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=os.path.splitext(path)[1], dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_bytes_atomic(path, data):
    with atomic_file(path) as f:
        f.write(data)
    return path


def write_json_atomic(path, obj, indent=None):
    return write_bytes_atomic(path, json.dumps(obj, indent=indent).encode("utf-8"))


def os_error_line(e):
    """One line for an OSError met at a CLI entry (an output folder that cannot be created, a full disk...)."""
    name = e.filename if e.filename is not None else ""
    return f"{name}: {e.strerror or e}" if name else str(e)
