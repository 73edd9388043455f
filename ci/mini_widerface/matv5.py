"""Minimal MATLAB 5 / 7 (compressed) MAT-file writer and structure reader.

``scipy.io.savemat`` cannot reproduce the real WIDER FACE ground-truth files exactly: MATLAB stores the
``gt_list`` index vectors as class ``double`` but with the *data* packed as ``uint8`` / ``uint16`` (MATLAB's
compact storage).  ``scipy.io.loadmat`` returns the stored data type, so the official Python evaluator gets
integer arrays it can index with (``ignore[keep_index - 1] = 1``).  A file written by scipy with float64 data
would load as float64 and break that indexing.  This module therefore writes the MAT elements itself,
mirroring MATLAB's encoding choices observed in ``wider_{face,easy,medium,hard}_val.mat``:

* every top-level variable is one ``miCOMPRESSED`` (zlib) element holding one ``miMATRIX``;
* variables are written in the order given (MATLAB's ``save`` writes them sorted by name);
* array names use a full 8-byte ``miINT8`` tag (also for the empty names of cell elements);
* numeric data of 1..4 bytes uses the small-data-element format, empty data a full tag with 0 bytes;
* strings are ``char`` row vectors (1 x n) stored as ``miUTF8``;
* ``double`` arrays holding non-negative integers are packed into the smallest unsigned integer type.

The reader (``read_structure``) decodes the same elements without converting them, so tests can compare
MATLAB class, storage type and dimensions of two files node by node.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

# MAT-file data types (mi*) and array classes (mx*)
MI_INT8, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32 = 1, 2, 3, 4, 5, 6
MI_SINGLE, MI_DOUBLE, MI_INT64, MI_UINT64 = 7, 9, 12, 13
MI_MATRIX, MI_COMPRESSED, MI_UTF8 = 14, 15, 16
MX_CELL, MX_CHAR, MX_DOUBLE, MX_UINT8, MX_INT32 = 1, 4, 6, 9, 12

MI_NAMES = {MI_INT8: "int8", MI_UINT8: "uint8", MI_INT16: "int16", MI_UINT16: "uint16", MI_INT32: "int32",
            MI_UINT32: "uint32", MI_SINGLE: "single", MI_DOUBLE: "double", MI_INT64: "int64",
            MI_UINT64: "uint64", MI_MATRIX: "matrix", MI_COMPRESSED: "compressed", MI_UTF8: "utf8",
            17: "utf16", 18: "utf32"}
MX_NAMES = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse", 6: "double", 7: "single", 8: "int8",
            9: "uint8", 10: "int16", 11: "uint16", 12: "int32", 13: "uint32", 14: "int64", 15: "uint64"}
_MI_DTYPE = {MI_INT8: "<i1", MI_UINT8: "<u1", MI_INT16: "<i2", MI_UINT16: "<u2", MI_INT32: "<i4",
             MI_UINT32: "<u4", MI_SINGLE: "<f4", MI_DOUBLE: "<f8", MI_INT64: "<i8", MI_UINT64: "<u8"}

HEADER_TEXT = "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Fri Mar 31 13:42:13 2017"


# --------------------------------------------------------------------------------------------- nodes
class Cell:
    """A MATLAB cell array; ``items`` in column-major order, ``dims`` its size (default n x 1)."""

    def __init__(self, items, dims=None):
        self.items = list(items)
        self.dims = tuple(dims) if dims is not None else (len(self.items), 1)
        if int(np.prod(self.dims)) != len(self.items):
            raise ValueError(f"cell dims {self.dims} do not match {len(self.items)} items")


class Char:
    """A MATLAB char row vector."""

    def __init__(self, text: str):
        self.text = str(text)


class Numeric:
    """A numeric MATLAB array: ``mx_class`` (MX_DOUBLE, MX_UINT8, MX_INT32, ...) and the data type the values
    are stored with (``mi_type``); ``array`` is 2-D, written column-major."""

    def __init__(self, array, mx_class: int, mi_type: int):
        a = np.asarray(array)
        if a.ndim != 2:
            raise ValueError("MAT arrays must be 2-D here")
        self.array, self.mx_class, self.mi_type = a, mx_class, mi_type


def double_compact(array) -> Numeric:
    """A ``double`` array stored the way MATLAB stores integer-valued doubles (smallest unsigned type)."""
    a = np.asarray(array)
    if a.size == 0:
        return Numeric(a.reshape(a.shape), MX_DOUBLE, MI_UINT8)
    if np.any(a < 0) or np.any(a != np.round(a)):
        return Numeric(a.astype(np.float64), MX_DOUBLE, MI_DOUBLE)
    top = int(a.max())
    mi = MI_UINT8 if top <= 0xFF else MI_UINT16 if top <= 0xFFFF else MI_UINT32 if top <= 0xFFFFFFFF else MI_DOUBLE
    return Numeric(a, MX_DOUBLE, mi)


# --------------------------------------------------------------------------------------------- writer
def _pad8(n: int) -> int:
    return (8 - n % 8) % 8


def _element(mi_type: int, payload: bytes, allow_small: bool = True) -> bytes:
    n = len(payload)
    if allow_small and 0 < n <= 4:
        return struct.pack("<HH", mi_type, n) + payload + b"\0" * (4 - n)
    return struct.pack("<II", mi_type, n) + payload + b"\0" * _pad8(n)


def _matrix(node, name: str = "") -> bytes:
    if isinstance(node, Cell):
        mx, dims = MX_CELL, node.dims
    elif isinstance(node, Char):
        mx, dims = MX_CHAR, (1, len(node.text))
    elif isinstance(node, Numeric):
        mx, dims = node.mx_class, node.array.shape
    else:
        raise TypeError(f"cannot write {type(node).__name__} to a MAT file")
    body = _element(MI_UINT32, struct.pack("<II", mx, 0), allow_small=False)
    body += _element(MI_INT32, struct.pack(f"<{len(dims)}i", *dims), allow_small=False)
    body += _element(MI_INT8, name.encode("ascii"), allow_small=False)
    if isinstance(node, Cell):
        body += b"".join(_matrix(item) for item in node.items)
    elif isinstance(node, Char):
        body += _element(MI_UTF8, node.text.encode("utf-8"))
    else:
        data = np.asarray(node.array, order="F").ravel(order="F").astype(_MI_DTYPE[node.mi_type]).tobytes()
        body += _element(node.mi_type, data)
    return struct.pack("<II", MI_MATRIX, len(body)) + body


def header_bytes(text: str = HEADER_TEXT) -> bytes:
    raw = text.encode("ascii")[:116]
    return raw + b" " * (116 - len(raw)) + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"


def dumps(variables, header_text: str = HEADER_TEXT) -> bytes:
    """Serialise ``[(name, node), ...]`` (in that order) into MAT-file bytes (deterministic)."""
    out = [header_bytes(header_text)]
    for name, node in variables:
        comp = zlib.compress(_matrix(node, name), 6)
        out.append(struct.pack("<II", MI_COMPRESSED, len(comp)) + comp)
    return b"".join(out)


def save(path, variables, header_text: str = HEADER_TEXT) -> None:
    with open(path, "wb") as fh:
        fh.write(dumps(variables, header_text))


# --------------------------------------------------------------------------------------------- reader
def _tag(buf: bytes, pos: int):
    t, n = struct.unpack_from("<II", buf, pos)
    if t >> 16:  # small data element
        return t & 0xFFFF, t >> 16, pos + 4, pos + 8
    end = pos + 8 + n if t == MI_COMPRESSED else pos + 8 + n + _pad8(n)
    return t, n, pos + 8, end


def _read_matrix(buf: bytes, pos: int, end: int) -> dict:
    node = {}
    _, _, d, pos = _tag(buf, pos)
    flags = struct.unpack_from("<II", buf, d)[0]
    node["class"] = MX_NAMES.get(flags & 0xFF, str(flags & 0xFF))
    node["flags"] = flags >> 8
    _, n, d, pos = _tag(buf, pos)
    node["dims"] = struct.unpack_from(f"<{n // 4}i", buf, d)
    _, n, d, pos = _tag(buf, pos)
    node["name"] = buf[d:d + n].decode("ascii")
    if node["class"] == "cell":
        items = []
        while pos < end:
            t, n, d, e = _tag(buf, pos)
            items.append(_read_matrix(buf, d, d + n))
            pos = e
        node["items"] = items
    else:
        t, n, d, pos = _tag(buf, pos)
        node["type"] = MI_NAMES.get(t, str(t))
        raw = buf[d:d + n]
        if node["class"] == "char":
            node["value"] = raw.decode("utf-8") if t == MI_UTF8 else np.frombuffer(raw, _MI_DTYPE[t]).tobytes()
        else:
            node["value"] = np.frombuffer(raw, _MI_DTYPE[t]).reshape(node["dims"], order="F")
        node["complex"] = pos < end
    return node


def read_structure(path) -> tuple[bytes, list[dict]]:
    """Decode a MAT-5 file into (header, [variable nodes]) keeping MATLAB classes and storage types."""
    with open(path, "rb") as fh:
        buf = fh.read()
    if len(buf) < 128 or buf[126:128] != b"IM":
        raise ValueError(f"{path}: not a little-endian MAT-5 file")
    pos, out = 128, []
    while pos < len(buf):
        t, n, d, e = _tag(buf, pos)
        if t == MI_COMPRESSED:
            raw = zlib.decompress(buf[d:d + n])
            _, n2, d2, _ = _tag(raw, 0)
            out.append(_read_matrix(raw, d2, d2 + n2))
        elif t == MI_MATRIX:
            out.append(_read_matrix(buf, d, d + n))
        else:
            raise ValueError(f"{path}: unexpected top-level element type {t}")
        pos = e
    return buf[:128], out


def node_signature(node: dict, depth: int = 0):
    """The encoding signature of one node (what must match between our files and the real ones)."""
    sig = (depth, node["class"], node.get("type"), len(node["dims"]), node["flags"], node["name"], node.get("complex"))
    return sig
