"""Batch reader of prediction files: many files parsed at once, with exactly the result of
:func:`widerface_eval.io.parse_prediction_text` on each file.

Exactness rule: a file is parsed by the vectorised path only when everything about it is known to be read the
same way by the plain parser; anything else (and every malformed file) goes through the plain parser itself, so
values, accepted files and error messages (``file:line: what``) are those of the plain parser by construction.

The vectorised path, on a group of files joined into one buffer:

1. per file (Python, cheap): ASCII text whose carriage returns, if any, are all in CRLF line ends (read as
   ``\n``, as the plain reader's universal newlines read them); line 1 (the image name) free of the characters
   that ``str.splitlines`` would also split on; line 2 a plain decimal count; the body (trailing blank lines
   dropped, as the plain parser drops them) has exactly ``count`` lines;
2. the body bytes are ``0-9 . - + e E``, space, tab and newline only; every line holds exactly 5 tokens;
3. a token ``[-]digits[.digits]`` of at most 16 characters with at most 15 digits is converted exactly with
   integer arithmetic on its bytes, 8 at a time in one 64-bit word (SWAR): the integer ``m`` of its digits and
   the number ``f`` of its fraction digits give ``m / 10**f``, one correctly rounded IEEE division of two
   exactly represented numbers (``m < 2**53``, ``f <= 15``), hence the same double as ``float(token)``, negated
   for a leading '-'; any other token (exponent, '+', more digits) is converted by
   ``numpy.array(tokens, dtype=float64)``, the very conversion the plain parser uses;
4. every value finite and every width and height >= 0.

A file that fails any check is re-read by the plain parser, in file order, so the first error raised is the one
the plain parser raises first.
"""

import io
import os
import re
import stat

import numpy as np

from .io import parse_prediction_text

# A group of files is joined into one buffer of about this many bytes (fits the L2 cache with its temporaries).
CHUNK_BYTES = 1 << 18

_U = np.uint64
_ALL = (1 << 64) - 1
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_PAD = 16                        # spaces before the first token: a 16-byte window never starts before the buffer
_ALLOWED = b"0123456789.-+eE \t\n"
_SPLITLINES_EXTRA = re.compile(rb"[\r\x0b\x0c\x1c\x1d\x1e]")   # str.splitlines also splits here
_TRAILING_BLANK = frozenset(b" \t\n")


def _bytes_mask(positions):
    m = 0
    for p in positions:
        m |= 0xFF << (8 * p)
    return m


def _rep(c):
    return _U(c * 0x0101010101010101)


# One 8-byte little-endian word: byte k of the word is character k, so the token's last character is byte 7
# when the word ends at the token's end.
_MASK8 = np.array([_bytes_mask(range(8 - n, 8)) for n in range(9)], dtype=_U)        # token of n <= 8 chars
_BELOW8 = np.array([_bytes_mask(range(k)) for k in range(8)] + [0], dtype=_U)       # dot at k; 8 = no dot
_ABOVE8 = np.array([_bytes_mask(range(k + 1, 8)) for k in range(8)] + [_ALL], dtype=_U)
_P10 = np.array([10.0 ** k for k in range(23)])   # exact doubles
_DIV8 = np.array([10.0 ** (7 - k) for k in range(8)] + [1.0])   # dot at byte k of a word: 7 - k fraction digits
_C0F, _C10, _C2E, _C7F, _C80, _ONES = _rep(0x0F), _rep(0x10), _rep(0x2E), _rep(0x7F), _rep(0x80), _rep(0x01)


def _swar_popcount(x):
    """Set bits of each uint64 (for NumPy < 2.0, which has no ``bitwise_count``)."""
    x = x - ((x >> _U(1)) & _U(0x5555555555555555))
    x = (x & _U(0x3333333333333333)) + ((x >> _U(2)) & _U(0x3333333333333333))
    x = (x + (x >> _U(4))) & _U(0x0F0F0F0F0F0F0F0F)
    return (x * _ONES) >> _U(56)


_popcount = getattr(np, "bitwise_count", _swar_popcount)


def _eight_digits(v):
    """The integer of 8 digit values (one per byte, first digit in the lowest byte)."""
    v = ((v * _U(2561)) >> _U(8)) & _U(0x00FF00FF00FF00FF)
    v = ((v * _U(6553601)) >> _U(16)) & _U(0x0000FFFF0000FFFF)
    return (v * _U(42949672960001)) >> _U(32)


def _word_flags(x):
    """For words of token characters (other bytes zeroed): the digit flags (0x10 of each digit byte; within the
    allowed characters exactly the digits have bit 4 set) and the dot flags (0x80 of each '.' byte)."""
    y = x ^ _C2E
    return x & _C10, ~(((y & _C7F) + _C7F) | y) & _C80


def _drop_dot(v, k):
    """Digit values with the dot at byte ``k`` deleted: the bytes below it move up one byte (k = 8: no dot)."""
    return (v & _ABOVE8[k]) | ((v & _BELOW8[k]) << _U(8))


def _short_tokens(u64, ends, n, neg):
    """Tokens of 1..8 characters ending at ``ends``: (values without the sign, ok).

    The word is masked to the token without its leading '-', so it holds digits and at most one dot: the digit
    values are the low nibbles, the dot is deleted, and ``m / 10**f`` is the value.
    """
    n = n - neg
    x = u64[ends - 8] & _MASK8[n]
    digits, dot = _word_flags(x)
    dot_m1 = dot - _U(1)
    ok = (_popcount(digits | dot) == n) & (digits != 0) & ((dot & dot_m1) == 0)
    k = (_popcount(dot_m1) >> _U(3)).astype(np.intp)     # byte of the dot, 8 when there is none
    return _eight_digits(_drop_dot(x & _C0F, k)).astype(np.float64) / _DIV8[k], ok


def _long_tokens(u64, ends, n, neg):
    """Tokens of 9..16 characters: the same on two words (first 8 bytes ``lo``, last 8 ``hi``), <= 15 digits."""
    n = n - neg
    hi = u64[ends - 8]
    lo = u64[ends - 16] & _MASK8[n - 8]
    d_hi, dot_hi = _word_flags(hi)
    d_lo, dot_lo = _word_flags(lo)
    nd = _popcount(d_hi) + _popcount(d_lo)
    ndot = _popcount(dot_hi) + _popcount(dot_lo)
    ok = (nd + ndot == n) & (ndot <= 1) & (nd >= 1) & (nd <= 15)
    k_hi = (_popcount(dot_hi - _U(1)) >> _U(3)).astype(np.intp)
    k_lo = (_popcount(dot_lo - _U(1)) >> _U(3)).astype(np.intp)
    in_hi = k_hi < 8
    v_hi, v_lo = hi & _C0F, lo & _C0F
    # dot in hi: hi drops it, lo's top byte enters hi byte 0, lo moves up a byte; dot in lo: lo drops it
    v_hi = np.where(in_hi, _drop_dot(v_hi, k_hi) | (v_lo >> _U(56)), v_hi)
    v_lo = np.where(in_hi, v_lo << _U(8), _drop_dot(v_lo, k_lo))
    frac = np.where(in_hi, 7 - k_hi, np.where(k_lo < 8, 15 - k_lo, 0))
    m = _eight_digits(v_lo) * _U(100000000) + _eight_digits(v_hi)
    return m.astype(np.float64) / _P10[frac], ok


def _parse_body_buffer(buf, n_lines):
    """Parse the joined bodies (``_PAD`` spaces, lines of 5 tokens, 8 spaces) into an (n_lines, 5) array.

    Returns ``(values, bad_lines)``: ``bad_lines`` is None when every line is good, else a boolean mask of the
    lines to re-read with the plain parser (the values of those lines are meaningless), or ``"all"`` when the
    line structure itself is off.
    """
    u8 = np.frombuffer(buf, np.uint8)
    u64 = np.ndarray(shape=(len(buf) - 7,), dtype=np.uint64, buffer=buf, strides=(1,))
    ws = u8[_PAD - 1:len(buf) - 8] < 43           # allowed bytes below '+' are the separators
    tr = np.flatnonzero(ws[1:] != ws[:-1])
    tr += _PAD
    starts, ends = tr[0::2], tr[1::2]
    if len(starts) != 5 * n_lines:
        return None, "all"
    if n_lines:
        if not ((starts[1:] - ends[:-1] == 1).all() and _single_separators_ok(u8, ends)):
            nl = np.flatnonzero(u8 == 10)
            if len(nl) != n_lines or not ((ends[4::5] <= nl).all() and (nl[:-1] < starts[5::5]).all()):
                return None, "all"
    n = ends - starts
    neg = u8[starts] == 45
    values = np.empty(len(starts))
    ok = np.empty(len(starts), dtype=bool)
    short = n <= 8
    if short.all():
        values[:], ok[:] = _short_tokens(u64, ends, n, neg)
    else:
        idx = np.flatnonzero(short)
        values[idx], ok[idx] = _short_tokens(u64, ends[idx], n[idx], neg[idx])
        idx = np.flatnonzero(~short & (n <= 16))
        values[idx], ok[idx] = _long_tokens(u64, ends[idx], n[idx], neg[idx])
        ok[n > 16] = False
    np.negative(values, out=values, where=neg)
    if not ok.all():
        idx = np.flatnonzero(~ok)
        tokens = [buf[s:e].decode("ascii") for s, e in zip(starts[idx].tolist(), ends[idx].tolist())]
        try:
            values[idx] = np.array(tokens, dtype=np.float64)
        except ValueError:
            return None, "all"
    values = values.reshape(-1, 5)
    bad = ~np.isfinite(values).all(axis=1) if not ok.all() else None
    neg_wh = (values[:, 2] < 0) | (values[:, 3] < 0)
    if neg_wh.any():
        bad = neg_wh if bad is None else bad | neg_wh
    if bad is not None and not bad.any():
        bad = None
    return values, bad


def _single_separators_ok(u8, ends):
    """With one separator byte between tokens: a newline after every fifth token and nowhere else."""
    sep = u8[ends].reshape(-1, 5)
    return bool((sep[:, 4] == 10).all() and (sep[:, :4] != 10).all())


def _split_file(data):
    """``(count, body)`` when the file qualifies for the vectorised path, else None (see the module doc).

    ``body``: the detection lines without trailing blank lines, a view into ``data`` (no copy). A file whose
    only carriage returns are in CRLF line ends reads as the plain reader's universal newlines read it.
    """
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n"):
            return None
        data = data.replace(b"\r\n", b"\n")
    n1 = data.find(b"\n")
    if n1 < 0 or not data.isascii() or _SPLITLINES_EXTRA.search(data, 0, n1):
        return None
    n2 = data.find(b"\n", n1 + 1)
    if n2 < 0:
        n2 = len(data)
    count = data[n1 + 1:n2].strip(b" \t")
    if not count.isdigit():
        return None
    count = int(count)
    end = len(data)
    while end > n2 + 1 and data[end - 1] in _TRAILING_BLANK:
        end -= 1
    lines = data.count(b"\n", n2 + 1, end) + 1 if end > n2 + 1 else 0
    if lines != count:
        return None
    return count, memoryview(data)[n2 + 1:end]


def _plain(path, data):
    """The plain parser on ``data`` decoded as ``open(path, "r")`` decodes it (locale encoding, universal
    newlines)."""
    text = io.TextIOWrapper(io.BytesIO(data)).read()
    return parse_prediction_text(text, path)


def parse_files(paths, datas):
    """Parse the contents ``datas`` (bytes; None for a missing file) of the prediction files ``paths``.

    Returns ``(values, counts)``: ``values`` (N, 5) float64 ``x y w h score`` of all files in order, ``counts``
    the number of lines of each file (0 for a missing one). Raises what the plain parser raises, for the first
    malformed file in order.
    """
    counts = np.zeros(len(paths), dtype=np.int64)
    pieces = []
    start = 0
    while start < len(paths):
        stop, size = start, 0
        while stop < len(paths) and (size < CHUNK_BYTES or stop == start):
            size += len(datas[stop]) if datas[stop] is not None else 0
            stop += 1
        pieces.append(_parse_group(paths, datas, start, stop, counts))
        start = stop
    values = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
    return values, counts


def _parse_group(paths, datas, start, stop, counts):
    fast = []           # (file index, line count)
    bodies = [b" " * _PAD]
    slow = set()
    for i in range(start, stop):
        data = datas[i]
        if data is None:
            continue
        split = _split_file(data)
        if split is None:
            slow.add(i)
            continue
        count, body = split
        fast.append((i, count))
        if count:
            bodies.append(body)
            bodies.append(b"\n")
    bodies.append(b" " * 8)
    buf = b"".join(bodies)
    n_lines = sum(c for _, c in fast)
    values, bad = None, None
    if fast:
        if buf.translate(None, _ALLOWED):
            bad = "all"
        else:
            values, bad = _parse_body_buffer(buf, n_lines)
    if bad is not None:
        if isinstance(bad, str):   # find the files at fault one by one
            return _parse_group_per_file(paths, datas, start, stop, counts, slow | {i for i, _ in fast})
        line_file = np.repeat(np.array([i for i, _ in fast]), [c for _, c in fast])
        slow |= set(line_file[bad].tolist())
    if not slow:
        for i, c in fast:
            counts[i] = c
        return values if values is not None else np.zeros((0, 5))
    # splice: fast files' rows in place, the others re-read by the plain parser, in file order
    out, row = [], 0
    fast_rows = dict(fast)
    for i in range(start, stop):
        if i in slow:
            arr = _plain(paths[i], datas[i])
            counts[i] = len(arr)
            out.append(arr)
        elif i in fast_rows:
            c = fast_rows[i]
            out.append(values[row:row + c])
            counts[i] = c
            row += c
    return np.concatenate(out) if out else np.zeros((0, 5))


def _parse_group_per_file(paths, datas, start, stop, counts, present):
    """Each present file of the group alone: vectorised when it passes, else the plain parser."""
    out = []
    for i in range(start, stop):
        if i not in present:
            continue
        arr = None
        split = _split_file(datas[i])
        if split is not None:
            count, body = split
            buf = b"".join([b" " * _PAD, body, b"\n" if count else b"", b" " * 8])
            if not buf.translate(None, _ALLOWED):
                values, bad = _parse_body_buffer(buf, count)
                if bad is None:
                    arr = values if values is not None else np.zeros((0, 5))
        if arr is None:
            arr = _plain(paths[i], datas[i])
        counts[i] = len(arr)
        out.append(arr)
    return np.concatenate(out) if out else np.zeros((0, 5))


def read_file(path):
    """The bytes of ``path``; None when it is not a regular file (where ``os.path.isfile`` is False).

    Non-blocking open: a FIFO is reported absent instead of waiting for a writer.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        parts = []
        want = st.st_size + 1
        while True:
            b = os.read(fd, want)
            if not b:
                break
            parts.append(b)
            want = 1 << 16
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)
