"""The one atomic writer of the zoo: a temp file in the same folder, fsync, rename; cleaned up on any error.

Identical copy in every model folder (``ci/model_template/src/fileio.py``; ``ci/tests`` checks it). A reader never
sees a half-written file, and an interrupted write leaves the previous version in place. Checkpoints, JSON results,
images and the step log all go through it.
"""
import contextlib
import json
import os
import tempfile


def _file_mode():
    """The mode ``open()`` gives a new file (0o666 less the umask); ``mkstemp`` would leave 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def _temp_beside(path):
    """A new temp file in ``path``'s folder (created if needed): ``(fd, temp path)``, with the usual file mode."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=os.path.splitext(path)[1], dir=folder)
    os.fchmod(fd, _FILE_MODE)
    return fd, tmp


@contextlib.contextmanager
def atomic_file(path, mode="wb"):
    """Open a temp file beside ``path`` (``mode`` ``"wb"`` or ``"w"``); on success it is fsynced and renamed to
    ``path``, on any error it is removed and ``path`` keeps its previous content."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_file mode must be 'wb' or 'w', not {mode!r}")
    path = os.fspath(path)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path):
    """A temp path beside ``path`` for libraries that write a file themselves (``torch.save``,
    ``mindspore.save_checkpoint``, ``cv2.imwrite``): renamed to ``path`` on success, removed on error."""
    path = os.fspath(path)
    fd, tmp = _temp_beside(path)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
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


def write_text_atomic(path, text):
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path, obj, indent=1):
    return write_text_atomic(path, json.dumps(obj, indent=indent) + "\n")


class StepLog:
    """``train_log.jsonl``: one JSON object per training step (``step``, ``loss``, ``sec``, ``lr``, more keys
    allowed), appended and flushed line by line, so a killed run loses at most the step being written.

    ``StepLog(path, resume_step=N)`` first drops the lines of steps after ``N`` (they belong to the run that was
    interrupted after its last checkpoint, and are trained again), atomically; ``resume_step=None`` starts a new log.
    """

    def __init__(self, path, resume_step=None):
        self.path = os.fspath(path)
        kept = []
        if resume_step is not None and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:          # a torn last line of a killed run
                        continue
                    if rec.get("step", 0) <= resume_step:
                        kept.append(json.dumps(rec) + "\n")
        write_text_atomic(self.path, "".join(kept))
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, step, loss, sec, lr, **extra):
        rec = {"step": int(step), "loss": float(loss), "sec": float(sec), "lr": float(lr)}
        rec.update({k: (float(v) if hasattr(v, "__float__") and not isinstance(v, (int, str)) else v)
                    for k, v in extra.items()})
        self._f.write(json.dumps(rec) + "\n")
        self._f.flush()
        return rec

    def close(self):
        if not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_step_log(path):
    """The records of a ``train_log.jsonl`` (a torn last line is skipped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def os_error_line(e):
    """One line for an OSError met at a CLI entry (an output folder that cannot be created, a full disk...)."""
    name = e.filename if e.filename is not None else ""
    return f"{name}: {e.strerror or e}" if name else str(e)
