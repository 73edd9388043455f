"""Reader of the official WIDER FACE split files (``wider_face_{train,val}_bbx_gt.txt``)."""
import os


class WiderFormatError(ValueError):
    """A malformed line in a WIDER split file; the message is ``file:line: what is wrong``."""


def read_bbx_gt(path):
    """Parse a ``wider_face_*_bbx_gt.txt`` file.

    Returns a list of (relpath "event/name.jpg", boxes [[x, y, w, h], ...] as ints, invalid flags [0/1, ...]).
    An image with 0 faces is followed by one line of zeros in the official files (that line is consumed, no box).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError("%s: WIDER split file not found" % path)
    with open(path) as f:
        lines = [ln.strip() for ln in f]
    entries = []
    i = 0
    n_lines = len(lines)
    while i < n_lines:
        name = lines[i]
        if not name:
            i += 1
            continue
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            raise WiderFormatError("%s:%d: expected an image path, got %r" % (path, i + 1, name[:80]))
        if i + 1 >= n_lines:
            raise WiderFormatError("%s:%d: missing the face count after %r" % (path, i + 2, name))
        try:
            count = int(lines[i + 1])
        except ValueError:
            raise WiderFormatError("%s:%d: expected a face count, got %r" % (path, i + 2, lines[i + 1][:80]))
        if count < 0:
            raise WiderFormatError("%s:%d: negative face count %d" % (path, i + 2, count))
        boxes, invalid = [], []
        if count == 0:
            # the official files follow a 0-face image with one line of zeros; tolerate its absence
            nxt = lines[i + 2] if i + 2 < n_lines else ""
            rows = 0 if (not nxt or nxt.lower().endswith((".jpg", ".jpeg", ".png"))) else 1
        else:
            rows = count
        for k in range(rows):
            ln = i + 2 + k
            if ln >= n_lines:
                raise WiderFormatError("%s:%d: file ends inside the box list of %s" % (path, ln + 1, name))
            parts = lines[ln].split()
            if len(parts) < 4:
                raise WiderFormatError("%s:%d: expected 'x y w h ...', got %r" % (path, ln + 1, lines[ln][:80]))
            try:
                vals = [int(float(v)) for v in parts]
            except ValueError:
                raise WiderFormatError("%s:%d: non-numeric box values %r" % (path, ln + 1, lines[ln][:80]))
            if count == 0:
                continue
            boxes.append(vals[:4])
            invalid.append(vals[7] if len(vals) > 7 else 0)
        entries.append((name, boxes, invalid))
        i += 2 + rows
    return entries
