"""The batch reader accepts and rejects exactly what the plain parser does, with the same values and messages."""

import os

import numpy as np
import pytest

import test_io_cli
import widerface_eval as we
from widerface_eval import reader


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # compared by type and message
        return ("error", type(exc), str(exc))


def _same(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == "error":
        return a[1:] == b[1:]
    x, y = a[1], b[1]
    return x.shape == y.shape and np.array_equal(x, y) and np.array_equal(np.signbit(x), np.signbit(y))


def _write_raw(d, name, data):
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def _batch(paths):
    datas = [reader.read_file(p) for p in paths]
    values, counts = reader.parse_files(paths, datas)
    return values, counts


def _plain_batch(paths):
    """What the plain reader gives for the same files: values in order, or the first file's error."""
    arrays = [we.read_prediction(p) if os.path.isfile(p) else np.zeros((0, 5)) for p in paths]
    return np.concatenate(arrays), np.array([len(a) for a in arrays])


def _check_each_and_batch(paths):
    for p in paths:
        got = _outcome(lambda: _batch([p])[0])
        want = _outcome(lambda: we.read_prediction(p))
        assert _same(got, want), (p, open(p, "rb").read()[:300], got, want)
    got, want = _outcome(lambda: _batch(paths)), _outcome(lambda: _plain_batch(paths))
    assert got[0] == want[0] and (got[1:] == want[1:] if got[0] == "error" else
                                  _same(("ok", got[1][0]), ("ok", want[1][0])) and
                                  np.array_equal(got[1][1], want[1][1]))


FORMATS = [
    lambda v: f"{v:.0f}", lambda v: f"{v:.1f}", lambda v: f"{v:.3f}", lambda v: f"{v:.6f}", lambda v: f"{v:.12f}",
    lambda v: repr(v), lambda v: f"{v:e}", lambda v: f"{v:g}", lambda v: f"{v:.15g}", lambda v: f"{v:+.2f}",
    lambda v: f"{np.float32(v)}", lambda v: f"{int(v)}", lambda v: f"{v:012.4f}", lambda v: f"{v:.20f}",
]


def test_numbers_in_every_format_are_read_exactly(tmp_path):
    """Valid files, one per number format, many magnitudes: the same doubles as float() via the plain parser."""
    rng = np.random.default_rng(0)
    paths = []
    for k, fmt in enumerate(FORMATS):
        mags = 10.0 ** rng.integers(-8, 9, 400)
        xy = rng.uniform(-1, 1, (400, 2)) * mags[:, None]
        wh = rng.uniform(0, 1, (400, 2)) * mags[:, None]
        s = rng.random(400) * 10.0 ** rng.integers(-6, 1, 400)
        rows = np.concatenate([xy, wh, s[:, None]], 1)
        lines = [" ".join(fmt(float(v)) for v in r) for r in rows]
        paths.append(_write_raw(str(tmp_path), f"f{k}.txt", f"img_{k}.jpg\n{len(lines)}\n{chr(10).join(lines)}\n"
                                .encode()))
    _check_each_and_batch(paths)
    values, counts = _batch(paths)
    assert counts.tolist() == [400] * len(FORMATS)
    # spot check against float() directly
    text = open(paths[2]).read().splitlines()[2:]
    assert values[400 * 2:400 * 3].tolist() == [[float(t) for t in ln.split()] for ln in text]


def test_token_edge_cases(tmp_path):
    tokens = ["0", "-0", "007", ".5", "5.", "-.5", "-5.", "12345678", "1234567.8", "123456789", "-1234567.8",
              "123456789012345", "1234567890.12345", "1234567890123456", "0.000000000000001", "99999999.9999999",
              "+1", "1e5", "1E-5", "-1.5e+3", "0.1234567890123456789", "1_0", "1.2.3", "--1", "1-2", "-", ".",
              "e5", "1e", "0x10", "nan", "inf", "-inf", "1e999", "+-1", "1..", "..1", "-.", "+.5", "٣"]
    paths = []
    for k, t in enumerate(tokens):
        for pos in range(5):       # the token in each column; -0 and similar also as width/height
            row = ["1", "2", "3", "4", "0.5"]
            row[pos] = t
            paths.append(_write_raw(str(tmp_path), f"t{k}_{pos}.txt", f"a.jpg\n1\n{' '.join(row)}\n".encode()))
    for p in paths:
        got, want = _outcome(lambda: _batch([p])[0]), _outcome(lambda: we.read_prediction(p))
        assert _same(got, want), (open(p, "rb").read(), got, want)


def test_structure_edge_cases(tmp_path):
    bodies = [
        b"a.jpg\n2\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n2\n1 2 3 4 0.5\n5 6 7 8 0.25",                 # no final newline
        b"a.jpg\n2\n1 2 3 4 0.5 \n5 6 7 8 0.25 \n",             # trailing space (Pytorch_Retinaface)
        b"a.jpg\n2\n  1\t2  3 4 0.5\n5 6 7 8\t0.25\n\n \n\t\n",   # tabs, runs of blanks, trailing blank lines
        b"a.jpg\n2\r\n1 2 3 4 0.5\r\n5 6 7 8 0.25\r\n",         # CRLF
        b"a.jpg\r2\r1 2 3 4 0.5\r5 6 7 8 0.25\r",               # CR only
        b"a.jpg\n2\n1 2 3 4 0.5\n\n5 6 7 8 0.25\n",             # blank line inside
        b"a.jpg\n 2 \n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n02\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n2.0\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n+2\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n2e0\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n-2\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n2.5\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n3\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n1\n1 2 3 4 0.5\n5 6 7 8 0.25\n",
        b"a.jpg\n0\n",
        b"a.jpg\n0",
        b"a.jpg\n0\n\n\n",
        b"a.jpg\n",
        b"a.jpg",
        b"",
        b"\n0\n",
        b"\n\n1 2 3 4 0.5\n",
        b"a\x0bb.jpg\n1\n1 2 3 4 0.5\n",                       # str.splitlines splits at \x0b
        b"a\x1cb.jpg\n1\n1 2 3 4 0.5\n",
        "ü.jpg\n1\n1 2 3 4 0.5\n".encode(),                     # UTF-8 image name
        b"\xff.jpg\n1\n1 2 3 4 0.5\n",                          # not UTF-8
        b"a.jpg\n1\n1 2 3 4 0.5\x00\n",
        b"a.jpg\n1\n1 2 3 4 0.5\x0c\n",
        b"a.jpg\n1\n1 2 3 4 0.5\x1f\n",                          # str.split() separator, not a line break
        b"a.jpg\n1\n1,2,3,4,0.5\n",
        b"a.jpg\n1\n1 2 3 4 0.5 6\n",
        b"a.jpg\n1\n1 2 3 4\n",
        b"a.jpg\n2\n1 2 3 4 0.5 5\n6 7 8 0.25\n",               # 6 + 4 tokens: 10 in all
        b"a.jpg\n1\n1 2 -3 4 0.5\n",
        b"a.jpg\n1\n1 2 3 -0.0 0.5\n",
    ]
    paths = [_write_raw(str(tmp_path), f"s{k}.txt", b) for k, b in enumerate(bodies)]
    for p in paths:
        got, want = _outcome(lambda: _batch([p])[0]), _outcome(lambda: we.read_prediction(p))
        assert _same(got, want), (open(p, "rb").read(), got, want)
    good = [p for p in paths if _outcome(lambda: we.read_prediction(p))[0] == "ok"]
    _check_each_and_batch(good)


def _random_file(rng):
    """Mostly valid detector-like files; about one in four has one defect somewhere."""
    n = int(rng.integers(0, 40))
    rows = np.concatenate([rng.uniform(0, 1000, (n, 2)), rng.uniform(1, 200, (n, 2)), rng.random((n, 1))], 1)
    fmt = FORMATS[int(rng.integers(len(FORMATS)))]
    seps = [" ", " ", " ", "  ", "\t", " \t"]
    lines = [seps[int(rng.integers(len(seps)))].join(fmt(float(v)) for v in r) for r in rows]
    count = str(n)
    if rng.random() < 0.25 and n:
        kind = int(rng.integers(8))
        i = int(rng.integers(n))
        toks = lines[i].split()
        if kind == 0:
            lines[i] = " ".join(toks[:4])
        elif kind == 1:
            lines[i] += " 7"
        elif kind == 2:
            toks[int(rng.integers(5))] = ["nan", "x", "1.2.3", "--1", "1e999", "-", ""][int(rng.integers(7))]
            lines[i] = " ".join(toks)
        elif kind == 3:
            toks[2 + int(rng.integers(2))] = "-" + toks[2]
            lines[i] = " ".join(toks)
        elif kind == 4:
            count = str(n + int(rng.choice([-1, 1])))
        elif kind == 5:
            lines.insert(i, "")
        elif kind == 6:
            count = ["x", f"{n}.0", f"+{n}", f" {n} "][int(rng.integers(4))]
        else:
            lines[i] = lines[i] + " "
    text = "img.jpg\n" + count + "\n" + "\n".join(lines) + ("\n" if rng.random() < 0.9 else "")
    return text.encode()


@pytest.mark.parametrize("chunk", [300, 4096, 1 << 18])
def test_random_files_alone_and_in_groups(tmp_path, monkeypatch, chunk):
    """Groups of many files (several per chunk, some defective): each file alone and the whole sequence read
    as the plain reader reads them, the first defective file's error included."""
    monkeypatch.setattr(reader, "CHUNK_BYTES", chunk)
    rng = np.random.default_rng(chunk)
    paths = [_write_raw(str(tmp_path), f"r{k:03d}.txt", _random_file(rng)) for k in range(300)]
    _check_each_and_batch(paths)
    good = [p for p in paths if _outcome(lambda: we.read_prediction(p))[0] == "ok"]
    assert 150 < len(good) < 290
    _check_each_and_batch(good)
    # defective files late in the sequence: the first one's error is raised, whatever follows
    _check_each_and_batch(good + [p for p in paths if p not in good])


# the malformed files of the plain reader's test, read here in a group between good files
_MALFORMED = next(m for m in test_io_cli.test_malformed_prediction_names_file_and_line.pytestmark
                  if m.name == "parametrize").args[1]


@pytest.mark.parametrize("body, line, msg", _MALFORMED)
def test_malformed_file_messages(tmp_path, body, line, msg):
    ok = _write_raw(str(tmp_path), "ok.txt", b"a.jpg\n1\n1 2 3 4 0.5\n")
    p = _write_raw(str(tmp_path), "a.txt", body.encode())
    with pytest.raises(we.WiderFormatError) as e:
        _batch([ok, p, ok])
    assert str(e.value).startswith(f"{p}:{line}: ") and msg in str(e.value)


def test_read_file_is_none_where_isfile_is_false(tmp_path):
    assert reader.read_file(str(tmp_path / "missing.txt")) is None
    assert reader.read_file(str(tmp_path / "missing" / "a.txt")) is None
    (tmp_path / "dir.txt").mkdir()
    assert reader.read_file(str(tmp_path / "dir.txt")) is None
    f = tmp_path / "file"
    f.write_bytes(b"x")
    assert reader.read_file(str(f / "a.txt")) is None                    # a file where a folder should be
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.txt")
        assert reader.read_file(str(tmp_path / "fifo.txt")) is None       # and does not wait for a writer
    big = tmp_path / "big.txt"
    big.write_bytes(os.urandom(200000))
    assert reader.read_file(str(big)) == big.read_bytes()


def test_detector_formats_take_the_vectorised_path(tmp_path, monkeypatch):
    """Integers, fixed decimals (%.1f to %.6f), NumPy float32 and Python float text, scientific notation,
    trailing spaces, CRLF line ends: parsed without the per-file plain parser (which is only the fallback)."""
    rng = np.random.default_rng(5)
    rows = np.concatenate([rng.uniform(-50, 1500, (300, 2)), rng.uniform(0, 400, (300, 2)), rng.random((300, 1))], 1)
    formats = [lambda v: f"{v:.1f}", lambda v: f"{v:.3f}", lambda v: f"{v:.6f}", lambda v: f"{int(v)}",
               lambda v: f"{np.float32(v)}", lambda v: repr(v), lambda v: f"{v:e}"]
    paths = []
    for k, fmt in enumerate(formats):
        text = "a.jpg\n300\n" + "".join(" ".join(fmt(float(v)) for v in r) + " \n" for r in rows)
        paths.append(_write_raw(str(tmp_path), f"d{k}.txt", text.encode()))
    paths.append(_write_raw(str(tmp_path), "crlf.txt", text.replace("\n", "\r\n").encode()))
    want = _plain_batch(paths)

    def no_fallback(path, data):
        raise AssertionError(f"{path} went through the plain parser")

    monkeypatch.setattr(reader, "_plain", no_fallback)
    got = _batch(paths)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_popcount_without_numpy_2(tmp_path, monkeypatch):
    """The SWAR popcount used with NumPy < 2.0 counts bits exactly; the reader gives the same with it."""
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.integers(0, 2 ** 63, 10000, dtype=np.uint64) * np.uint64(2) + np.uint64(1),
                        np.array([0, 2 ** 64 - 1, 2 ** 63, 1], dtype=np.uint64)])
    assert reader._swar_popcount(x).tolist() == [bin(int(v)).count("1") for v in x]
    paths = [_write_raw(str(tmp_path), f"r{k}.txt", _random_file(rng)) for k in range(60)]
    paths = [p for p in paths if _outcome(lambda: we.read_prediction(p))[0] == "ok"]
    want = _batch(paths)
    monkeypatch.setattr(reader, "_popcount", reader._swar_popcount)
    got = _batch(paths)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
