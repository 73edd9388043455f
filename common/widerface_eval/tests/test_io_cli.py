import os
import subprocess
import sys

import numpy as np
import pytest

import widerface_eval as we


def _raw(pred_dir, event, stem, text):
    os.makedirs(os.path.join(pred_dir, event), exist_ok=True)
    p = os.path.join(pred_dir, event, stem + ".txt")
    with open(p, "w") as f:
        f.write(text)
    return p


def test_write_read_round_trip(tmp_path):
    dets = np.array([[10, 20, 30, 60, 0.5], [0, 0, 5.5, 4.25, 0.9], [1, 1, 2, 2, 0.5]])
    p = we.write_prediction(str(tmp_path), "12--Group/12_Group_Group_12_1.jpg", dets)
    assert p == os.path.join(str(tmp_path), "12--Group", "12_Group_Group_12_1.txt")
    lines = open(p).read().splitlines()
    assert lines[0] == "12_Group_Group_12_1.jpg" and lines[1] == "3"
    got = we.read_prediction(p)
    # sorted by score, descending and stable; x y w h
    np.testing.assert_allclose(got, [[0, 0, 5.5, 4.25, 0.9], [10, 20, 20, 40, 0.5], [1, 1, 1, 1, 0.5]])
    assert not os.path.exists(p + ".tmp")


def test_write_empty_prediction(tmp_path):
    p = we.write_prediction(str(tmp_path), "0--Parade/x.jpg", np.zeros((0, 5)))
    assert open(p).read() == "x.jpg\n0\n"
    assert we.read_prediction(p).shape == (0, 5)


@pytest.mark.parametrize("body, line, msg", [
    ("a.jpg\n2\n1 2 3 4 0.5\n1 2 3 0.5\n", 4, "expected 5 columns"),
    ("a.jpg\n1\n1 2 nan 4 0.5\n", 3, "NaN"),
    ("a.jpg\n1\n1 2 3 4 x\n", 3, "'x' is not a number"),
    ("a.jpg\n1\n1 2 -3 4 0.5\n", 3, "negative width or height"),
    ("a.jpg\n3\n1 2 3 4 0.5\n", 2, "says 3 detections but 1"),
    ("a.jpg\nfoo\n", 2, "count 'foo' is not a number"),
    ("a.jpg\n", 2, "missing the detection count"),
    ("", 1, "empty prediction file"),
])
def test_malformed_prediction_names_file_and_line(tmp_path, body, line, msg):
    p = _raw(str(tmp_path), "0--Parade", "a", body)
    with pytest.raises(we.WiderFormatError) as e:
        we.read_prediction(p)
    assert str(e.value).startswith(f"{p}:{line}: ")
    assert msg in str(e.value)


def test_split_file_with_zero_face_quirk(tmp_path):
    txt = ("0--Parade/0_a.jpg\n2\n1 2 3 4 2 0 0 0 1 0 \n10 20 30 40 0 0 0 1 0 0 \n"
           "0--Parade/0_b.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n"
           "1--Handshaking/1_c.jpg\n1\n5 6 7 8 1 1 0 0 2 1 \n")
    p = tmp_path / "split.txt"
    p.write_text(txt)
    e = we.read_split_file(str(p))
    assert [x.name for x in e] == ["0--Parade/0_a.jpg", "0--Parade/0_b.jpg", "1--Handshaking/1_c.jpg"]
    assert e[0].boxes.tolist() == [[1, 2, 3, 4], [10, 20, 30, 40]]
    assert e[0].attrs[:, 3].tolist() == [0, 1]        # the 'invalid' column
    assert e[1].boxes.shape == (0, 4) and e[2].event == "1--Handshaking"
    out = tmp_path / "again.txt"
    we.write_split_file(str(out), e)
    assert out.read_text() == txt


@pytest.mark.parametrize("txt, line, msg", [
    ("0--Parade/a.jpg\n1\n1 2 3 4 0 0 0 0\n", 3, "expected 10 columns"),
    ("0--Parade/a.jpg\nx\n", 2, "face count 'x'"),
    ("0--Parade/a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", 3, "file ends inside"),
    ("0--Parade/a.jpg\n1\n1 2 -3 4 0 0 0 0 0 0\n", 3, "negative width"),
    ("a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n", 1, "no event folder"),
])
def test_split_file_errors(tmp_path, txt, line, msg):
    p = tmp_path / "split.txt"
    p.write_text(txt)
    with pytest.raises(we.WiderFormatError) as e:
        we.read_split_file(str(p))
    assert str(e.value).startswith(f"{p}:{line}: ") and msg in str(e.value)


def test_ground_truth_folder_errors(tmp_path, tiny_gt):
    with pytest.raises(we.WiderFormatError, match="does not exist"):
        we.load_ground_truth(str(tmp_path / "nope"))
    os.remove(os.path.join(tiny_gt, "wider_medium_val.mat"))
    with pytest.raises(we.WiderFormatError, match="lacks wider_medium_val.mat"):
        we.load_ground_truth(tiny_gt)


def test_prediction_folder_errors(tmp_path, tiny_gt):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(we.WiderFormatError, match="holds no prediction file"):
        we.evaluate(str(empty), tiny_gt)
    bad = str(tmp_path / "bad")
    _raw(bad, "0--Parade", "0_a", "0_a.jpg\n0\n")
    _raw(bad, "99--Nope", "x", "x.jpg\n0\n")
    with pytest.raises(we.WiderFormatError, match="'99--Nope' is not an event"):
        we.evaluate(bad, tiny_gt)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "widerface_eval", "--quiet", *args], capture_output=True, text=True)


def test_cli_ok_json_and_plot(tmp_path, tiny_gt):
    pred = str(tmp_path / "pred")
    we.write_prediction(pred, "0--Parade/0_a.jpg", np.array([[0, 0, 10, 10, 0.9]]))
    we.write_prediction(pred, "0--Parade/0_b.jpg", np.array([[0, 0, 20, 20, 0.8]]))
    js, png = str(tmp_path / "r.json"), str(tmp_path / "pr.png")
    r = _cli("--pred", pred, "--gt", tiny_gt, "--json", js, "--plot", png)
    assert r.returncode == 0, r.stderr
    assert "Easy   Val AP: 1.0000" in r.stdout
    import json
    d = json.load(open(js))
    assert d["aps"]["easy"] == pytest.approx(1.0) and len(d["curves"]["hard"]["precision"]) == 1000
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_errors_are_one_line(tmp_path, tiny_gt):
    pred = str(tmp_path / "pred")
    _raw(pred, "0--Parade", "0_a", "0_a.jpg\n1\n1 2 3\n")
    r = _cli("--pred", pred, "--gt", tiny_gt)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip() == f"widerface_eval: error: {pred}/0--Parade/0_a.txt:3: expected 5 columns " \
                               "'x y w h score', found 3"
    r = _cli("--pred", str(tmp_path / "missing"), "--gt", tiny_gt)
    assert r.returncode == 2 and "prediction folder does not exist" in r.stderr and "Traceback" not in r.stderr


def test_cli_missing_warning_and_strict(tmp_path, tiny_gt):
    pred = str(tmp_path / "pred")
    we.write_prediction(pred, "0--Parade/0_a.jpg", np.array([[0, 0, 10, 10, 0.9]]))
    r = _cli("--pred", pred, "--gt", tiny_gt)
    assert r.returncode == 0
    assert r.stderr.count("1 of 2 images have no prediction file") == 1
    r = _cli("--pred", pred, "--gt", tiny_gt, "--strict")
    assert r.returncode == 2 and "prediction file missing" in r.stderr


def test_prediction_folder_replaces_only_when_complete(tmp_path):
    pred = str(tmp_path / "predictions")
    with we.PredictionFolder(pred) as f:
        f.write("0--Parade/a.jpg", np.array([[0, 0, 1, 1, 0.5]]))
        f.write("0--Parade/b.jpg", np.zeros((0, 5)))
    assert sorted(os.listdir(os.path.join(pred, "0--Parade"))) == ["a.txt", "b.txt"] and f.count == 2
    # a second, smaller run: b.txt of the first run must not survive
    with we.PredictionFolder(pred) as f:
        f.write("0--Parade/a.jpg", np.array([[0, 0, 2, 2, 0.9]]))
    assert os.listdir(os.path.join(pred, "0--Parade")) == ["a.txt"]
    assert not os.path.exists(pred + ".partial")
    # an interrupted run keeps the last complete folder
    with pytest.raises(RuntimeError):
        with we.PredictionFolder(pred) as f:
            f.write("1--Handshaking/c.jpg", np.zeros((0, 5)))
            raise RuntimeError("interrupted")
    assert os.listdir(pred) == ["0--Parade"]
    assert os.path.isfile(os.path.join(pred + ".partial", "1--Handshaking", "c.txt"))


def test_no_matching_prediction_file_is_an_error(tmp_path, tiny_gt):
    """Predictions of another image set (e.g. the mini set's against the real val ground truth)."""
    pred = str(tmp_path / "pred")
    we.write_prediction(pred, "0--Parade/0_other.jpg", np.array([[0, 0, 10, 10, 0.9]]))
    with pytest.raises(we.NoMatchingPredictionsError) as e:
        we.evaluate(pred, tiny_gt)
    assert str(e.value) == (f"{pred}: no prediction file matches an image of the ground truth ({tiny_gt}): "
                            f"expected e.g. {os.path.join('0--Parade', '0_a.txt')} (one of 2 images), found e.g. "
                            f"{os.path.join('0--Parade', '0_other.txt')} (one of 1 files); the predictions are of "
                            "another image set")
    for strict in ([], ["--strict"]):
        r = _cli("--pred", pred, "--gt", tiny_gt, *strict)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr == f"widerface_eval: error: {e.value}\n"


def test_missing_files_warning_is_one_plain_line(tmp_path, tiny_gt):
    """From the CLI and from a program calling evaluate(): one line, no UserWarning header or source line."""
    pred = str(tmp_path / "pred")
    we.write_prediction(pred, "0--Parade/0_a.jpg", np.array([[0, 0, 10, 10, 0.9]]))
    line = (f"widerface_eval: warning: 1 of 2 images have no prediction file (first: "
            f"{os.path.join(pred, '0--Parade', '0_b.txt')}); they count as images without detections\n")
    r = _cli("--pred", pred, "--gt", tiny_gt)
    assert r.returncode == 0 and r.stderr == line
    code = f"import widerface_eval as we; print(we.evaluate({pred!r}, {tiny_gt!r}).num_missing)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "1\n" and r.stderr == line


def test_cli_workers_option(tmp_path, tiny_gt):
    pred = str(tmp_path / "pred")
    we.write_prediction(pred, "0--Parade/0_a.jpg", np.array([[0, 0, 10, 10, 0.9]]))
    we.write_prediction(pred, "0--Parade/0_b.jpg", np.array([[0, 0, 20, 20, 0.8]]))
    for w in ("1", "3"):
        r = _cli("--pred", pred, "--gt", tiny_gt, "--workers", w)
        assert r.returncode == 0 and "Easy   Val AP: 1.0000" in r.stdout
    r = _cli("--pred", pred, "--gt", tiny_gt, "--workers", "-1")
    assert r.returncode == 2 and r.stderr == "widerface_eval: --workers must be >= 0, got -1\n"
