"""The smoke harness's model registry: one entry per model folder of the zoo.

Each model is run in its own subprocess, with its folder as working directory, through the
model's own ``test/train_smoke.sh``; it writes ``smoke_result.json`` into ``--output_path``.
"""

MODELS = [
    # name, folder (relative to the repository root), framework, devices it supports
    {"name": "FaceBoxes", "folder": "tensorflow/FaceBoxes", "framework": "tensorflow",
     "devices": ["cpu", "gpu", "npu"]},
    {"name": "S3FD", "folder": "pytorch/S3FD", "framework": "pytorch",
     "devices": ["cpu", "gpu", "npu"]},
    {"name": "CenterFace", "folder": "pytorch/CenterFace", "framework": "pytorch",
     "devices": ["cpu", "gpu", "npu"]},
    {"name": "RetinaFace", "folder": "mindspore/RetinaFace", "framework": "mindspore",
     "devices": ["cpu", "gpu", "npu"]},
    {"name": "FasterRCNN", "folder": "mindspore/FasterRCNN", "framework": "mindspore",
     "devices": ["cpu", "gpu", "npu"]},
]

SMOKE_SCRIPT = "test/train_smoke.sh"
