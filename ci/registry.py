"""The zoo's model registry: one entry per model folder, read by the smoke harness (``ci/smoke.py``), the benchmark
driver (``ci/bench/run_benchmarks.py``) and the contract tests (``ci/tests/test_contract.py``).

A model is *implemented* when its folder exists; until then every tool reports it as ``not implemented``.

Keys of an entry:

``name``, ``folder`` (relative to the repository root), ``framework``, ``devices`` (the ``--device`` values its
scripts support).

``anchors``: whether the model is anchor-based (``model_info.json`` then counts its priors / anchors; anchor-free
models write ``null``).  ``landmarks``: the number of landmarks in each ``demo.py`` JSON item (0: the items have no
``landmarks`` key).  ``labels``: whether each ``demo.py`` item carries a class ``label`` (multi-class configurations;
the contract tests' checkpoint below is what counts: FasterRCNN's is the one-class face configuration).

``contract``: what the contract tests need to run the model cheaply here:

* ``checkpoint``: how to obtain a checkpoint that this folder's ``demo.py`` accepts, without training: ``commands``
  are Python scripts with their arguments, run one after the other by the repository's interpreter with the model
  folder as working directory; ``path`` is the checkpoint they leave behind.  ``{shared}`` is the shared reference
  material (``$ZOO_SHARED``, else ``../shared``), ``{tmp}`` a scratch folder of the test session.  Models with
  released weights convert them with their ``tools/convert_official.py``; the others convert the deterministic
  weights that the generator of ``{shared}/weights/<model>_reference`` writes in the reference's own format.
* ``demo``: the real photo (``{shared}/data/real_photos/<photo>``), the ``--score_threshold`` passed to ``demo.py``,
  and what its detections are compared with: ``pseudo_gt`` (released weights: the consensus faces of
  ``pseudo_gt.json``) or ``reference_dets`` (generated weights: an ``.npz`` whose ``dets`` rows
  ``[x1, y1, x2, y2, score, ...]`` are what the reference code detects on that photo with those weights, in
  original-image pixels).
* ``smoke_args``: the cheapest ``test/train_smoke.sh`` options that still run the whole path (the contract tests
  run each smoke script once, with these).
"""

_DEVICES = ["cpu", "gpu", "npu"]

MODELS = [
    {"name": "FaceBoxes", "folder": "tensorflow/FaceBoxes", "framework": "tensorflow", "devices": _DEVICES,
     "anchors": True, "landmarks": 0, "labels": False,
     "contract": {
         "checkpoint": {
             "commands": [["tools/convert_official.py", "--src", "{shared}/weights/faceboxes/FaceBoxesProd.pth",
                           "--dst", "{tmp}/faceboxes_prod.ckpt"]],
             "path": "{tmp}/faceboxes_prod.ckpt"},
         "demo": {"photo": "grace_hopper.jpg", "score_threshold": 0.3, "expect": "pseudo_gt"},
         "smoke_args": ["--steps=2"]}},
    {"name": "S3FD", "folder": "pytorch/S3FD", "framework": "pytorch", "devices": _DEVICES,
     "anchors": True, "landmarks": 0, "labels": False,
     "contract": {
         "checkpoint": {
             "commands": [["{shared}/weights/s3fd_reference/make_weights.py", "--seed", "0", "--format", "yxlijun",
                           "--out", "{tmp}/s3fd_seed0_yxlijun.pth"],
                          ["tools/convert_official.py", "--src", "{tmp}/s3fd_seed0_yxlijun.pth",
                           "--dst", "{tmp}/s3fd_seed0.pth"]],
             "path": "{tmp}/s3fd_seed0.pth"},
         "demo": {"photo": "astronaut.png", "score_threshold": 0.6,
                  "expect": "reference_dets",
                  "reference_dets": "{shared}/weights/s3fd_reference/yxlijun/astronaut_demo.npz"},
         # VGG16 at 64x64 (342 priors on six feature maps of 16..1 cells): the whole path, a step about a quarter of
         # 160x160's (0.21 s vs 0.93 s, the smoke default) and the evaluation of the 32 mini val images in 1.3 s
         "smoke_args": ["--steps=2", "--input_size=64"]}},
    {"name": "CenterFace", "folder": "pytorch/CenterFace", "framework": "pytorch", "devices": _DEVICES,
     "anchors": False, "landmarks": 5, "labels": False,
     "contract": {
         "checkpoint": {
             "commands": [["tools/convert_official.py", "--src", "{shared}/weights/centerface/centerface.onnx",
                           "--dst", "{tmp}/centerface_official.pth"]],
             "path": "{tmp}/centerface_official.pth"},
         "demo": {"photo": "grace_hopper.jpg", "score_threshold": 0.3, "expect": "pseudo_gt"},
         "smoke_args": ["--steps=2"]}},
    {"name": "RetinaFace", "folder": "mindspore/RetinaFace", "framework": "mindspore", "devices": _DEVICES,
     "anchors": True, "landmarks": 5, "labels": False,
     "contract": {
         "checkpoint": {
             "commands": [["tools/convert_official.py",
                           "--src", "{shared}/weights/retinaface_mnet025/Final_Retinaface.pth",
                           "--dst", "{tmp}/retinaface_mnet025.ckpt"]],
             "path": "{tmp}/retinaface_mnet025.ckpt"},
         "demo": {"photo": "grace_hopper.jpg", "score_threshold": 0.3, "expect": "pseudo_gt"},
         # MobileNet0.25: the whole smoke path at a fraction of the ResNet50's compile and step time
         "smoke_args": ["--steps=2", "--backbone=mobilenet0.25"]}},
    {"name": "FasterRCNN", "folder": "mindspore/FasterRCNN", "framework": "mindspore", "devices": _DEVICES,
     "anchors": True, "landmarks": 0, "labels": False,
     "contract": {
         "checkpoint": {
             # the 2-class (background + face) head: the zoo's WIDER FACE configuration
             "commands": [["{shared}/weights/fasterrcnn_reference/make_weights.py", "--seed", "0",
                           "--num_classes", "2", "--out", "{tmp}/frcnn_seed0_2class.ckpt"],
                          ["tools/convert_official.py", "--src", "{tmp}/frcnn_seed0_2class.ckpt",
                           "--dst", "{tmp}/fasterrcnn_face_seed0.ckpt"]],
             "path": "{tmp}/fasterrcnn_face_seed0.ckpt"},
         "demo": {"photo": "grace_hopper.jpg", "score_threshold": 0.9,
                  "expect": "reference_dets",
                  "reference_dets": "{shared}/weights/fasterrcnn_reference/reference_outputs_2class/grace_hopper.npz"},
         # 2 steps at the script's 128 x 192 canvas, then eval.py on the first 4 mini val images (the untrained
         # network's evaluation is most of the run's time)
         "smoke_args": ["--steps=2", "--eval_max_images=4"]}},
]

SMOKE_SCRIPT = "test/train_smoke.sh"
BENCHMARK_SCRIPT = "tools/benchmark.py"
OVERFIT_SCRIPT = "test/train_overfit.sh"

# the entry scripts every model folder has (CONTRIBUTING.md §1, §5)
TEST_SCRIPTS = ["train_full_1p.sh", "train_full_8p.sh", "train_performance_1p.sh", "train_performance_8p.sh",
                "train_smoke.sh", "train_overfit.sh"]


def select(names, models=None):
    """The entries of ``models`` (default: the registry) named in the comma-separated ``names`` (all when empty), in
    registry order; ``KeyError`` names the unknown ones."""
    models = MODELS if models is None else models
    if not names:
        return list(models)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in {m["name"] for m in models}]
    if unknown:
        raise KeyError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(m['name'] for m in models)}")
    return [m for m in models if m["name"] in wanted]


def expand(value, **paths):
    """``value`` (a string or a list of strings) with ``{shared}``, ``{tmp}``... replaced."""
    if isinstance(value, (list, tuple)):
        return [expand(v, **paths) for v in value]
    return value.format(**paths)
