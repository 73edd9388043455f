import os, sys
MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [MODEL_DIR, os.path.join(MODEL_DIR, "..", "..", "ci")]
from zoo_fixtures import *  # noqa: E402,F401,F403  (shared_dir, mini_data, free_port, run_script)

# S3FD fixtures: the parity material of ../shared/weights/s3fd_reference (weights regenerated into a session
# folder with its make_weights.py, never stored), converted checkpoints, the networks, a tiny list-file data set.
import subprocess  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# the 2 shared cores: the parity tolerances of the fixture README were measured with 1 and 2 threads
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
PHOTOS = {"astronaut": "astronaut.png", "grace_hopper": "grace_hopper.jpg", "obama": "obama.jpg"}


@pytest.fixture(scope="session")
def ref_dir(shared_dir):
    d = os.path.join(shared_dir, "weights", "s3fd_reference")
    if not os.path.isfile(os.path.join(d, "make_weights.py")):
        pytest.fail(f"the S3FD parity material is not at {d} (set ZOO_SHARED)", pytrace=False)
    return d


@pytest.fixture(scope="session")
def ref(ref_dir):
    """``ref("yxlijun/astronaut")`` -> the fixture's npz."""
    def load(name):
        return np.load(os.path.join(ref_dir, name + ".npz"))
    return load


@pytest.fixture(scope="session")
def photo(shared_dir):
    """``photo("astronaut")`` -> the BGR image of the shared photo."""
    from src.image_io import read_image

    def load(name):
        return read_image(os.path.join(shared_dir, "data", "real_photos", PHOTOS[name]), "bgr")
    return load


@pytest.fixture(scope="session")
def released(ref_dir, tmp_path_factory):
    """The seed-0 weights in both released formats: {"yxlijun": path, "face_alignment": path}."""
    d = tmp_path_factory.mktemp("s3fd_weights")
    out = {}
    for fmt in ("yxlijun", "face_alignment"):
        path = str(d / f"s3fd_seed0_{fmt}.pth")
        r = subprocess.run([sys.executable, os.path.join(ref_dir, "make_weights.py"), "--seed", "0", "--format", fmt,
                            "--out", path], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"make_weights.py --format {fmt} failed:\n{r.stderr[-2000:]}", pytrace=False)
        out[fmt] = path
    return out


@pytest.fixture(scope="session")
def checkpoints(released, tmp_path_factory):
    """Checkpoints of this folder converted from both formats: {"yxlijun": path, "sfd": path}."""
    from tools.convert_official import convert_file
    d = tmp_path_factory.mktemp("s3fd_ckpt")
    out = {}
    for fmt, arch in (("yxlijun", "yxlijun"), ("face_alignment", "sfd")):
        out[arch] = str(d / f"s3fd_{arch}.pth")
        assert convert_file(released[fmt], out[arch]) == arch
    return out


@pytest.fixture(scope="session")
def predictors(checkpoints):
    """``Predictor`` of each converted checkpoint: {"yxlijun": ..., "sfd": ...}."""
    from src.inference import Predictor
    return {arch: Predictor.from_checkpoint(path) for arch, path in checkpoints.items()}


@pytest.fixture(scope="session")
def tiny_lists(mini_data, tmp_path_factory):
    """face_train.txt (4 mini train images) and face_val.txt (2 mini val images) in the reference's format."""
    import prepare_wider_data as prep
    d = tmp_path_factory.mktemp("s3fd_lists")
    for split, n in (("train", 4), ("val", 2)):
        lines = [ln for ln in prep.list_lines(mini_data, split) if ln.split()[1] != "0"]
        (d / f"face_{split}.txt").write_text("\n".join(lines[:n]) + "\n")
    return str(d)


def tiny_wider(mini_data, root, n=2):
    """DATA with WIDER_val/images (the mini set's) and a ground truth of its first ``n`` val images."""
    import widerface_eval as we
    gt = we.load_ground_truth(os.path.join(mini_data, "ground_truth"))
    os.makedirs(os.path.join(root, "WIDER_val"))
    os.symlink(os.path.join(mini_data, "WIDER_val", "images"), os.path.join(root, "WIDER_val", "images"))
    we.write_ground_truth(os.path.join(root, "ground_truth"), gt.events[:1], [gt.files[0][:n]], [gt.boxes[0][:n]],
                          {s: [gt.keep[s][0][:n]] for s in ("easy", "medium", "hard")})
    return [f"{gt.events[0]}/{f}.jpg" for f in gt.files[0][:n]]
