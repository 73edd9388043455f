"""User errors at the command line: one line ``<prog>: error: <what>``, exit status 2, never a traceback.

Identical copy in every model folder of the zoo (``ci/model_template/src/errors.py``; ``ci/tests`` checks it).

Code raises a subclass of ``UserError`` for anything the user can fix: a missing or malformed input file (name the
file, and the line where there is one), a corrupt image, a checkpoint of another model, a device that is not there,
a flag that contradicts a resumed run. File-system errors that name their file (missing, not writable, disk
full, an existing file where a folder is needed) count as user errors too. Every entry point runs its ``main`` through ``run_cli``::

    if __name__ == "__main__":
        sys.exit(run_cli(main, "train.py"))

Bugs are not user errors: they keep their traceback. Data-loader worker processes (torch ``DataLoader``, MindSpore
``GeneratorDataset``, ``tf.data`` ``py_function``) re-raise a worker's exception inside their own error type with the
original message embedded; ``run_cli`` finds our message in that text, so those errors stay one line too.
"""
import os
import re
import sys


class UserError(Exception):
    """An error the user can fix; its message is one line that says where (file[:line] or flag) and what."""


class DataError(UserError):
    """A malformed annotation, list or data file, or an image that does not decode completely."""


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable, of another model, or that contradicts the run's settings."""


class DeviceError(UserError):
    """A device (gpu, npu) or a device library (torch_npu, npu_bridge, CUDA) that was asked for and is absent."""


class ConfigError(UserError):
    """A setting that is unknown, of the wrong type or out of its range."""


def where(path, lineno=None):
    """``path:line`` (or ``path``) for messages."""
    return f"{path}:{lineno}" if lineno is not None else f"{path}"


def _user_error_names():
    names, todo = set(), [UserError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def user_message(exc):
    """The one-line message of a user error, also when a framework wrapped it (chained or embedded in the text);
    ``None`` when ``exc`` is not a user error."""
    seen = set()
    e = exc
    while e is not None and id(e) not in seen:          # the exception chain: raise ... from ..., or during handling
        seen.add(id(e))
        if isinstance(e, UserError):
            text = str(e).strip()
            if "\n" not in text:
                return text
            break                                       # a worker's error re-raised with its traceback: scan below
        if isinstance(e, OSError) and e.filename is not None:   # a missing file, a full disk, a read-only folder
            return f"{e.filename}: {e.strerror or e}"
        e = e.__cause__ or e.__context__
    pattern = re.compile(r"(?:^|[\s.'\"])(%s): (.+)" % "|".join(sorted(_user_error_names())))
    found = None
    for line in str(exc).splitlines():                  # the last occurrence is the innermost (the worker's) message
        m = pattern.search(line)
        if m:
            found = m.group(2).strip().rstrip("'\"")
    return found


def run_cli(main, prog=None, argv=None):
    """Run ``main(argv)`` (or ``main()``); a user error prints one line and returns 2, Ctrl-C returns 130."""
    prog = prog or os.path.basename(sys.argv[0])
    try:
        return main() if argv is None else main(argv)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is a user error
        msg = user_message(exc)
        if msg is None:
            raise
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 2
