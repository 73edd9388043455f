"""The ground-truth cache: same ground truth as the .mat files, keyed by their content, never stale."""

import os
import subprocess
import sys

import numpy as np
import pytest

import widerface_eval as we
from widerface_eval import gtcache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("WIDERFACE_EVAL_CACHE", str(d))
    return d


def _assert_same_gt(a, b):
    assert a.events == b.events and a.files == b.files
    for ea, eb in zip(a.boxes, b.boxes):
        for x, y in zip(ea, eb):
            assert x.dtype == y.dtype == np.float64 and x.shape == y.shape and np.array_equal(x, y)
    for s in we.SETTINGS:
        for ea, eb in zip(a.keep[s], b.keep[s]):
            for x, y in zip(ea, eb):
                assert x.dtype == y.dtype == np.int64 and np.array_equal(x, y)


def _write_gt(d, first_box):
    we.write_ground_truth(
        str(d), ["0--Parade", "1--Handshaking"], [["0_a", "0_b"], ["1_c"]],
        [[np.array([first_box, [100, 100, 10, 10]]), np.zeros((0, 4))], [np.array([[5, 6, 7, 8]])]],
        {"easy": [[np.array([1]), np.array([], int)], [np.array([1])]],
         "medium": [[np.array([1]), np.array([], int)], [np.array([1])]],
         "hard": [[np.array([1, 2]), np.array([], int)], [np.array([1])]]})
    return str(d)


def test_cached_equals_parsed(tmp_path, cache):
    gt_dir = _write_gt(tmp_path / "gt", [0, 0, 10, 10])
    parsed = we.load_ground_truth(gt_dir, cache=False)
    assert not cache.exists()
    first = we.load_ground_truth(gt_dir)              # miss: parsed, then stored
    assert len(os.listdir(cache)) == 1
    second = we.load_ground_truth(gt_dir)             # hit
    _assert_same_gt(parsed, first)
    _assert_same_gt(parsed, second)
    assert second.gt_dir == gt_dir and second.boxes[0][1].shape == (0, 4) and second.keep["easy"][0][1].size == 0
    assert second.boxes[0][0].flags.writeable and second.keep["hard"][0][0].flags.writeable


def test_real_gt_cached_equals_parsed(real_gt, cache):
    from conftest import REAL_GT
    we.load_ground_truth(REAL_GT)
    _assert_same_gt(we.load_ground_truth(REAL_GT, cache=False), we.load_ground_truth(REAL_GT))


def test_changed_mat_is_never_served_from_the_cache(tmp_path, cache):
    gt_dir = _write_gt(tmp_path / "gt", [0, 0, 10, 10])
    assert we.load_ground_truth(gt_dir).boxes[0][0][0].tolist() == [0, 0, 10, 10]
    # same names, same sizes, same modification time: only the content differs
    st = os.stat(os.path.join(gt_dir, "wider_face_val.mat"))
    _write_gt(tmp_path / "gt", [0, 0, 10, 11])
    for fn in we.GT_FILES.values():
        os.utime(os.path.join(gt_dir, fn), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert we.load_ground_truth(gt_dir).boxes[0][0][0].tolist() == [0, 0, 10, 11]
    assert len(os.listdir(cache)) == 2
    # one keep list changed (hard only): the key covers every file
    d2 = _write_gt(tmp_path / "gt2", [0, 0, 10, 11])
    we.write_ground_truth(d2, ["0--Parade", "1--Handshaking"], [["0_a", "0_b"], ["1_c"]],
                          [[np.array([[0, 0, 10, 11], [100, 100, 10, 10]]), np.zeros((0, 4))],
                           [np.array([[5, 6, 7, 8]])]],
                          {"easy": [[np.array([1]), np.array([], int)], [np.array([1])]],
                           "medium": [[np.array([1]), np.array([], int)], [np.array([1])]],
                           "hard": [[np.array([2]), np.array([], int)], [np.array([1])]]})
    assert we.load_ground_truth(d2).keep["hard"][0][0].tolist() == [2]


def test_damaged_entry_is_reparsed_and_rewritten(tmp_path, cache):
    gt_dir = _write_gt(tmp_path / "gt", [0, 0, 10, 10])
    we.load_ground_truth(gt_dir)
    (entry,) = os.listdir(cache)
    for junk in (b"", b"garbage", gtcache.FORMAT + b'{"key": "other", "arrays": []}\n',
                 open(cache / entry, "rb").read()[:-100]):
        (cache / entry).write_bytes(junk)
        _assert_same_gt(we.load_ground_truth(gt_dir, cache=False), we.load_ground_truth(gt_dir))
    assert gtcache.load(entry[3:-4], gt_dir) is not None        # rewritten whole


def test_unwritable_or_disabled_cache(tmp_path, monkeypatch):
    gt_dir = _write_gt(tmp_path / "gt", [0, 0, 10, 10])
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WIDERFACE_EVAL_CACHE", str(blocker / "cache"))      # cannot be created
    _assert_same_gt(we.load_ground_truth(gt_dir, cache=False), we.load_ground_truth(gt_dir))
    for off in ("off", "0", ""):
        monkeypatch.setenv("WIDERFACE_EVAL_CACHE", off)
        assert gtcache.cache_dir() is None
        we.load_ground_truth(gt_dir)
    monkeypatch.delenv("WIDERFACE_EVAL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert gtcache.cache_dir() == str(tmp_path / "xdg" / "widerface_eval")


def test_cache_hit_does_not_import_scipy(tmp_path, cache):
    gt_dir = _write_gt(tmp_path / "gt", [0, 0, 10, 10])
    code = (f"import sys, widerface_eval as we; g = we.load_ground_truth({gt_dir!r}); "
            "print(len(g.events), 'scipy.io' in sys.modules)")
    run = lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert run().split() == ["2", "True"]       # miss: parsed with scipy.io
    assert run().split() == ["2", "False"]      # hit
