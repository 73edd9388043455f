"""A cache of the parsed ground truth, keyed by the content of the four ``.mat`` files.

Parsing the ``.mat`` files needs ``scipy.io`` (about half a second to import and read); the cache entry is a
file of flat arrays that loads in milliseconds. The key is the SHA-256 of the four files' bytes (and of
this format's version), taken from the very bytes that are parsed on a miss: an entry can never belong to other
file contents, so it is never stale; a changed ``.mat`` simply has another key.

Location: ``$WIDERFACE_EVAL_CACHE`` if set (``off``, ``0`` or an empty value disable the cache), else
``$XDG_CACHE_HOME/widerface_eval`` or ``~/.cache/widerface_eval``. Entries are written atomically; a folder
that cannot be written, or an unreadable entry, only means the ``.mat`` files are parsed again.
"""

import hashlib
import json
import os

import numpy as np

from .io import GT_FILES, SETTINGS, GroundTruth

FORMAT = b"widerface_eval ground-truth cache 1\n"


def cache_dir():
    """The cache folder, or None when the cache is disabled."""
    env = os.environ.get("WIDERFACE_EVAL_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "no", "false", "none") else env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "widerface_eval")


def content_key(contents):
    """SHA-256 over the format version and each file's name, length and bytes (``contents``: name -> bytes)."""
    h = hashlib.sha256(FORMAT)
    for name in sorted(contents):
        data = contents[name]
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0")
        h.update(data)
    return h.hexdigest()


def entry_path(key, directory=None):
    directory = cache_dir() if directory is None else directory
    return None if directory is None else os.path.join(directory, f"gt-{key}.bin")


def load(key, gt_dir):
    """The cached :class:`GroundTruth` for ``key``, or None."""
    path = entry_path(key)
    try:
        with open(path, "rb") as f:
            data = bytearray(f.read())        # writable arrays, as scipy.io gives
        arrays = _unpack(data, key)
        return None if arrays is None else _from_flat(arrays, gt_dir)
    except Exception:  # no entry, or a damaged or foreign one: parse the .mat files (and rewrite it)
        return None


def store(key, gt):
    """Write ``gt`` under ``key`` (atomically); returns the path, or None when it could not be written."""
    path = entry_path(key)
    if path is None:
        return None
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_pack(_to_flat(gt), key))
        os.replace(tmp, path)
        return path
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return None


def _pack(arrays, key):
    """FORMAT, one JSON line (key, then name, dtype, shape, offset of each array), the raw arrays."""
    header, blobs, offset = {"key": key, "arrays": []}, [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        header["arrays"].append([name, a.dtype.str, list(a.shape), offset])
        blobs.append(a.tobytes())
        offset += len(blobs[-1])
    return FORMAT + json.dumps(header).encode() + b"\n" + b"".join(blobs)


def _unpack(data, key):
    if not data.startswith(FORMAT):
        return None
    eol = data.index(b"\n", len(FORMAT))
    header = json.loads(data[len(FORMAT):eol])
    if header["key"] != key:
        return None
    base = eol + 1
    out = {}
    for name, dtype, shape, offset in header["arrays"]:
        dt = np.dtype(dtype)
        count = int(np.prod(shape))
        out[name] = np.frombuffer(data, dt, count, base + offset).reshape(shape)
    return out


def _to_flat(gt):
    boxes = [b for ev in gt.boxes for b in ev]
    out = {
        "events": np.frombuffer("\n".join(gt.events).encode(), np.uint8),
        "files_per_event": np.array([len(f) for f in gt.files], dtype=np.int64),
        "files": np.frombuffer("\n".join(f for fl in gt.files for f in fl).encode(), np.uint8),
        "boxes_per_image": np.array([len(b) for b in boxes], dtype=np.int64),
        "boxes": np.concatenate(boxes).reshape(-1, 4).astype(np.float64) if boxes else np.zeros((0, 4)),
    }
    for s in SETTINGS:
        keep = [k for ev in gt.keep[s] for k in ev]
        out[f"keep_per_image_{s}"] = np.array([len(k) for k in keep], dtype=np.int64)
        out[f"keep_{s}"] = (np.concatenate(keep).astype(np.int64) if keep else np.zeros(0, np.int64))
    return out


def _split(flat, counts):
    ends = np.cumsum(counts).tolist()
    return [flat[a:b] for a, b in zip([0] + ends[:-1], ends)]


def _strings(a):
    text = a.tobytes().decode()
    return text.split("\n") if text else []


def _group(items, per_event):
    out, i = [], 0
    for n in per_event.tolist():
        out.append(items[i:i + n])
        i += n
    return out


def _from_flat(z, gt_dir):
    per_event = z["files_per_event"]
    files = _group(_strings(z["files"]), per_event)
    boxes = _group(_split(z["boxes"], z["boxes_per_image"]), per_event)
    keep = {s: _group(_split(z[f"keep_{s}"], z[f"keep_per_image_{s}"]), per_event) for s in SETTINGS}
    return GroundTruth(events=_strings(z["events"]), files=files, boxes=boxes, keep=keep, gt_dir=gt_dir)


def read_mat_files(gt_dir):
    """The bytes of the four ``.mat`` files: ``{file name: bytes}``."""
    out = {}
    for fn in GT_FILES.values():
        with open(os.path.join(gt_dir, fn), "rb") as f:
            out[fn] = f.read()
    return out
