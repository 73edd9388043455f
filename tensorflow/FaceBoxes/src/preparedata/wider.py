"""The official WIDER FACE split files (``wider_face_{train,val}_bbx_gt.txt``), read with the zoo's shared parser
``widerface_eval.read_split_file`` (official format, incl. the line of zeros after a 0-face image); a malformed line
is a ``DataError`` with ``file:line: what is wrong``."""
import os

from widerface_eval import WiderFormatError, read_split_file

from src.errors import DataError

__all__ = ["read_bbx_gt"]


def read_bbx_gt(path):
    """Returns a list of (relpath "event/name.jpg", boxes [[x, y, w, h], ...] as ints, invalid flags [0/1, ...])."""
    if not os.path.isfile(path):
        raise DataError("%s: WIDER split file not found" % path)
    try:
        return [(e.name, e.boxes.tolist(), e.attrs[:, 3].tolist()) for e in read_split_file(path)]
    except WiderFormatError as e:
        raise DataError(str(e)) from None
