"""Readers and writers for the WIDER FACE file formats.

* prediction folder: ``<pred_dir>/<event>/<image stem>.txt`` with the image name on line 1, the number of
  detections on line 2, then one ``x y w h score`` line per detection (original-image pixels);
* ``wider_face_split/wider_face_{train,val}_bbx_gt.txt``: image path, face count, then one
  ``x y w h blur expression illumination invalid occlusion pose`` line per face (an image with no face is
  written with a count of 0 followed by one line of ten zeros);
* the evaluation ground truth ``wider_{face,easy,medium,hard}_val.mat``.

Every malformed input raises :class:`WiderFormatError` whose message starts with ``file:line:``.
"""

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

SETTINGS = ("easy", "medium", "hard")
GT_FILES = {
    "face": "wider_face_val.mat",
    "easy": "wider_easy_val.mat",
    "medium": "wider_medium_val.mat",
    "hard": "wider_hard_val.mat",
}
ATTRIBUTE_NAMES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")


class WiderFormatError(ValueError):
    """A WIDER FACE input file is malformed; the message names the file, the line and the problem."""


class NoMatchingPredictionsError(WiderFormatError):
    """The prediction folder holds files, but none for any image of the ground truth (e.g. predictions of
    another image set)."""


def _where(path, lineno=None):
    return f"{path}:{lineno}" if lineno is not None else f"{path}"


# --------------------------------------------------------------------------------------------------
# Prediction folder
# --------------------------------------------------------------------------------------------------
def _image_stem(image_relpath):
    name = os.path.basename(image_relpath.replace("\\", "/"))
    stem, ext = os.path.splitext(name)
    return stem if ext.lower() in (".jpg", ".jpeg", ".png", ".bmp") else name


def prediction_path(pred_dir, image_relpath):
    """``pred_dir/<event>/<stem>.txt`` for ``image_relpath`` = ``"<event>/<name>.jpg"``."""
    rel = image_relpath.replace("\\", "/").strip("/")
    parts = rel.split("/")
    if len(parts) < 2:
        raise ValueError(f"image path {image_relpath!r} must be '<event>/<name>.jpg'")
    return os.path.join(pred_dir, parts[-2], _image_stem(parts[-1]) + ".txt")


def format_prediction(image_relpath, dets):
    """The text of one prediction file. ``dets``: (N, 5) ``[x1, y1, x2, y2, score]``, any order."""
    dets = np.asarray(dets, dtype=np.float64).reshape(-1, 5)
    if not np.all(np.isfinite(dets)):
        raise ValueError(f"{image_relpath}: detections contain NaN or inf")
    order = np.argsort(-dets[:, 4], kind="stable")
    dets = dets[order]
    lines = [os.path.basename(image_relpath.replace("\\", "/")), str(len(dets))]
    for x1, y1, x2, y2, s in dets:
        lines.append(f"{x1:.3f} {y1:.3f} {x2 - x1:.3f} {y2 - y1:.3f} {s:.6f}")
    return "\n".join(lines) + "\n"


def _file_mode():
    """The mode ``open()`` would give a new file (0o666 less the umask); mkstemp's temp files are 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def write_text_atomic(path, text, fsync=True):
    """Write ``text`` to ``path`` through a uniquely named temp file beside it and a rename: readers never see half a
    file, concurrent writers never share a temp file, and an error leaves ``path`` as it was. ``fsync`` (default)
    makes the content durable before the rename; prediction files skip it, since their folder is replaced as a
    whole (``PredictionFolder``) and thousands of fsyncs would dominate an evaluation."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=os.path.splitext(path)[1], dir=folder)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_prediction(pred_dir, image_relpath, dets):
    """Write one image's detections in the official format; returns the path written.

    ``image_relpath`` is ``"<event>/<name>.jpg"``; ``dets`` an (N, 5) array ``[x1, y1, x2, y2, score]`` in
    original-image pixels. Lines are written in descending score order (stable), as the official MATLAB
    evaluator sorts them and the widely used Python evaluator assumes it. The file is written atomically.
    """
    return write_text_atomic(prediction_path(pred_dir, image_relpath), format_prediction(image_relpath, dets),
                             fsync=False)


class PredictionFolder:
    """Writes one complete prediction folder.

    Files go to ``<pred_dir>.partial/``, which replaces ``pred_dir`` only when the ``with`` block ends without
    an exception: files of an earlier run (another checkpoint, more images) never mix into a new evaluation,
    and an interrupted run leaves the previous complete folder in place (and its partial one for inspection).

    >>> with PredictionFolder("out/predictions") as folder:
    ...     for rel, dets in results:
    ...         folder.write(rel, dets)          # same arguments as write_prediction
    """

    def __init__(self, pred_dir):
        self.pred_dir = os.path.normpath(pred_dir)
        self.partial = self.pred_dir + ".partial"
        self.count = 0

    def __enter__(self):
        import shutil

        if os.path.exists(self.partial):
            shutil.rmtree(self.partial)
        os.makedirs(self.partial)
        return self

    def write(self, image_relpath, dets):
        path = write_prediction(self.partial, image_relpath, dets)
        self.count += 1
        return path

    def __exit__(self, exc_type, exc, tb):
        import shutil

        if exc_type is None:
            if os.path.exists(self.pred_dir):
                shutil.rmtree(self.pred_dir)
            os.replace(self.partial, self.pred_dir)
        return False


def parse_prediction_text(text, path="<prediction>"):
    """Parse the text of one prediction file into an (N, 5) float64 array ``x y w h score``."""
    lines = text.splitlines()
    # trailing blank lines are harmless
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise WiderFormatError(f"{_where(path, 1)}: empty prediction file (expected the image name on line 1)")
    if len(lines) < 2:
        raise WiderFormatError(f"{_where(path, 2)}: missing the detection count line")
    count_str = lines[1].strip()
    try:
        count_f = float(count_str)
    except ValueError:
        raise WiderFormatError(f"{_where(path, 2)}: detection count {count_str!r} is not a number") from None
    if not math.isfinite(count_f) or count_f < 0 or count_f != int(count_f):
        raise WiderFormatError(f"{_where(path, 2)}: detection count {count_str!r} is not a non-negative integer")
    count = int(count_f)
    body = lines[2:]
    if len(body) != count:
        raise WiderFormatError(
            f"{_where(path, 2)}: the count line says {count} detections but {len(body)} detection lines follow")
    if count == 0:
        return np.zeros((0, 5), dtype=np.float64)
    rows = [ln.split() for ln in body]
    for i, r in enumerate(rows):
        if len(r) != 5:
            raise WiderFormatError(
                f"{_where(path, i + 3)}: expected 5 columns 'x y w h score', found {len(r)}")
    try:
        arr = np.array(rows, dtype=np.float64)
    except ValueError:
        for i, r in enumerate(rows):
            for tok in r:
                try:
                    float(tok)
                except ValueError:
                    raise WiderFormatError(f"{_where(path, i + 3)}: {tok!r} is not a number") from None
        raise
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WiderFormatError(f"{_where(path, i + 3)}: NaN or infinite value in {' '.join(rows[i])!r}")
    neg = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise WiderFormatError(f"{_where(path, i + 3)}: negative width or height in {' '.join(rows[i])!r}")
    return arr


def read_prediction(path):
    """Read one prediction file: (N, 5) float64 ``x y w h score`` in file order."""
    with open(path, "r") as f:
        text = f.read()
    return parse_prediction_text(text, path)


def read_prediction_dir(pred_dir):
    """All prediction files of a folder: ``{event: {stem: (N, 5) array}}``."""
    if not os.path.isdir(pred_dir):
        raise WiderFormatError(f"{pred_dir}: prediction folder does not exist")
    out = {}
    for event in sorted(os.listdir(pred_dir)):
        edir = os.path.join(pred_dir, event)
        if not os.path.isdir(edir):
            continue
        files = {}
        for name in os.listdir(edir):
            if name.endswith(".txt"):
                files[name[:-4]] = read_prediction(os.path.join(edir, name))
        out[event] = files
    return out


# --------------------------------------------------------------------------------------------------
# wider_face_split/*.txt
# --------------------------------------------------------------------------------------------------
@dataclass
class SplitEntry:
    """One image of a ``wider_face_*_bbx_gt.txt`` file."""

    name: str                 # "<event>/<name>.jpg"
    boxes: np.ndarray         # (N, 4) int64 x y w h
    attrs: np.ndarray         # (N, 6) int64 blur expression illumination invalid occlusion pose
    line: int = 0             # 1-based line of the image name

    @property
    def event(self):
        return self.name.split("/")[0]


def read_split_file(path, with_attributes=True):
    """Parse ``wider_face_{train,val}_bbx_gt.txt`` (or the test list ``wider_face_test_filelist.txt``).

    Returns a list of :class:`SplitEntry`. An image written with count 0 and the official line of ten
    zeros yields an entry with no boxes. A file list without counts (the test split) yields entries with
    no boxes.
    """
    with open(path, "r") as f:
        lines = [ln.strip() for ln in f.read().splitlines()]
    entries: List[SplitEntry] = []
    i, n = 0, len(lines)
    while i < n:
        if not lines[i]:
            i += 1
            continue
        name = lines[i]
        name_line = i + 1
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            raise WiderFormatError(f"{_where(path, name_line)}: expected an image path, found {name!r}")
        if "/" not in name:
            raise WiderFormatError(f"{_where(path, name_line)}: image path {name!r} has no event folder")
        i += 1
        if i >= n or lines[i].lower().endswith((".jpg", ".jpeg", ".png")) or not lines[i]:
            # file list without counts (wider_face_test_filelist.txt)
            entries.append(SplitEntry(name, np.zeros((0, 4), np.int64), np.zeros((0, 6), np.int64), name_line))
            continue
        try:
            count = int(lines[i])
        except ValueError:
            raise WiderFormatError(f"{_where(path, i + 1)}: face count {lines[i]!r} is not an integer") from None
        if count < 0:
            raise WiderFormatError(f"{_where(path, i + 1)}: negative face count {count}")
        i += 1
        rows_to_read = max(count, 1)  # count 0 is followed by one line of zeros
        rows = []
        for k in range(rows_to_read):
            if i >= n:
                raise WiderFormatError(
                    f"{_where(path, i)}: file ends inside {name!r} ({count} faces announced, {k} found)")
            toks = lines[i].split()
            if len(toks) != 10 and not (len(toks) == 4 and not with_attributes):
                raise WiderFormatError(
                    f"{_where(path, i + 1)}: expected 10 columns "
                    f"'x y w h blur expression illumination invalid occlusion pose', found {len(toks)}")
            try:
                vals = [int(t) for t in toks]
            except ValueError:
                raise WiderFormatError(f"{_where(path, i + 1)}: non-integer value in {lines[i]!r}") from None
            if vals[2] < 0 or vals[3] < 0:
                raise WiderFormatError(f"{_where(path, i + 1)}: negative width or height in {lines[i]!r}")
            rows.append(vals)
            i += 1
        if count == 0:
            boxes = np.zeros((0, 4), np.int64)
            attrs = np.zeros((0, 6), np.int64)
        else:
            arr = np.array(rows, dtype=np.int64)
            boxes = arr[:, :4]
            attrs = arr[:, 4:10] if arr.shape[1] == 10 else np.zeros((len(arr), 6), np.int64)
        entries.append(SplitEntry(name, boxes, attrs, name_line))
    return entries


def write_split_file(path, entries: Sequence[SplitEntry]):
    """Write entries in the official ``wider_face_*_bbx_gt.txt`` format (with the zero-face quirk)."""
    out = []
    for e in entries:
        out.append(e.name)
        out.append(str(len(e.boxes)))
        if len(e.boxes) == 0:
            out.append("0 0 0 0 0 0 0 0 0 0 ")
        for b, a in zip(np.asarray(e.boxes, np.int64), np.asarray(e.attrs, np.int64)):
            out.append(" ".join(str(int(v)) for v in list(b) + list(a)) + " ")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# --------------------------------------------------------------------------------------------------
# Ground truth (.mat)
# --------------------------------------------------------------------------------------------------
@dataclass
class GroundTruth:
    """The WIDER val ground truth as the evaluator needs it."""

    events: List[str]
    files: List[List[str]]                      # per event, image stems
    boxes: List[List[np.ndarray]]               # per event, per image (N, 4) float64 x y w h
    keep: Dict[str, List[List[np.ndarray]]]     # setting -> per event, per image 1-based kept indices
    gt_dir: str = ""

    @property
    def num_images(self):
        return sum(len(f) for f in self.files)

    @property
    def num_faces(self):
        return sum(len(b) for ev in self.boxes for b in ev)

    def num_kept(self, setting):
        return sum(len(k) for ev in self.keep[setting] for k in ev)


def _cell_str(x):
    a = np.asarray(x)
    while a.dtype == object and a.size == 1:
        a = np.asarray(a.reshape(-1)[0])
    if a.size == 0:
        return ""
    return str(a.reshape(-1)[0]) if a.dtype.kind == "U" and a.ndim >= 1 else str(a)


def _cell_list(m, key, path):
    if key not in m:
        raise WiderFormatError(f"{path}: variable {key!r} is missing")
    v = m[key]
    if v.dtype != object:
        raise WiderFormatError(f"{path}: variable {key!r} is not a cell array")
    return v.reshape(-1)


def load_ground_truth(gt_dir, cache=True):
    """Load ``wider_{face,easy,medium,hard}_val.mat`` from ``gt_dir``.

    With ``cache`` (default) the parsed ground truth is kept in a cache keyed by the files' content
    (:mod:`widerface_eval.gtcache`): later loads of the same files skip ``scipy.io``; changed files are parsed
    again.
    """
    if not os.path.isdir(gt_dir):
        raise WiderFormatError(f"{gt_dir}: ground-truth folder does not exist")
    missing = [fn for fn in GT_FILES.values() if not os.path.isfile(os.path.join(gt_dir, fn))]
    if missing:
        raise WiderFormatError(f"{gt_dir}: ground-truth folder lacks {', '.join(missing)} "
                               f"(it needs {', '.join(GT_FILES.values())})")
    from . import gtcache

    if not cache or gtcache.cache_dir() is None:
        return _parse_ground_truth(gt_dir, {fn: os.path.join(gt_dir, fn) for fn in GT_FILES.values()})
    contents = gtcache.read_mat_files(gt_dir)
    key = gtcache.content_key(contents)
    gt = gtcache.load(key, gt_dir)
    if gt is None:
        import io as _io

        gt = _parse_ground_truth(gt_dir, {fn: _io.BytesIO(data) for fn, data in contents.items()})
        gtcache.store(key, gt)
    return gt


def _parse_ground_truth(gt_dir, sources):
    """Parse the four files; ``sources``: file name -> path or binary file object."""
    import scipy.io

    mats = {}
    for key, fn in GT_FILES.items():
        p = os.path.join(gt_dir, fn)
        try:
            mats[key] = scipy.io.loadmat(sources[fn])
        except Exception as exc:  # scipy raises several types for corrupt files
            raise WiderFormatError(f"{p}: not a readable MATLAB file ({exc})") from None
    face_path = os.path.join(gt_dir, GT_FILES["face"])
    m = mats["face"]
    ev_cells = _cell_list(m, "event_list", face_path)
    file_cells = _cell_list(m, "file_list", face_path)
    box_cells = _cell_list(m, "face_bbx_list", face_path)
    if not (len(ev_cells) == len(file_cells) == len(box_cells)):
        raise WiderFormatError(f"{face_path}: event_list, file_list and face_bbx_list differ in length")
    events = [_cell_str(e) for e in ev_cells]
    files, boxes = [], []
    for i, ev in enumerate(events):
        fl = np.asarray(file_cells[i], dtype=object).reshape(-1)
        bl = np.asarray(box_cells[i], dtype=object).reshape(-1)
        if len(fl) != len(bl):
            raise WiderFormatError(f"{face_path}: event {ev!r} has {len(fl)} files but {len(bl)} box lists")
        files.append([_cell_str(f) for f in fl])
        ev_boxes = []
        for j, b in enumerate(bl):
            b = np.asarray(b, dtype=np.float64)
            if b.size == 0:
                b = np.zeros((0, 4))
            if b.ndim != 2 or b.shape[1] != 4:
                raise WiderFormatError(f"{face_path}: box list of {ev}/{files[i][j]} has shape {b.shape}, "
                                       "expected (N, 4)")
            if not np.isfinite(b).all():
                raise WiderFormatError(f"{face_path}: box list of {ev}/{files[i][j]} holds NaN or inf")
            ev_boxes.append(b)
        boxes.append(ev_boxes)
    keep = {}
    for s in SETTINGS:
        p = os.path.join(gt_dir, GT_FILES[s])
        gl = _cell_list(mats[s], "gt_list", p)
        if len(gl) != len(events):
            raise WiderFormatError(f"{p}: gt_list has {len(gl)} events, {face_path} has {len(events)}")
        per_event = []
        for i in range(len(events)):
            cells = np.asarray(gl[i], dtype=object).reshape(-1)
            if len(cells) != len(files[i]):
                raise WiderFormatError(f"{p}: event {events[i]!r} has {len(cells)} keep lists, "
                                       f"expected {len(files[i])}")
            ev_keep = []
            for j, c in enumerate(cells):
                k = np.asarray(c, dtype=np.int64).reshape(-1)
                if k.size and (k.min() < 1 or k.max() > len(boxes[i][j])):
                    raise WiderFormatError(f"{p}: keep list of {events[i]}/{files[i][j]} indexes a face that "
                                           f"does not exist (1..{len(boxes[i][j])})")
                ev_keep.append(k)
            per_event.append(ev_keep)
        keep[s] = per_event
    return GroundTruth(events=events, files=files, boxes=boxes, keep=keep, gt_dir=gt_dir)


def _keep_array(k):
    k = np.asarray(k, dtype=np.int64).reshape(-1, 1)
    dtype = np.uint8 if (k.size == 0 or k.max() < 256) else np.uint16
    return k.astype(dtype)


def write_ground_truth(gt_dir, events, files, boxes, keep, attributes=None):
    """Write ``wider_{face,easy,medium,hard}_val.mat`` with the cell structure of the official files.

    ``events``: event names; ``files``: per event, image stems; ``boxes``: per event, per image (N, 4)
    ``x y w h``; ``keep``: setting -> per event, per image 1-based kept indices; ``attributes``: optional
    name (one of :data:`ATTRIBUTE_NAMES`) -> per event, per image (N,) labels (zeros when omitted).
    """
    import scipy.io

    os.makedirs(gt_dir, exist_ok=True)

    def cell(items):
        c = np.empty((len(items), 1), dtype=object)
        for i, it in enumerate(items):
            c[i, 0] = it
        return c

    base = {
        "event_list": cell([np.array([e]) for e in events]),
        "file_list": cell([cell([np.array([f]) for f in fl]) for fl in files]),
        "face_bbx_list": cell([cell([np.asarray(b, dtype=np.int32).reshape(-1, 4) for b in ev]) for ev in boxes]),
    }
    for name in ATTRIBUTE_NAMES:
        per_event = []
        for i, ev in enumerate(boxes):
            labels = []
            for j, b in enumerate(ev):
                n = len(np.asarray(b).reshape(-1, 4))
                a = attributes[name][i][j] if attributes and name in attributes else np.zeros(n)
                labels.append(np.asarray(a, dtype=np.uint8).reshape(-1, 1))
            per_event.append(cell(labels))
        base[f"{name}_label_list"] = cell(per_event)
    scipy.io.savemat(os.path.join(gt_dir, GT_FILES["face"]), base)
    for s in SETTINGS:
        d = dict(base)
        d["gt_list"] = cell([cell([_keep_array(k) for k in ev]) for ev in keep[s]])
        scipy.io.savemat(os.path.join(gt_dir, GT_FILES[s]), d)
    return gt_dir
